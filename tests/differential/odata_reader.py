"""A deliberately tiny OData reader for the differential tests: plain ``requests``, nothing from d365conn.

Owns: getting a token by client credentials, reading an entity type's property types from ``$metadata``
(CSDL), and reading every row of an entity set (``$select`` + ``@odata.nextLink`` to the end). It is
the *independent* read path the reference engine is loaded from, so it shares no code with the driver
(or with the sandbox): if both read the data the same wrong way, the comparison would prove nothing.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import urljoin

import requests

EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


class ODataReader:
    """Reads a service root with one keep-alive session; ``token_uri`` None means no authentication."""

    def __init__(
        self,
        service_url: str,
        *,
        token_uri: str | None = None,
        client_id: str = "",
        client_secret: str = "",
        scope: str = "",
        page_size: int | None = 1000,
        annotations: bool = True,
    ) -> None:
        self.service_url = service_url if service_url.endswith("/") else service_url + "/"
        self.session = requests.Session()
        self.session.trust_env = False  # loopback servers only: no proxy from the environment
        self.session.headers.update(
            {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"}
        )
        # No page size: the server pages as it likes (CAP: 1,000 rows, then @odata.nextLink).
        prefer = [f"odata.maxpagesize={page_size}"] if page_size is not None else []
        if annotations:
            prefer.insert(0, 'odata.include-annotations="*"')
        self.prefer = ",".join(prefer)
        self.requests = 0
        self.next_links: list[str] = []
        if token_uri is not None:
            answer = self.session.post(
                token_uri,
                data={
                    "grant_type": "client_credentials",
                    "client_id": client_id,
                    "client_secret": client_secret,
                    "scope": scope,
                },
                timeout=30,
            )
            if answer.status_code != 200:
                raise RuntimeError(f"token request failed: HTTP {answer.status_code}")
            self.session.headers["Authorization"] = "Bearer " + answer.json()["access_token"]

    def close(self) -> None:
        self.session.close()

    def property_types(self) -> dict[str, dict[str, str]]:
        """Entity type name -> {property name: Edm type} from ``$metadata``."""
        answer = self.session.get(
            self.service_url + "$metadata", headers={"Accept": "application/xml"}, timeout=60
        )
        answer.raise_for_status()
        root = ET.fromstring(answer.content)
        types: dict[str, dict[str, str]] = {}
        for entity in root.iter(EDM + "EntityType"):
            props = {p.get("Name", ""): p.get("Type", "") for p in entity.findall(EDM + "Property")}
            types[entity.get("Name", "")] = props
        return types

    def rows(self, entity_set: str, select: list[str]) -> Iterator[dict[str, Any]]:
        """Every row of ``entity_set`` with the selected properties (JSON decimals kept exact)."""
        url: str | None = f"{self.service_url}{entity_set}?$select={','.join(select)}"
        while url is not None:
            answer = self.session.get(url, headers={"Prefer": self.prefer} if self.prefer else {}, timeout=60)
            self.requests += 1
            if answer.status_code != 200:
                raise RuntimeError(f"GET {url} failed: HTTP {answer.status_code} {answer.text[:300]}")
            page = json.loads(answer.content, parse_float=Decimal)
            yield from page["value"]
            link = page.get("@odata.nextLink")
            if link is not None:
                self.next_links.append(link)
            # A relative nextLink (CAP sends one) resolves against the URL of the page it came on.
            url = urljoin(url, link) if link is not None else None
