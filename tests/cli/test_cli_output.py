"""``d365conn query`` output: Parquet read back with pyarrow, files by extension, atomic files, JSON lines."""

from __future__ import annotations

import csv
import decimal
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from conftest import Run, clean_env


def test_parquet_output_reads_back_with_the_right_types(run: Run, cli_sandbox: Any, tmp_path: Path) -> None:
    out = tmp_path / "accounts.parquet"
    result = run(
        "query",
        "-c",
        cli_sandbox.connection_string,
        "--format",
        "parquet",
        "--output",
        str(out),
        "SELECT accountid, name, revenue, createdon, numberofemployees, donotemail FROM account",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""  # not a terminal: no progress line
    table = pq.read_table(out)
    assert table.num_rows == 300
    schema = table.schema
    assert schema.field("accountid").type == pa.string()
    assert schema.field("revenue").type == pa.decimal128(19, 4)
    assert schema.field("createdon").type == pa.timestamp("us", tz="UTC")
    assert schema.field("numberofemployees").type == pa.int32()
    assert schema.field("donotemail").type == pa.bool_()
    assert table.column("numberofemployees").null_count > 0
    assert all(isinstance(v, decimal.Decimal) for v in table.column("revenue").to_pylist() if v is not None)
    assert not list(tmp_path.glob(".*.part"))


def test_format_from_the_output_extension(run: Run, cli_sandbox: Any, tmp_path: Path) -> None:
    out = tmp_path / "top.csv"
    result = run(
        "query",
        "-c",
        cli_sandbox.connection_string,
        "-o",
        str(out),
        "SELECT TOP 4 name, revenue FROM account ORDER BY name",
    )
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(out.open(encoding="utf-8")))
    assert rows[0] == ["name", "revenue"] and len(rows) == 5
    assert rows[1:] == sorted(rows[1:], key=lambda r: r[0].lower())


def test_jsonl_keeps_decimals_exact(run: Run, cli_sandbox: Any) -> None:
    result = run(
        "query",
        "-c",
        cli_sandbox.connection_string,
        "--format",
        "jsonl",
        "SELECT TOP 3 revenue FROM account WHERE revenue IS NOT NULL ORDER BY revenue DESC",
    )
    assert result.returncode == 0, result.stderr
    values = [json.loads(line)["revenue"] for line in result.stdout.splitlines()]
    assert len(values) == 3 and all(isinstance(v, str) and decimal.Decimal(v) > 0 for v in values)


def test_a_failed_query_leaves_no_file(run: Run, cli_sandbox: Any, tmp_path: Path) -> None:
    out = tmp_path / "never.parquet"
    result = run(
        "query", "-c", cli_sandbox.connection_string, "-o", str(out), "SELECT nosuchcolumn FROM account"
    )
    assert result.returncode == 1
    assert "nosuchcolumn" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists() and not list(tmp_path.iterdir())


def test_sql_from_a_file(run: Run, cli_sandbox: Any, tmp_path: Path) -> None:
    sql = tmp_path / "q.sql"
    sql.write_text(
        "-- the five biggest\nSELECT TOP 5 name FROM account ORDER BY revenue DESC\n", encoding="utf-8"
    )
    result = run("query", "-c", cli_sandbox.connection_string, "--format", "csv", "-f", str(sql))
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 6


def test_describe_shows_keys_and_lookups(run: Run, cli_sandbox: Any) -> None:
    result = run("describe", "-c", cli_sandbox.connection_string, "--format", "csv", "account")
    assert result.returncode == 0, result.stderr
    rows = {r[0]: r for r in csv.reader(result.stdout.splitlines()[1:])}
    assert rows["accountid"][5] == "PK" and rows["accountid"][1] == "uniqueidentifier"
    assert rows["primarycontactid"][5] == "FK -> contact"
    assert "systemuser" in rows["ownerid"][5] and "team" in rows["ownerid"][5]
    result = run("describe", "-c", cli_sandbox.connection_string, "acount")
    assert result.returncode == 1 and "did you mean 'account'" in result.stderr


def test_tables_as_csv(run: Run, cli_sandbox: Any) -> None:
    result = run("tables", "-c", cli_sandbox.connection_string, "--format", "csv")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "table_name" and "account" in lines


def test_exit_codes_for_sign_in_and_busy_service(run: Run, cli_sandbox: Any) -> None:
    bad = cli_sandbox.connection_string.replace(f"ClientSecret={cli_sandbox.client_secret};", "")
    result = run("query", "-c", bad + "ClientSecret=not-the-secret;", "SELECT TOP 1 name FROM account")
    assert result.returncode == 3, result.stderr
    assert "AADSTS7000215" in result.stderr and "not-the-secret" not in result.stderr
    cli_sandbox.faults.configure(error_rate=1.0, error_statuses=[503])
    try:
        result = run(
            "query", "-c", cli_sandbox.connection_string + "RetryCount=0;", "SELECT TOP 1 name FROM account"
        )
    finally:
        cli_sandbox.faults.reset()
    assert result.returncode == 4, result.stderr
    assert "ServiceUnavailableError" in result.stderr


def test_no_connection_is_a_usage_error(run: Run) -> None:
    result = run("query", "SELECT 1", env=clean_env())
    assert result.returncode == 2 and "no connection" in result.stderr and "--profile" in result.stderr
