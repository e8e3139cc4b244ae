"""The ``d365conn`` command line, run as a user runs it: a subprocess."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest

from d365conn.sandbox import Sandbox


def run(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "D365CONN_CONNECTION_STRING"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "d365conn", *args],
        check=False,
        capture_output=True,
        text=True,
        input=stdin,
        env=full_env,
        timeout=300,
    )


@pytest.fixture(scope="module")
def sandbox_cs() -> str:
    with Sandbox(rows=300, seed=3, process=True) as sb:
        yield sb.connection_string  # type: ignore[misc]


def test_query_against_the_embedded_sandbox_prints_a_table() -> None:
    result = run(
        "query",
        "--sandbox",
        "--sandbox-rows",
        "200",
        "SELECT TOP 3 name, revenue FROM account ORDER BY revenue DESC",
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["name", "revenue"]
    assert lines[-1] == "(3 rows)"


def test_csv_and_jsonl_output(sandbox_cs: str) -> None:
    result = run(
        "query",
        "-c",
        sandbox_cs,
        "--format",
        "csv",
        "SELECT TOP 5 accountid, name FROM account ORDER BY name",
    )
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["accountid", "name"] and len(rows) == 6
    result = run(
        "query", "-c", sandbox_cs, "--format", "jsonl", "SELECT TOP 2 accountid, revenue FROM account"
    )
    assert result.returncode == 0, result.stderr
    objs = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(objs) == 2 and set(objs[0]) == {"accountid", "revenue"}


def test_sql_from_stdin_and_from_the_environment(sandbox_cs: str) -> None:
    result = run(
        "query",
        "--format",
        "csv",
        env={"D365CONN_CONNECTION_STRING": sandbox_cs},
        stdin="SELECT TOP 1 name FROM account",
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2


def test_explain(sandbox_cs: str) -> None:
    result = run("explain", "-c", sandbox_cs, "SELECT name FROM account WHERE revenue > 1000")
    assert result.returncode == 0, result.stderr
    assert "$filter=revenue gt 1000" in result.stdout


def test_exit_codes_and_messages(sandbox_cs: str) -> None:
    result = run("query", "-c", "ServiceURL=https://x/api/data/v9.2/;ClientSecrt=1", "SELECT 1")
    assert result.returncode == 2
    assert "did you mean 'ClientSecret'" in result.stderr
    result = run("query", "-c", sandbox_cs, "SELECT name FROM nosuchtable")
    assert result.returncode == 1
    assert "ProgrammingError" in result.stderr and "nosuchtable" in result.stderr
    result = run("query", "SELECT 1", env={"D365CONN_CONNECTION_STRING": ""})
    assert result.returncode == 2 and "no connection" in result.stderr


def test_tables_and_describe(sandbox_cs: str) -> None:
    result = run("tables", "-c", sandbox_cs)
    assert result.returncode == 0, result.stderr
    assert {"account", "contact", "opportunity"} <= set(result.stdout.split())
    result = run("describe", "-c", sandbox_cs, "account")
    assert result.returncode == 0, result.stderr
    assert "revenue" in result.stdout and "primarycontactidname" in result.stdout
