"""Every statement kind end to end: d365conn.connect() -> sandbox, checked by reading back independently."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest

import d365conn
from d365conn import exceptions as exc

from .conftest import Reader


def requests_of(conn: d365conn.Connection) -> int:
    return int(conn.service.transport.requests_sent)


def test_insert_converts_every_kind_of_value(connect: Any, reader: Reader, tag: str) -> None:
    conn = connect()
    cur = conn.cursor()
    cur.execute("SELECT TOP 1 contactid FROM contact")
    contact = cur.fetchone()[0]
    cur.execute(
        "INSERT INTO account (name, revenue, industrycode, creditonhold, numberofemployees, "
        "lastusedincampaign, "
        "primarycontactid, accountnumber) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            tag,
            Decimal("1234567.8912"),
            "Consulting",
            True,
            42,
            dt.datetime(2024, 5, 1, 12, 30),
            str(contact),
            tag,
        ),
    )
    assert cur.rowcount == 1
    assert isinstance(cur.lastrowid, uuid.UUID)
    row = reader.one(
        "accounts",
        cur.lastrowid,
        "name,revenue,industrycode,creditonhold,numberofemployees,"
        "lastusedincampaign,_primarycontactid_value,accountnumber",
    )
    assert row is not None
    assert (row["name"], Decimal(str(row["revenue"])), row["industrycode"], row["creditonhold"]) == (
        tag, Decimal("1234567.8912"), 7, True)  # fmt: skip
    assert row["numberofemployees"] == 42 and row["lastusedincampaign"].startswith("2024-05-01T12:30:00")
    assert row["_primarycontactid_value"] == str(contact)


def test_insert_several_rows_and_returning(connect: Any, reader: Reader, tag: str) -> None:
    cur = connect().cursor()
    cur.execute(
        f"INSERT INTO account (name) OUTPUT inserted.accountid VALUES ('{tag}'), ('{tag}'), (?)", (tag,)
    )
    ids = [r[0] for r in cur.fetchall()]
    assert len(ids) == 3 and len(set(ids)) == 3
    assert cur.lastrowid is not None and cur.lastrowid == ids[-1]
    found = reader.rows("accounts", f"name eq '{tag}'", "accountid")
    assert sorted(r["accountid"] for r in found) == sorted(str(i) for i in ids)


def test_insert_select(connect: Any, reader: Reader, tag: str) -> None:
    cur = connect().cursor()
    cur.executemany(
        "INSERT INTO contact (lastname, firstname) VALUES (?, ?)", [(tag, f"f{i}") for i in range(3)]
    )
    cur.execute("INSERT INTO account (name, accountnumber) "
                "SELECT lastname, firstname FROM contact WHERE lastname = ?",
                (tag,))  # fmt: skip
    assert cur.rowcount == 3
    found = reader.rows("accounts", f"name eq '{tag}'", "accountnumber")
    assert sorted(r["accountnumber"] for r in found) == ["f0", "f1", "f2"]


def test_update_by_key_by_condition_and_missing(connect: Any, reader: Reader, tag: str) -> None:
    conn = connect()
    cur = conn.cursor()
    cur.executemany("INSERT INTO account (name, revenue) VALUES (?, ?)", [(tag, Decimal("10.25")), (tag, 5)])
    first = cur.lastrowid
    before = requests_of(conn)
    cur.execute("UPDATE account SET accountnumber = ? WHERE accountid = ?", (f"{tag}-k", first))
    assert cur.rowcount == 1 and requests_of(conn) == before + 1  # by key: one request, no read
    cur.execute("UPDATE account SET name = 'x' WHERE accountid = ?", (uuid.uuid4(),))
    assert cur.rowcount == 0  # no such row: nothing updated, no error (and nothing created)
    cur.execute("UPDATE account SET revenue = revenue * 2, description = ? WHERE name = ?", ("doubled", tag))
    assert cur.rowcount == 2
    found = reader.rows("accounts", f"name eq '{tag}'", "revenue,description,accountnumber")
    assert sorted(Decimal(str(r["revenue"])) for r in found) == [Decimal(10), Decimal("20.5")]
    assert {r["description"] for r in found} == {"doubled"}
    assert f"{tag}-k" in {r["accountnumber"] for r in found}


def test_delete_by_key_and_by_condition(connect: Any, reader: Reader, tag: str) -> None:
    cur = connect().cursor()
    cur.executemany("INSERT INTO account (name) VALUES (?)", [(tag,)] * 4)
    one = cur.lastrowid
    cur.execute("DELETE FROM account WHERE accountid = ?", (one,))
    assert cur.rowcount == 1 and reader.one("accounts", one, "name") is None
    cur.execute("DELETE FROM account WHERE accountid = ?", (one,))
    assert cur.rowcount == 0
    cur.execute("DELETE FROM account WHERE name = ?", (tag,))
    assert cur.rowcount == 3
    assert reader.rows("accounts", f"name eq '{tag}'", "accountid") == []


def test_merge_and_on_conflict(connect: Any, reader: Reader, tag: str) -> None:
    cur = connect().cursor()
    merge = (
        "MERGE INTO account AS t USING (VALUES (?, ?)) AS s (num, nm) ON t.accountnumber = s.num "
        "WHEN MATCHED THEN UPDATE SET name = s.nm "
        "WHEN NOT MATCHED THEN INSERT (accountnumber, name) VALUES (s.num, s.nm)"
    )
    cur.execute(merge, (tag, "created"))
    assert cur.rowcount == 1
    created = cur.lastrowid
    cur.execute(merge, (tag, "updated"))
    found = reader.rows("accounts", f"accountnumber eq '{tag}'", "accountid,name")
    assert found == [{"accountid": str(created), "name": "updated", "@odata.etag": found[0]["@odata.etag"]}]
    nothing = "INSERT INTO account (accountnumber, name) VALUES (?, ?) ON CONFLICT (accountnumber) DO NOTHING"
    cur.execute(nothing, (tag, "ignored"))
    assert cur.rowcount == 0
    cur.execute(nothing, (f"{tag}-2", "new"))
    assert cur.rowcount == 1
    cur.execute("INSERT INTO account (accountnumber, name) VALUES (?, ?) ON CONFLICT (accountnumber) "
                "DO UPDATE SET name = excluded.name", (tag, "upserted"))  # fmt: skip
    cur.execute("MERGE INTO account t USING (VALUES (?)) s (n) ON t.accountnumber = s.n "
                "WHEN MATCHED THEN DELETE",
                (f"{tag}-2",))  # fmt: skip
    assert cur.rowcount == 1
    prefix = f"startswith(accountnumber,'{tag}')"
    names = {r["accountnumber"]: r["name"] for r in reader.rows("accounts", prefix,
                                                                 "accountnumber,name")}  # fmt: skip
    assert names == {tag: "upserted"}


def test_polymorphic_lookups(connect: Any, reader: Reader, tag: str) -> None:
    cur = connect().cursor()
    cur.execute("INSERT INTO account (name) VALUES (?)", (tag,))
    account = cur.lastrowid
    cur.execute("INSERT INTO contact (lastname) VALUES (?)", (tag,))
    contact = cur.lastrowid
    cur.execute(
        "INSERT INTO contact (lastname, parentcustomerid) VALUES (?, ?)", (tag, account)
    )  # found by lookup
    by_lookup = cur.lastrowid
    cur.execute("INSERT INTO contact (lastname, parentcustomerid, parentcustomeridtype) "
                "VALUES (?, ?, 'contact')",
                (tag, contact))  # fmt: skip
    by_type = cur.lastrowid
    fields = "_parentcustomerid_value"
    annotation = "_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"
    got = {}
    for key in (by_lookup, by_type):
        answer = reader.get(f"contacts({key})?$select={fields}")
        got[key] = answer.json()[fields]
    assert got == {by_lookup: str(account), by_type: str(contact)}
    cur.execute("SELECT parentcustomeridtype FROM contact WHERE contactid = ?", (by_lookup,))
    assert cur.fetchone() == ("account",)
    assert annotation  # the driver's own read agrees with the independent one above
    with pytest.raises(exc.DataError, match="neither account nor contact holds that id"):
        cur.execute("INSERT INTO contact (lastname, parentcustomerid) VALUES (?, ?)", (tag, uuid.uuid4()))


def test_executemany_is_one_batch_and_atomic(connect: Any, reader: Reader, tag: str) -> None:
    conn = connect(UseBulkActions="false")  # auto would first probe whether the table has CreateMultiple
    cur = conn.cursor()
    cur.execute("SELECT TOP 1 accountid FROM account")  # catalog and token ready
    before = requests_of(conn)
    cur.executemany(
        "INSERT INTO account (name, accountnumber) VALUES (?, ?)", [(tag, f"{tag}-{i}") for i in range(60)]
    )
    assert cur.rowcount == 60 and requests_of(conn) == before + 1
    assert len(reader.rows("accounts", f"name eq '{tag}'", "accountid")) == 60
    # One bad row (a lookup to a contact that does not exist) rolls its whole change set back.
    bad = [(f"{tag}b", None) for _ in range(10)]
    bad[6] = (f"{tag}b", str(uuid.uuid4()))
    with pytest.raises(exc.NotFoundError, match="row 6") as info:
        cur.executemany("INSERT INTO account (name, primarycontactid) VALUES (?, ?)", bad)
    assert "rolled back" in str(info.value)
    assert reader.rows("accounts", f"name eq '{tag}b'", "accountid") == []


def test_batches_split_at_batch_size(connect: Any, reader: Reader, tag: str) -> None:
    conn = connect(BatchSize=7, UseBulkActions="false")
    cur = conn.cursor()
    cur.execute("SELECT TOP 1 accountid FROM account")
    before = requests_of(conn)
    cur.executemany("INSERT INTO account (name) VALUES (?)", [(tag,)] * 20)
    assert requests_of(conn) == before + 3  # 7 + 7 + 6
    # A failure in the third batch: the first two stay applied, and the error says so.
    rows = [(f"{tag}x", None)] * 20
    rows[15] = (f"{tag}x", str(uuid.uuid4()))
    with pytest.raises(exc.NotFoundError, match=r"14 row\(s\) of earlier batches were applied"):
        cur.executemany("INSERT INTO account (name, primarycontactid) VALUES (?, ?)", rows)
    assert len(reader.rows("accounts", f"name eq '{tag}x'", "accountid")) == 14


def test_continue_on_error_reports_every_failed_row(connect: Any, reader: Reader, tag: str) -> None:
    cur = connect(ContinueOnError=True).cursor()
    cur.execute("INSERT INTO account (name, accountnumber) VALUES (?, ?)", (tag, f"{tag}-dup"))
    rows = [(tag, f"{tag}-{i}", None) for i in range(10)]
    rows[2] = (tag, f"{tag}-dup", None)  # duplicate alternate key
    rows[7] = (tag, f"{tag}-7", str(uuid.uuid4()))  # missing lookup target
    with pytest.raises(exc.BatchError) as info:
        cur.executemany("INSERT INTO account (name, accountnumber, primarycontactid) VALUES (?, ?, ?)", rows)
    error = info.value
    assert [(row, type(e)) for row, e in error.failures] == [
        (2, exc.DuplicateRecordError),
        (7, exc.NotFoundError),
    ]
    assert error.applied == 8 and not error.atomic
    assert all(e.code for _, e in error.failures)  # the service's codes are kept
    assert len(reader.rows("accounts", f"name eq '{tag}'", "accountid")) == 9


def test_bulk_actions(connect: Any, reader: Reader, tag: str) -> None:
    conn = connect(UseBulkActions="true")
    cur = conn.cursor()
    cur.execute("SELECT TOP 1 accountid FROM account")
    before = requests_of(conn)
    cur.executemany(
        "INSERT INTO account (name, revenue) VALUES (?, ?)", [(tag, Decimal(i)) for i in range(25)]
    )
    assert cur.rowcount == 25 and requests_of(conn) == before + 1 and isinstance(cur.lastrowid, uuid.UUID)
    assert reader.one("accounts", cur.lastrowid, "name") is not None
    assert len(reader.rows("accounts", f"name eq '{tag}'", "accountid")) == 25
    rows: list[tuple[Any, ...]] = [(f"{tag}b", None)] * 5
    rows[3] = (f"{tag}b", str(uuid.uuid4()))
    with pytest.raises(
        exc.NotFoundError, match="CreateMultiple of rows 0-4 failed; none of them was applied"
    ):
        cur.executemany("INSERT INTO account (name, primarycontactid) VALUES (?, ?)", rows)
    assert reader.rows("accounts", f"name eq '{tag}b'", "accountid") == []


def test_bad_input_is_refused_before_any_request(connect: Any) -> None:
    conn = connect()
    cur = conn.cursor()
    cur.execute("SELECT TOP 1 accountid FROM account")
    before = requests_of(conn)
    cases = [
        ("INSERT INTO account (createdon) VALUES (?)", ("2020-01-01",), exc.ProgrammingError),
        ("INSERT INTO account (industrycode) VALUES (?)", ("No such label",), exc.DataError),
        ("INSERT INTO account (numberofemployees) VALUES (?)", ("many",), exc.DataError),
        ("INSERT INTO account (primarycontactid) VALUES (?)", ("not-a-guid",), exc.DataError),
        ("UPDATE account SET name = 'x'", None, exc.ProgrammingError),
        ("DELETE FROM account", None, exc.ProgrammingError),
        ("INSERT INTO account (revenue) VALUES (?)", ("1.23456",), exc.DataError),
    ]
    for sql, params, error in cases:
        with pytest.raises(error):
            cur.execute(sql, params)
    assert requests_of(conn) == before


def test_unfiltered_writes_when_allowed(connect: Any, reader: Reader) -> None:
    cur = connect(AllowUnfilteredWrites=True).cursor()
    cur.execute("UPDATE transactioncurrency SET currencyname = currencyname")
    assert cur.rowcount == len(reader.rows("transactioncurrencies", "transactioncurrencyid ne null",
                                           "transactioncurrencyid"))  # fmt: skip
    assert cur.rowcount >= 3


def test_errors_carry_the_service_code(connect: Any, tag: str) -> None:
    cur = connect().cursor()
    cur.execute("INSERT INTO account (name, accountnumber) VALUES (?, ?)", (tag, tag))
    with pytest.raises(exc.DuplicateRecordError) as info:
        cur.execute("INSERT INTO account (name, accountnumber) VALUES (?, ?)", (tag, tag))
    assert isinstance(info.value, exc.IntegrityError) and info.value.status == 412 and info.value.code


def test_executemany_by_key_counts_missing_rows_as_zero(connect: Any, reader: Reader, tag: str) -> None:
    conn = connect(UseBulkActions="false")
    cur = conn.cursor()
    cur.execute(
        f"INSERT INTO account (name) OUTPUT inserted.accountid VALUES ('{tag}'), ('{tag}'), ('{tag}')"
    )
    ids = [r[0] for r in cur.fetchall()]
    missing = [uuid.uuid4(), uuid.uuid4()]
    before = requests_of(conn)
    cur.executemany("UPDATE account SET description = ? WHERE accountid = ?",
                    [("seen", i) for i in [ids[0], missing[0], ids[1], missing[1], ids[2]]])  # fmt: skip
    assert cur.rowcount == 3
    assert requests_of(conn) == before + 2  # one read of which keys exist, one $batch for the rest
    assert {r["description"] for r in reader.rows("accounts", f"name eq '{tag}'", "description")} == {"seen"}
    cur.executemany("DELETE FROM account WHERE accountid = ?", [(i,) for i in [*ids[:2], *missing]])
    assert cur.rowcount == 2
    assert [r["accountid"] for r in reader.rows("accounts", f"name eq '{tag}'", "accountid")] == [str(ids[2])]


def test_explain_shows_the_requests_and_sends_none(connect: Any, reader: Reader, tag: str) -> None:
    conn = connect()
    cur = conn.cursor()
    cur.execute("SELECT TOP 1 accountid FROM account")
    before = requests_of(conn)
    key = uuid.uuid4()
    cur.execute("EXPLAIN UPDATE account SET name = ? WHERE accountid = ?", (tag, key))
    lines = [r[0] for r in cur.fetchall()]
    root = conn.config.service_root
    assert lines == [f'PATCH {root}accounts({key}) If-Match: * {{"name":"{tag}"}}', "sent as: one request"]
    cur.execute("EXPLAIN DELETE FROM account WHERE name = ?", (tag,))
    lines = [r[0] for r in cur.fetchall()]
    assert lines[0] == "first, read the rows to change:"
    assert any(line.startswith(f"  GET {root}accounts?") and "$filter=name eq" in line for line in lines)
    assert f"then, for each row read: DELETE {root}accounts..." in lines
    assert requests_of(conn) == before  # explained, not run
    assert reader.rows("accounts", f"name eq '{tag}'", "accountid") == []


def test_upsert_many_by_primary_key_with_upsertmultiple(connect: Any, reader: Reader, tag: str) -> None:
    conn = connect(UseBulkActions="true")
    cur = conn.cursor()
    cur.execute("SELECT TOP 1 accountid FROM account")
    keys = [uuid.uuid4() for _ in range(4)]
    sql = (
        "MERGE INTO account t USING (VALUES (?, ?)) s (id, nm) ON t.accountid = s.id "
        "WHEN MATCHED THEN UPDATE SET name = s.nm "
        "WHEN NOT MATCHED THEN INSERT (accountid, name) VALUES (s.id, s.nm)"
    )
    before = requests_of(conn)
    cur.executemany(sql, [(k, tag) for k in keys])
    assert cur.rowcount == 4 and requests_of(conn) == before + 1  # one UpsertMultiple call
    cur.executemany(sql, [(k, f"{tag}-2") for k in keys[:2]])
    found = {
        r["accountid"]: r["name"]
        for r in reader.rows("accounts", f"startswith(name,'{tag}')", "accountid,name")
    }
    assert found == {str(keys[0]): f"{tag}-2", str(keys[1]): f"{tag}-2", str(keys[2]): tag, str(keys[3]): tag}
