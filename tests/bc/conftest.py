"""Fixtures of the Business Central suite: one BC sandbox per session, reached over real sockets.

The sandbox holds three companies (``CRONUS USA, Inc.`` with the data below, ``CRONUS
International Ltd.`` with a quarter of it, ``My Company`` empty); 300 customers and sales orders
and 20,500 general ledger entries in the first company, so that a full scan crosses Business
Central's 20,000-row server page.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

import d365conn
from d365conn.sandbox.bc import BCSandbox

ROWS = 300
LEDGER_ROWS = 20_500
SEED = 7
USA = "CRONUS USA, Inc."
INTERNATIONAL = "CRONUS International Ltd."


@pytest.fixture(scope="session")
def bc_sandbox() -> Iterator[BCSandbox]:
    with BCSandbox(rows=ROWS, ledger_rows=LEDGER_ROWS, seed=SEED) as sandbox:
        yield sandbox


@pytest.fixture(scope="session")
def usa_id(bc_sandbox: BCSandbox) -> str:
    return bc_sandbox.company_ids()[USA]


@pytest.fixture(scope="session")
def http(bc_sandbox: BCSandbox) -> Iterator[requests.Session]:
    """A plain HTTP session with a valid token: the test's own view of the service."""
    session = requests.Session()
    session.trust_env = False
    session.headers.update(
        {"Authorization": "Bearer " + bc_sandbox.access_token(), "Accept": "application/json"}
    )
    yield session
    session.close()


@pytest.fixture(scope="session")
def usa(bc_sandbox: BCSandbox) -> Iterator[d365conn.Connection]:
    """A read connection to the API v2.0 surface, in CRONUS USA (by name)."""
    connection = d365conn.connect(bc_sandbox.connection_string_for(bc_sandbox.service_url, Company=USA))
    yield connection
    connection.close()


@pytest.fixture
def fresh(bc_sandbox: BCSandbox) -> Iterator[d365conn.Connection]:
    """A connection of its own (for tests that switch company or write)."""
    connection = d365conn.connect(bc_sandbox.connection_string_for(bc_sandbox.service_url, Company=USA))
    yield connection
    connection.close()
