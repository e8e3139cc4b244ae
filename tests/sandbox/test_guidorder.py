"""GUID order over real sockets: SQL Server's uniqueidentifier order for keys, ranges and paging."""

from __future__ import annotations

import random
import uuid
from urllib.parse import quote

from d365conn.sandbox.guidorder import sort_key
from tests.sandbox.webapi_client import Api

#: SqlGuid.CompareTo / SQL Server: bytes of Guid.ToByteArray() (uuid's bytes_le) in this order.
BYTE_ORDER = (10, 11, 12, 13, 14, 15, 8, 9, 6, 7, 4, 5, 0, 1, 2, 3)


def sqlserver_key(guid: str) -> bytes:
    """An independent statement of the rule, over bytes rather than text."""
    raw = uuid.UUID(guid).bytes_le
    return bytes(raw[i] for i in BYTE_ORDER)


def test_sort_key_follows_the_documented_sqlguid_example() -> None:
    # Microsoft's "Comparing GUID and uniqueidentifier values": SqlGuid sorts these by the last group.
    values = [
        "3AAAAAAA-BBBB-CCCC-DDDD-2EEEEEEEEEEE",
        "2AAAAAAA-BBBB-CCCC-DDDD-1EEEEEEEEEEE",
        "1AAAAAAA-BBBB-CCCC-DDDD-3EEEEEEEEEEE",
    ]
    assert sorted(values, key=sort_key) == [values[1], values[0], values[2]]


def test_sort_key_orders_as_the_byte_rule_does() -> None:
    rng = random.Random(5)
    guids = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(2000)]
    # One byte set at a time makes every position's significance visible.
    guids += [
        str(uuid.UUID(bytes=bytes(1 << (i % 8) if j == i // 8 else 0 for j in range(16)))) for i in range(128)
    ]
    assert sorted(guids, key=sort_key) == sorted(guids, key=sqlserver_key)
    assert sort_key("{" + guids[0].upper() + "}") == sort_key(guids[0])


def all_ids(api: Api, query: str = "") -> list[str]:
    ids: list[str] = []
    url = api.url + "accounts?$select=accountid" + query
    while url:
        body = api.session.get(url, headers={"Prefer": "odata.maxpagesize=5000"}).json()
        ids += [row["accountid"] for row in body["value"]]
        url = body.get("@odata.nextLink", "")
    return ids


def test_default_order_and_paging_cookies_follow_the_uniqueidentifier_order(api: Api) -> None:
    ids = all_ids(api)
    assert len(ids) > 10_000 and len(set(ids)) == len(ids)  # three pages, nothing lost or repeated
    assert ids == sorted(ids, key=sqlserver_key)
    assert ids != sorted(ids)  # not the text order
    assert all_ids(api, "&$orderby=accountid") == ids
    assert all_ids(api, "&$orderby=accountid desc") == ids[::-1]


def test_range_filters_on_the_key_partition_the_table(api: Api) -> None:
    ids = all_ids(api)
    low, high = ids[len(ids) // 3], ids[2 * len(ids) // 3]
    first = all_ids(api, "&$filter=" + quote(f"accountid lt {low}"))
    middle = all_ids(api, "&$filter=" + quote(f"accountid ge {low} and accountid lt {high}"))
    last = all_ids(api, "&$filter=" + quote(f"accountid ge {high}"))
    assert first + middle + last == ids
    assert middle[0] == low and last[0] == high
    assert all_ids(api, "&$filter=" + quote(f"accountid gt {low} and accountid le {high}")) == (
        [*middle[1:], high]
    )
    # A literal in upper case or braces-free form compares the same.
    assert all_ids(api, "&$filter=" + quote(f"accountid ge {high.upper()}")) == last


def test_lookup_guids_and_grouped_keys_follow_the_same_order(api: Api) -> None:
    body = api.get("accounts?$apply=" + quote("groupby((_owninguser_value))")).json()
    keys = [row["_owninguser_value"] for row in body["value"] if row["_owninguser_value"] is not None]
    assert len(keys) > 5 and keys == sorted(keys, key=sqlserver_key)
    pivot = keys[len(keys) // 2]
    body = api.get(
        "accounts?$select=_owninguser_value&$filter=" + quote(f"_owninguser_value gt {pivot}")
    ).json()
    assert body["value"] and all(
        sqlserver_key(r["_owninguser_value"]) > sqlserver_key(pivot) for r in body["value"]
    )
