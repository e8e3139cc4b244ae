"""Every sample runs as a user runs it (``python samples/x.py``), against the sandbox it starts itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parent.parent / "samples"

#: What each sample must print (a line fragment per step), so a sample that silently stops short fails.
EXPECTED = {
    "quickstart.py": [
        "columns: ['name', 'address1_city', 'revenue', 'createdon']",
        "accounts by country:",
        "$filter=address1_city eq 'Seattle'",
    ],
    "pandas_dataframes.py": [
        "numberofemployees                  Int32",
        "decimal128(19, 4)",
        "read 500 rows in chunks of 200",
    ],
    "sqlalchemy_core.py": [
        "account key: ['accountid']",
        "account lookup: primarycontactid -> contact",
        "500 accounts",
    ],
    "bulk_load.py": [
        "executemany: 1000 rows",
        "updated 1000 rows",
        "rows now in the table: 1300",
        "deleted 1300 rows",
    ],
    "business_central.py": [
        "companies: CRONUS International Ltd., CRONUS USA, Inc., My Company",
        "customers with the largest balance due",
        " orders ",
        "/companies(",
    ],
    "interactive_login.py": ["signed in; users:", "second connection, silent sign-in; accounts: 50"],
}


def test_every_sample_is_listed() -> None:
    assert sorted(p.name for p in SAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_runs(name: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("D365CONN_")}
    result = subprocess.run(
        [sys.executable, str(SAMPLES / name)],
        check=False,
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        cwd=SAMPLES.parent,
    )
    assert result.returncode == 0, result.stderr
    for fragment in EXPECTED[name]:
        assert fragment in result.stdout, f"{fragment!r} missing from:\n{result.stdout}"
    assert "Traceback" not in result.stderr
