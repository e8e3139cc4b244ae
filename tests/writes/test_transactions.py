"""Autocommit off: writes queue until commit(), which sends them as atomic change sets; rollback()
drops them."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from d365conn import exceptions as exc

from .conftest import Reader


def test_queued_writes_apply_at_commit(connect: Any, reader: Reader, tag: str) -> None:
    conn = connect(Autocommit=False)
    cur = conn.cursor()
    cur.execute("INSERT INTO account (name, accountnumber) VALUES (?, ?)", (tag, f"{tag}-1"))
    account = cur.lastrowid
    assert isinstance(account, uuid.UUID) and cur.rowcount == 1  # the id is known before the commit
    # A later statement of the same transaction points a lookup at the row not yet created.
    cur.execute("INSERT INTO contact (lastname, parentcustomerid, parentcustomeridtype) "
                "VALUES (?, ?, 'account')",
                (tag, account))  # fmt: skip
    contact = cur.lastrowid
    cur.execute("UPDATE account SET description = 'second' WHERE accountid = ?", (account,))
    assert conn.service.pending_writes() == 3
    assert reader.one("accounts", account, "name") is None  # nothing visible before commit
    conn.commit()
    assert conn.service.pending_writes() == 0
    row = reader.one("accounts", account, "name,description,accountnumber")
    assert row is not None and (row["name"], row["description"]) == (tag, "second")
    child = reader.one("contacts", contact, "_parentcustomerid_value")
    assert child is not None and child["_parentcustomerid_value"] == str(account)


def test_rollback_discards(connect: Any, reader: Reader, tag: str) -> None:
    conn = connect(Autocommit=False)
    cur = conn.cursor()
    cur.executemany("INSERT INTO account (name) VALUES (?)", [(tag,)] * 3)
    assert cur.rowcount == 3
    conn.rollback()
    conn.commit()  # nothing left to send
    assert reader.rows("accounts", f"name eq '{tag}'", "accountid") == []


def test_commit_is_all_or_nothing(connect: Any, reader: Reader, tag: str) -> None:
    conn = connect(Autocommit=False)
    cur = conn.cursor()
    cur.execute("INSERT INTO account (name) VALUES (?)", (tag,))
    cur.execute(
        "INSERT INTO account (name, primarycontactid) VALUES (?, ?)", (tag, uuid.uuid4())
    )  # will fail
    cur.execute("INSERT INTO account (name) VALUES (?)", (tag,))
    with pytest.raises(exc.NotFoundError, match=r"row 1.*rolled back"):
        conn.commit()
    assert reader.rows("accounts", f"name eq '{tag}'", "accountid") == []
    assert conn.service.pending_writes() == 0  # the failed transaction is over, as in a database


def test_context_manager_commits_or_rolls_back(sandbox: Any, reader: Reader, tag: str) -> None:
    import d365conn

    with d365conn.connect(sandbox.connection_string, Autocommit=False) as conn:
        conn.cursor().execute("INSERT INTO account (name) VALUES (?)", (tag,))
    assert len(reader.rows("accounts", f"name eq '{tag}'", "accountid")) == 1
    with pytest.raises(RuntimeError), d365conn.connect(sandbox.connection_string, Autocommit=False) as conn:
        conn.cursor().execute("INSERT INTO account (name) VALUES (?)", (f"{tag}r",))
        raise RuntimeError("abandon")
    assert reader.rows("accounts", f"name eq '{tag}r'", "accountid") == []


def test_autocommit_cannot_turn_on_with_queued_writes(connect: Any, tag: str) -> None:
    conn = connect(Autocommit=False)
    conn.cursor().execute("INSERT INTO account (name) VALUES (?)", (tag,))
    with pytest.raises(exc.ProgrammingError, match="commit"):
        conn.autocommit = True
    conn.rollback()
    conn.autocommit = True


def test_large_commit_is_split_and_says_what_applied(connect: Any, reader: Reader, tag: str) -> None:
    conn = connect(Autocommit=False, BatchSize=4)
    cur = conn.cursor()
    cur.executemany("INSERT INTO account (name, primarycontactid) VALUES (?, ?)",
                    [(tag, None)] * 5 + [(tag, uuid.uuid4())] + [(tag, None)] * 2)  # fmt: skip
    with pytest.raises(exc.NotFoundError, match=r"4 row\(s\) of earlier batches were applied") as info:
        conn.commit()
    assert info.value.applied == 4 and info.value.row == 5
    assert len(reader.rows("accounts", f"name eq '{tag}'", "accountid")) == 4
