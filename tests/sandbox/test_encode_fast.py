"""The plain-page fast path (template rows, columns no row has filled left out of the SELECT) answers
exactly what the full, annotated path answers, and sees a column the moment a write first fills it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import requests

from d365conn.sandbox.launcher import Sandbox
from d365conn.sandbox.store import Store


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(rows=600, seed=9) as sb:  # its own: these tests write
        yield sb


@pytest.fixture(scope="module")
def session(sandbox: Sandbox) -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {sandbox.access_token()}"
    return s


def page(session: requests.Session, url: str, annotations: bool) -> list[dict[str, Any]]:
    prefer = "odata.maxpagesize=5000" + (',odata.include-annotations="*"' if annotations else "")
    response = session.get(url, headers={"Prefer": prefer})
    assert response.status_code == 200, response.text
    return list(response.json()["value"])


def strip(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if "@" not in k or k == "@odata.etag"}


@pytest.mark.parametrize("entity_set", ["accounts", "contacts", "opportunities", "systemusers"])
def test_plain_rows_equal_annotated_rows_without_annotations(
    sandbox: Sandbox, session: requests.Session, entity_set: str
) -> None:
    url = sandbox.service_url + entity_set
    plain, annotated = page(session, url, False), page(session, url, True)
    assert len(plain) == len(annotated) > 0
    for a, b in zip(plain, annotated, strict=True):
        assert list(a) == list(strip(b))  # same keys in the same order
        assert a == strip(b)
        # and the same JSON types (True == 1 in Python: a boolean must not come back as 0/1)
        assert [type(v) for v in a.values()] == [type(v) for v in strip(b).values()]
    booleans = {value for row in plain for value in row.values() if isinstance(value, bool)}
    assert booleans == ({True, False} if entity_set == "accounts" else booleans) and booleans


def test_a_column_first_filled_by_a_write_is_read_back(sandbox: Sandbox, session: requests.Session) -> None:
    store = sandbox.store
    assert store is not None
    filled = Store.filled_columns(store.connect())
    assert filled is not None and "address2_city" not in filled["account"]
    assert "msdyn_gdproptout" not in filled["account"]
    created = session.post(
        sandbox.service_url + "accounts",
        json={"name": "Fill Test", "address2_city": "Reykjavík"},
        headers={"Prefer": "return=representation"},
    )
    assert created.status_code == 201, created.text
    account_id = created.json()["accountid"]
    url = sandbox.service_url + "accounts?$filter=" + quote(f"accountid eq {account_id}")
    (row,) = page(session, url, False)
    assert row["address2_city"] == "Reykjavík"
    assert row["msdyn_gdproptout"] is False  # the platform's default, filled on create
    updated = session.patch(
        sandbox.service_url + f"accounts({account_id})",
        json={"msdyn_gdproptout": True},
        headers={"If-Match": "*"},
    )
    assert updated.status_code == 204, updated.text
    (row,) = page(session, url, False)
    assert row["msdyn_gdproptout"] is True and row["address2_city"] == "Reykjavík"
    (annotated,) = page(session, url, True)
    assert strip(annotated) == row
    after = Store.filled_columns(store.connect())
    assert after is not None and {"address2_city", "msdyn_gdproptout"} <= after["account"]
