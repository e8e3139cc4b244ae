"""The msgspec fast path's shared values: columns that repeat their values reuse one object each.

Sharing must change nothing but memory: every page still equals the reference path's tuples, a
value the reference path refuses is still refused with the same DataError, and memos stay bounded.
"""

from __future__ import annotations

import datetime as dt
import sys
import uuid
from decimal import Decimal
from typing import Any

import msgspec
import pytest

import d365conn
from d365conn.planner.plan import OutputColumn
from d365conn.values import typed
from d365conn.values.jsonpage import PageDecoder, split_envelope

COLUMNS = (
    OutputColumn("id", "Edm.Guid", ("accountid",)),
    OutputColumn("currency", "Edm.Guid", ("_transactioncurrencyid_value",)),
    OutputColumn("city", "Edm.String", ("address1_city",)),
    OutputColumn("rate", "Edm.Decimal", ("exchangerate",), precision=23, scale=10),
    OutputColumn("seen", "Edm.DateTimeOffset", ("lastusedincampaign",)),
    OutputColumn("born", "Edm.Date", ("birthdate",)),
    OutputColumn("n", "Edm.Int32", ("n",)),
    OutputColumn("owner name", "Edm.String", ("ownerid", "fullname")),
    OutputColumn("owner", "Edm.Guid", ("ownerid", "systemuserid")),
)

CURRENCIES = [str(uuid.UUID(int=n)) for n in (1, 2, 3)]
OWNERS = [str(uuid.UUID(int=1000 + n)) for n in range(5)]


def _row(i: int) -> dict[str, Any]:
    return {
        "accountid": str(uuid.UUID(int=10**9 + i)),
        "_transactioncurrencyid_value": CURRENCIES[i % 3] if i % 11 else None,
        "address1_city": ["Atlanta", "Zürich", "東京"][i % 3],
        "exchangerate": Decimal("1.0") if i % 2 else Decimal("0.9132"),
        "lastusedincampaign": f"2024-0{1 + i % 3}-01T10:00:00+02:00" if i % 4 else None,
        "birthdate": ["1980-01-02", "1990-12-31"][i % 2],
        "n": i,
        "ownerid": {"fullname": f"Owner {i % 5}", "systemuserid": OWNERS[i % 5]} if i % 7 else None,
    }


def _page(start: int, count: int = 300) -> bytes:
    rows = [_row(i) for i in range(start, start + count)]
    return msgspec.json.Encoder(decimal_format="number").encode({"value": rows})


def test_shared_columns_give_the_reference_paths_tuples_with_fewer_objects() -> None:
    fast = PageDecoder(COLUMNS, use_fast=True)
    reference = PageDecoder(COLUMNS, use_fast=False)
    pages = [_page(start) for start in range(0, 1200, 300)]
    first = fast.decode(split_envelope(pages[0]).rows)
    assert first == reference.decode(split_envelope(pages[0], use_fast=False).rows)
    decoder = fast._typed
    assert isinstance(decoder, typed.TypedDecoder)
    shared = {COLUMNS[i].name for i in decoder.shared}
    assert shared == {"currency", "city", "seen", "born", "owner name", "owner"}  # not the unique id
    for body in pages[1:]:
        rows = fast.decode(split_envelope(body).rows)
        assert rows == reference.decode(split_envelope(body, use_fast=False).rows)
        assert [type(v) for v in rows[1]] == [type(v) for v in reference.decode(
            split_envelope(body, use_fast=False).rows)[1]]
        for column in (1, 2, 4, 5, 7, 8):
            values = [row[column] for row in rows if row[column] is not None]
            assert len({id(v) for v in values}) == len(set(values)) < len(values)
        assert len({id(row[0]) for row in rows}) == len(rows)
        assert all(row[4] is None or row[4].tzinfo is dt.timezone.utc for row in rows)


def test_a_bad_guid_in_a_shared_column_is_the_reference_paths_error() -> None:
    fast = PageDecoder(COLUMNS, table="account", use_fast=True)
    fast.decode(split_envelope(_page(0)).rows)
    bad = _page(300).replace(CURRENCIES[1].encode(), b"not-a-guid-at-all-0000000000000000000", 1)
    with pytest.raises(d365conn.DataError) as fast_error:
        fast.decode(split_envelope(bad).rows, first_row=301)
    with pytest.raises(d365conn.DataError) as reference_error:
        PageDecoder(COLUMNS, table="account", use_fast=False).decode(
            split_envelope(bad, use_fast=False).rows, first_row=301
        )
    assert str(fast_error.value) == str(reference_error.value)
    assert "currency" in str(fast_error.value) and "row 30" in str(fast_error.value)


def test_a_guid_without_hyphens_in_a_shared_column_reads_like_the_reference_path() -> None:
    fast = PageDecoder(COLUMNS, use_fast=True)
    fast.decode(split_envelope(_page(0)).rows)
    odd = _page(300).replace(CURRENCIES[2].encode(), CURRENCIES[2].replace("-", "").upper().encode())
    rows = fast.decode(split_envelope(odd).rows)
    assert rows == PageDecoder(COLUMNS, use_fast=False).decode(split_envelope(odd, use_fast=False).rows)
    assert uuid.UUID(CURRENCIES[2]) in {row[1] for row in rows}


def test_memos_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(typed, "MEMO_LIMIT", 4)
    fast = PageDecoder(COLUMNS, use_fast=True)
    fast.decode(split_envelope(_page(0)).rows)
    decoder = fast._typed
    assert isinstance(decoder, typed.TypedDecoder)
    for start in (300, 600):
        rows = fast.decode(split_envelope(_page(start)).rows)
        assert rows == PageDecoder(COLUMNS, use_fast=False).decode(split_envelope(_page(start)).rows)
        # owner names have 5 values: more than the limit, so that memo was emptied after the page
        assert all(len(memo) <= 4 for memo in decoder._memos)


def test_columns_that_do_not_repeat_are_not_shared() -> None:
    decoder = typed.TypedDecoder(COLUMNS)
    rows = decoder.decode(split_envelope(_page(0, 40)).rows.array)  # type: ignore[union-attr]
    assert decoder.tuned(rows) is decoder  # too few rows to judge
    unique = [
        {"accountid": str(uuid.UUID(int=i)), "address1_city": f"city {i}", "n": i} for i in range(500)
    ]
    body = msgspec.json.encode({"value": unique})
    rows = decoder.decode(split_envelope(body).rows.array)  # type: ignore[union-attr]
    assert decoder.tuned(rows) is decoder


def test_shared_values_save_memory() -> None:
    plain = typed.TypedDecoder(COLUMNS)
    body = _page(0, 2000)
    array = split_envelope(body).rows.array  # type: ignore[union-attr]
    rows = plain.decode(array)
    tuned = plain.tuned(rows)

    def size(page: list[tuple[Any, ...]]) -> int:
        seen: set[int] = set()
        total = 0
        for row in page:
            for value in row:
                if id(value) not in seen:
                    seen.add(id(value))
                    total += sys.getsizeof(value)
        return total

    assert size(tuned.decode(array)) < 0.7 * size(plain.decode(array))
