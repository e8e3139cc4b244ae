"""Session fixtures of the CAP interop suite: the sandbox's data, a CAP server serving it, the reference.

The data is read out of a sandbox (2,500 accounts, seed 11) through the Web API, projected onto the
columns of ``project/db/schema.cds`` and written as CSV into a temporary copy of the CAP project;
``cds-serve`` loads it into SQLite at startup. The reference engine is then loaded by reading CAP back
with the same plain client the differential suite uses (so it holds exactly what CAP serves), with
CAP's semantics: binary string comparison (SQLite), NULLs lowest.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# The shared differential machinery lives in tests/differential (package `differential`).
TESTS = str(Path(__file__).resolve().parents[2])
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

from differential.odata_reader import ODataReader  # noqa: E402
from differential.reference import (  # noqa: E402
    DATAVERSE_TABLES,
    LoadedTable,
    ReferenceEngine,
    read_dataverse_table,
    read_plain_table,
)

import d365conn  # noqa: E402
from d365conn.sandbox import Sandbox  # noqa: E402

from .cap_server import CapServer, ensure_node_modules, model_columns, write_project  # noqa: E402

ROWS = 2500
SEED = 11


def project_rows(table: LoadedTable, columns: list[str]) -> list[tuple[Any, ...]]:
    index = [table.columns.index(c) for c in columns]
    return [tuple(row[i] for i in index) for row in table.rows]


@pytest.fixture(scope="session")
def cap_source() -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """entity -> (CAP columns, rows) as read from the sandbox's Web API."""
    model = model_columns()
    with Sandbox(rows=ROWS, seed=SEED) as sb:
        reader = ODataReader(
            sb.service_url,
            token_uri=sb.token_uri,
            client_id=sb.client_id,
            client_secret=sb.client_secret,
            scope=sb.scope,
            page_size=5000,
        )
        try:
            types = reader.property_types()
            source = {}
            for entity, elements in model.items():
                table = read_dataverse_table(reader, entity, DATAVERSE_TABLES[entity], types[entity])
                columns = [name for name, _ in elements]
                source[entity] = (columns, project_rows(table, columns))
        finally:
            reader.close()
    return source


@pytest.fixture(scope="session")
def cap_server(
    tmp_path_factory: pytest.TempPathFactory, cap_source: dict[str, tuple[list[str], list[tuple[Any, ...]]]]
) -> Iterator[CapServer]:
    ensure_node_modules()
    directory = write_project(tmp_path_factory.mktemp("cap"), cap_source)
    with CapServer(directory) as server:
        yield server


@pytest.fixture(scope="session")
def cap_reader(cap_server: CapServer) -> Iterator[ODataReader]:
    reader = ODataReader(cap_server.service_url, page_size=None, annotations=False)
    yield reader
    reader.close()


@pytest.fixture(scope="session")
def cap_tables(cap_reader: ODataReader) -> list[LoadedTable]:
    types = cap_reader.property_types()
    return [read_plain_table(cap_reader, entity, entity, types[entity]) for entity in model_columns()]


@pytest.fixture(scope="session")
def cap_reference(cap_tables: list[LoadedTable]) -> Iterator[ReferenceEngine]:
    engine = ReferenceEngine(cap_tables, case_insensitive=False)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def cap_driver(cap_server: CapServer) -> Iterator[d365conn.Connection]:
    connection = d365conn.connect(f"ServiceURL={cap_server.service_url};AuthenticationMethod=None")
    yield connection
    connection.close()
