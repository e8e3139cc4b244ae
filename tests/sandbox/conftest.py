"""Fixtures for the Web API tests: one in-thread sandbox per session, reached over real sockets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from d365conn.sandbox.launcher import Sandbox
from tests.sandbox.webapi_client import ROWS, Api


@pytest.fixture(scope="session")
def webapi_sandbox() -> Iterator[Sandbox]:
    with Sandbox(rows=ROWS, seed=7) as sandbox:
        yield sandbox


@pytest.fixture(scope="session")
def api(webapi_sandbox: Sandbox) -> Api:
    return Api(webapi_sandbox)
