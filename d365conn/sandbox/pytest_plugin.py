"""A pytest plugin (entry point `pytest11`) giving test suites a running sandbox.

Owns: the session-scoped `d365_sandbox` fixture: a small sandbox (500 accounts) in a background
thread, started once per test session on first use and stopped at its end. The sandbox is
imported inside the fixture so that merely having the plugin installed costs a test run nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from d365conn.sandbox.launcher import Sandbox


@pytest.fixture(scope="session")
def d365_sandbox() -> Iterator[Sandbox]:
    """A running sandbox: `.connection_string`, `.service_url`, `.token_uri`, `.client_id`,
    `.client_secret`, `.faults`."""
    from d365conn.sandbox.launcher import Sandbox

    with Sandbox(rows=500, seed=1) as sandbox:
        yield sandbox
