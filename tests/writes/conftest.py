"""A sandbox of the write tests' own (writes change data other suites count), and an independent
reader: plain ``requests`` with a token from a client-credentials POST -- no driver code -- so that
what the driver wrote is checked by something that shares nothing with it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import requests

import d365conn
from d365conn.sandbox import Sandbox


class Reader:
    """Reads rows of the sandbox over plain HTTP."""

    def __init__(self, sb: Sandbox) -> None:
        self.root = sb.service_url
        answer = requests.post(
            sb.token_uri,
            data={"grant_type": "client_credentials", "client_id": sb.client_id,
                  "client_secret": sb.client_secret, "scope": sb.scope},
            timeout=30,
        )  # fmt: skip
        answer.raise_for_status()
        self.headers = {
            "Authorization": f"Bearer {answer.json()['access_token']}",
            "Accept": "application/json",
            "OData-Version": "4.0",
            "OData-MaxVersion": "4.0",
        }

    def get(self, path: str) -> requests.Response:
        return requests.get(self.root + path, headers=self.headers, timeout=30)

    def rows(self, entity_set: str, odata_filter: str, select: str) -> list[dict[str, Any]]:
        answer = self.get(f"{entity_set}?$select={select}&$filter={quote(odata_filter, safe=' ()=,/$')}")
        answer.raise_for_status()
        return list(answer.json()["value"])

    def one(self, entity_set: str, key: object, select: str) -> dict[str, Any] | None:
        answer = self.get(f"{entity_set}({key})?$select={select}")
        if answer.status_code == 404:
            return None
        answer.raise_for_status()
        return dict(answer.json())

    def patch(self, entity_set: str, key: object, body: dict[str, Any]) -> None:
        answer = requests.patch(
            f"{self.root}{entity_set}({key})",
            json=body,
            headers={**self.headers, "If-Match": "*"},
            timeout=30,
        )
        answer.raise_for_status()


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(rows=40, seed=7) as sb:
        yield sb


@pytest.fixture(scope="session")
def reader(sandbox: Sandbox) -> Reader:
    return Reader(sandbox)


@pytest.fixture
def connect(sandbox: Sandbox) -> Iterator[Any]:
    """``connect(**options)`` -> an open connection; closed after the test, faults switched off."""
    opened: list[d365conn.Connection] = []

    def open_one(**options: Any) -> d365conn.Connection:
        conn = d365conn.connect(sandbox.connection_string, **options)
        opened.append(conn)
        return conn

    yield open_one
    assert sandbox.faults is not None
    sandbox.faults.reset()
    for conn in opened:
        conn.close()


@pytest.fixture
def tag() -> str:
    """A unique text to mark the rows one test writes."""
    return f"t{uuid.uuid4().hex[:10]}"
