"""``Sandbox(flavour="business-central")`` and ``d365conn sandbox --flavour business-central``: the BC
flavour started the way users start the sandbox, in a thread and as a child process (the CLI)."""

from __future__ import annotations

import pytest

import d365conn
from d365conn.sandbox.launcher import Sandbox
from tests.bc.conftest import USA


def _count(connection_string: str) -> tuple[int, list[str]]:
    with d365conn.connect(connection_string + "Company={" + USA + "};") as connection:
        cursor = connection.cursor()
        cursor.execute("SELECT COUNT(*) FROM customers")
        count = int(cursor.fetchone()[0])  # type: ignore[index]
        cursor.execute("SELECT name FROM companies ORDER BY name")
        return count, [str(r[0]) for r in cursor.fetchall()]


def test_in_a_thread() -> None:
    with Sandbox(flavour="business-central", rows=30, seed=2) as sandbox:
        assert sandbox.service_url.endswith("/Production/api/v2.0/")
        assert _count(sandbox.connection_string) == (30, ["CRONUS International Ltd.", USA, "My Company"])
        assert sandbox.faults is not None and sandbox.tokens is not None


def test_as_a_child_process_through_the_cli() -> None:
    with Sandbox(flavour="business-central", rows=25, seed=2, process=True) as sandbox:
        assert sandbox.service_url.endswith("/api/v2.0/") and sandbox.origin.count("/") == 2
        assert _count(sandbox.connection_string)[0] == 25
        assert sandbox.client_secret not in repr(sandbox)


def test_an_unknown_flavour_is_refused() -> None:
    with pytest.raises(ValueError, match="flavour"):
        Sandbox(flavour="navision")
