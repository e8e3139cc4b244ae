"""Session fixtures of the differential suite: one sandbox, one reference engine, one driver connection.

The sandbox holds 2,500 accounts (seed 11). The reference is loaded through the test's own plain
``requests`` client; the driver connects with ``WSFetchSize=1000`` so that every scan of the larger
tables pages through ``@odata.nextLink`` (and a page size under the table size is the realistic case).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import d365conn
from d365conn.sandbox import Sandbox
from differential.odata_reader import ODataReader
from differential.reference import ReferenceEngine, load_dataverse

ROWS = 2500
SEED = 11
PAGE_SIZE = 1000


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(rows=ROWS, seed=SEED) as sb:
        yield sb


@pytest.fixture(scope="session")
def dataverse_reader(sandbox: Sandbox) -> Iterator[ODataReader]:
    reader = ODataReader(
        sandbox.service_url,
        token_uri=sandbox.token_uri,
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
        scope=sandbox.scope,
        page_size=PAGE_SIZE,
    )
    yield reader
    reader.close()


@pytest.fixture(scope="session")
def reference(dataverse_reader: ODataReader) -> Iterator[ReferenceEngine]:
    engine = ReferenceEngine(load_dataverse(dataverse_reader), case_insensitive=True, sqlserver_guids=True)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def driver(sandbox: Sandbox) -> Iterator[d365conn.Connection]:
    connection = d365conn.connect(sandbox.connection_string + f"WSFetchSize={PAGE_SIZE};")
    yield connection
    connection.close()
