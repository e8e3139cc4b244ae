"""Never apply a write twice, and optimistic concurrency, proven against the sandbox's fault injection.

What can be proven: the sandbox's "drop" fault applies the request and then closes the connection
without an answer -- exactly the case where a blind retry of a POST would create a second row. The
tests count the rows afterwards with an independent reader. An injected 5xx/429 is answered before
the request is handled, so it proves a request was repeated (or not) without having been applied.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

import d365conn
from d365conn import exceptions as exc
from d365conn.writes.executor import WriteExecutor
from d365conn.writes.sender import id_from_entity_url

from .conftest import Reader


def _ready(conn: d365conn.Connection) -> Any:
    cur = conn.cursor()
    cur.execute("SELECT TOP 1 accountid FROM account")  # token and catalog loaded: faults hit only writes
    return cur


def _sent(conn: d365conn.Connection) -> int:
    return int(conn.service.transport.requests_sent)


def test_post_is_not_repeated_after_a_lost_answer(
    connect: Any, sandbox: Any, reader: Reader, tag: str
) -> None:
    conn = connect()
    cur = _ready(conn)
    before = _sent(conn)
    sandbox.faults.configure(script=["drop"])
    with pytest.raises(exc.ServiceUnavailableError, match="may or may not have been applied"):
        cur.execute("INSERT INTO account (name) VALUES (?)", (tag,))
    assert _sent(conn) == before + 1
    assert len(reader.rows("accounts", f"name eq '{tag}'", "accountid")) == 1  # applied once, never twice


def test_post_is_repeated_after_429(connect: Any, sandbox: Any, reader: Reader, tag: str) -> None:
    conn = connect()
    cur = _ready(conn)
    before = _sent(conn)
    sandbox.faults.configure(script=[429])
    cur.execute("INSERT INTO account (name) VALUES (?)", (tag,))
    assert cur.rowcount == 1 and _sent(conn) == before + 2
    assert len(reader.rows("accounts", f"name eq '{tag}'", "accountid")) == 1


def test_post_is_not_repeated_after_503(connect: Any, sandbox: Any, reader: Reader, tag: str) -> None:
    conn = connect()
    cur = _ready(conn)
    before = _sent(conn)
    sandbox.faults.configure(script=[503])
    with pytest.raises(exc.ServiceUnavailableError):
        cur.execute("INSERT INTO account (name) VALUES (?)", (tag,))
    assert _sent(conn) == before + 1
    assert reader.rows("accounts", f"name eq '{tag}'", "accountid") == []


def test_batch_is_not_repeated_after_a_lost_answer(
    connect: Any, sandbox: Any, reader: Reader, tag: str
) -> None:
    conn = connect(UseBulkActions="false")
    cur = _ready(conn)
    before = _sent(conn)
    sandbox.faults.configure(script=["drop"])
    with pytest.raises(exc.ServiceUnavailableError, match="may or may not"):
        cur.executemany(
            "INSERT INTO account (name, accountnumber) VALUES (?, ?)", [(tag, f"{tag}{i}") for i in range(5)]
        )
    assert _sent(conn) == before + 1
    found = reader.rows("accounts", f"name eq '{tag}'", "accountnumber")
    assert sorted(r["accountnumber"] for r in found) == [f"{tag}{i}" for i in range(5)]  # once each


def test_batch_is_repeated_after_429(connect: Any, sandbox: Any, reader: Reader, tag: str) -> None:
    conn = connect(UseBulkActions="false")
    cur = _ready(conn)
    before = _sent(conn)
    sandbox.faults.configure(script=[429])
    cur.executemany("INSERT INTO account (name) VALUES (?)", [(tag,)] * 4)
    assert cur.rowcount == 4 and _sent(conn) == before + 2
    assert len(reader.rows("accounts", f"name eq '{tag}'", "accountid")) == 4


@pytest.mark.parametrize("fault", ["drop", 503])
def test_update_by_key_is_repeated(connect: Any, sandbox: Any, reader: Reader, tag: str, fault: Any) -> None:
    conn = connect()
    cur = _ready(conn)
    cur.execute("INSERT INTO account (name) VALUES (?)", (tag,))
    key = cur.lastrowid
    before = _sent(conn)
    sandbox.faults.configure(script=[fault])
    cur.execute("UPDATE account SET description = ? WHERE accountid = ?", ("after retry", key))
    assert cur.rowcount == 1 and _sent(conn) == before + 2
    row = reader.one("accounts", key, "description")
    assert row is not None and row["description"] == "after retry"


def test_delete_is_repeated_and_the_row_is_gone(connect: Any, sandbox: Any, reader: Reader, tag: str) -> None:
    conn = connect()
    cur = _ready(conn)
    cur.execute("INSERT INTO account (name) VALUES (?)", (tag,))
    key = cur.lastrowid
    sandbox.faults.configure(script=["drop"])
    cur.execute("DELETE FROM account WHERE accountid = ?", (key,))
    # The first DELETE applied and its answer was lost; the repeat found nothing to delete. The row
    # is gone either way; the rowcount can only report what the answers said (docs/writes.md).
    assert cur.rowcount == 0
    assert reader.one("accounts", key, "name") is None


def test_explicit_version_is_sent_as_if_match(connect: Any, reader: Reader, tag: str) -> None:
    conn = connect()
    cur = _ready(conn)
    cur.execute("INSERT INTO account (name) VALUES (?)", (tag,))
    key = cur.lastrowid
    cur.execute("SELECT versionnumber FROM account WHERE accountid = ?", (key,))
    (version,) = cur.fetchone()
    reader.patch("accounts", key, {"description": "someone else"})
    with pytest.raises(exc.ConcurrencyError, match="changed since it was read") as info:
        cur.execute(
            "UPDATE account SET description = 'mine' WHERE accountid = ? AND versionnumber = ?",
            (key, version),
        )
    assert isinstance(info.value, exc.IntegrityError) and info.value.status == 412
    row = reader.one("accounts", key, "description")
    assert row is not None and row["description"] == "someone else"
    cur.execute("SELECT versionnumber FROM account WHERE accountid = ?", (key,))
    (current,) = cur.fetchone()
    cur.execute(
        "UPDATE account SET description = 'mine' WHERE accountid = ? AND versionnumber = ?", (key, current)
    )
    assert cur.rowcount == 1


@pytest.mark.parametrize("optimistic", [True, False])
def test_optimistic_concurrency_for_matched_rows(
    connect: Any, reader: Reader, tag: str, monkeypatch: pytest.MonkeyPatch, optimistic: bool
) -> None:
    conn = connect(OptimisticConcurrency=optimistic)
    cur = _ready(conn)
    cur.execute("INSERT INTO account (name) VALUES (?)", (tag,))
    key = cur.lastrowid
    original = WriteExecutor._read

    def read_then_someone_writes(self: WriteExecutor, query: Any) -> Any:
        result = original(self, query)
        reader.patch("accounts", key, {"description": "someone else"})  # between the read and the write
        return result

    monkeypatch.setattr(WriteExecutor, "_read", read_then_someone_writes)
    if optimistic:
        with pytest.raises(exc.ConcurrencyError):
            cur.execute("UPDATE account SET description = 'mine' WHERE name = ?", (tag,))
        expected = "someone else"
    else:
        cur.execute("UPDATE account SET description = 'mine' WHERE name = ?", (tag,))
        expected = "mine"
    row = reader.one("accounts", key, "description")
    assert row is not None and row["description"] == expected


def test_entity_id_parsing() -> None:
    guid = str(uuid.uuid4())
    assert id_from_entity_url(f"https://x/api/data/v9.2/accounts({guid})") == guid
    assert id_from_entity_url("https://x/api/data/v9.2/accounts(accountnumber='1')") is None
    assert id_from_entity_url(None) is None


# --- the sender's reading of batch answers, with a scripted transport (no sandbox) -------------------


class _Scripted:
    """Stands in for the transport: answers each send with the next scripted response."""

    def __init__(self, *answers: tuple[int, dict[str, str], bytes]) -> None:
        self.answers = list(answers)
        self.sent: list[tuple[str, str, dict[str, str], bytes | None]] = []

    def send(self, method: str, url: str, *, json_body: Any = None, body: bytes | None = None,
             headers: Any = None, idempotent: bool = False, deadline: Any = None) -> Any:  # fmt: skip
        import requests

        self.sent.append((method, url, dict(headers or {}), body))
        status, answer_headers, content = self.answers.pop(0)
        response = requests.Response()
        response.status_code, response._content = status, content
        response.headers.update(answer_headers)
        return response


def _ops(count: int) -> list[Any]:
    from d365conn.writes.ops import Operation

    from .catalog import HandCatalog

    table = HandCatalog().tables["account"]
    return [Operation("create", table, {"name": f"n{i}"}, row=i) for i in range(count)]


def _part(status: str, body: str = "", content_id: str | None = None) -> str:
    cid = f"Content-ID: {content_id}\r\n" if content_id else ""
    head = "Content-Type: application/json; odata.metadata=minimal\r\n" if body else ""
    outer = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
    http = f"HTTP/1.1 {status}\r\n{head}OData-Version: 4.0\r\n\r\n{body}\r\n"
    return f"--batchresponse_1\r\n{outer}{cid}\r\n{http}"


BATCH = {"Content-Type": "multipart/mixed; boundary=batchresponse_1"}
DENIED = '{"error":{"code":"0x80040220","message":"Principal user is missing prvCreateAccount privilege"}}'


def test_a_denied_row_in_a_change_set() -> None:
    from d365conn.writes.sender import Sender

    body = _part("403 Forbidden", DENIED, "2") + "--batchresponse_1--\r\n"
    transport = _Scripted((200, BATCH, body.encode()))
    sender = Sender(transport, "https://org/api/data/v9.2/")  # type: ignore[arg-type]
    with pytest.raises(
        exc.PermissionDeniedError, match=r"row 1: POST.*prvCreateAccount.*rolled back"
    ) as info:
        sender.run(_ops(3), atomic=True, bulk=False)
    assert info.value.code == "0x80040220" and info.value.row == 1
    method, url, headers, sent = transport.sent[0]
    assert (method, url) == ("POST", "https://org/api/data/v9.2/$batch")
    assert headers["Content-Type"].startswith("multipart/mixed; boundary=batch_") and "Prefer" not in headers
    assert sent is not None and sent.count(b"Content-ID: ") == 3 and b"boundary=changeset_" in sent


def test_a_failed_change_set_without_content_id_names_the_range() -> None:
    from d365conn.writes.sender import Sender

    body = (
        _part("400 Bad Request", '{"error":{"code":"0x80044331","message":"bad"}}')
        + "--batchresponse_1--\r\n"
    )
    sender = Sender(_Scripted((200, BATCH, body.encode())), "https://org/")  # type: ignore[arg-type]
    with pytest.raises(exc.ValidationError, match="a row among rows 0-2 failed"):
        sender.run(_ops(3), atomic=True, bulk=False)


def test_continue_on_error_reads_each_answer_in_order() -> None:
    from d365conn.writes.sender import Sender

    guid = str(uuid.uuid4())
    created = _part("204 No Content").replace(
        "OData-Version: 4.0\r\n", f"OData-Version: 4.0\r\nOData-EntityId: https://org/accounts({guid})\r\n"
    )
    body = created + _part("403 Forbidden", DENIED) + created + "--batchresponse_1--\r\n"
    transport = _Scripted((200, BATCH, body.encode()))
    sender = Sender(transport, "https://org/")  # type: ignore[arg-type]
    with pytest.raises(exc.BatchError) as info:
        sender.run(_ops(3), atomic=False, bulk=False)
    assert [(r, type(e)) for r, e in info.value.failures] == [(1, exc.PermissionDeniedError)]
    assert info.value.applied == 2
    assert transport.sent[0][2]["Prefer"] == "odata.continue-on-error"
    assert b"boundary=changeset_" not in (transport.sent[0][3] or b"")


def test_a_short_answer_is_not_taken_for_success() -> None:
    from d365conn.writes.sender import Sender

    body = _part("204 No Content", content_id="1") + "--batchresponse_1--\r\n"
    sender = Sender(_Scripted((200, BATCH, body.encode())), "https://org/")  # type: ignore[arg-type]
    with pytest.raises(exc.ServiceUnavailableError, match="1 responses for 2 requests"):
        sender.run(_ops(2), atomic=True, bulk=False)
