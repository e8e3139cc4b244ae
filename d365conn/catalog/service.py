"""Which kind of service a ServiceURL points at, and what a Business Central URL says.

Owns: ``detect_service_kind`` (Dataverse / Business Central / any other OData v4 service, told
from the URL alone, no I/O) and ``parse_bc_endpoint`` (tenant, environment, surface, API route and
company of a Business Central URL). The catalog picks its loader from the kind; the planner picks
its capability table from it; the connection uses the BC endpoint for company scoping.

URL shapes recognised (from Microsoft's documentation):
- Dataverse: ``https://<org>.crm.dynamics.com/api/data/v9.2/`` (any ``/api/data/v<n>[.<m>]/``).
- Business Central online: ``https://api.businesscentral.dynamics.com/v2.0/<tenant>/<environment>/``
  followed by ``ODataV4/`` (published web services; company as ``Company('<name>')`` in the path or
  ``?company=<name>``), ``api/v2.0/`` (standard API; ``companies(<id>)`` in the path) or
  ``api/<publisher>/<group>/<version>/`` (custom API pages). The tenant segment may be left out
  (``/v2.0/<environment>/api/v2.0/``) when the token names the tenant.
- Business Central on premises: any host, with ``/ODataV4/`` or ``/api/v2.0/`` in the path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

ServiceKind = Literal["dataverse", "businesscentral", "odata"]
BCSurface = Literal["odatav4", "api"]

BC_HOST = "api.businesscentral.dynamics.com"
_DATAVERSE_PATH = re.compile(r"/api/data/v\d+(?:\.\d+)?(?:/|$)", re.IGNORECASE)
_BC_ODATA = re.compile(r"/ODataV4(?:/|$)", re.IGNORECASE)
_BC_API_V2 = re.compile(r"/api/v2\.0(?:/|$)", re.IGNORECASE)
# ``Company('CRONUS USA, Inc.')`` in the path; quotes inside a name are doubled.
_BC_COMPANY_SEGMENT = re.compile(r"^Company\('((?:[^']|'')*)'\)$", re.IGNORECASE)
_BC_COMPANIES_SEGMENT = re.compile(r"^companies\(([^)]*)\)$", re.IGNORECASE)


def detect_service_kind(service_url: str) -> ServiceKind:
    """``dataverse``, ``businesscentral`` or ``odata`` for a ServiceURL (no I/O)."""
    parts = urlsplit(service_url)
    path = unquote(parts.path)
    if _DATAVERSE_PATH.search(path):
        return "dataverse"
    host = (parts.hostname or "").casefold()
    if host == BC_HOST or _BC_ODATA.search(path) or _BC_API_V2.search(path):
        return "businesscentral"
    return "odata"


@dataclass(frozen=True)
class BCEndpoint:
    """What a Business Central ServiceURL says.

    ``service_root`` is the URL up to and including the surface root (``.../ODataV4/`` or
    ``.../api/v2.0/``), without any company part: that is where ``$metadata`` lives.
    ``company`` is the company named in the URL (a name for ODataV4, an id for the API), if any,
    and ``company_in`` says where it was (``path`` or ``query``).
    """

    service_root: str
    surface: BCSurface
    tenant: str | None = None
    environment: str | None = None
    api_publisher: str | None = None
    api_group: str | None = None
    api_version: str | None = None
    company: str | None = None
    company_in: Literal["path", "query"] | None = None
    online: bool = True


def parse_bc_endpoint(service_url: str) -> BCEndpoint:
    """Split a Business Central ServiceURL into its parts; ValueError if it is not one."""
    parts = urlsplit(service_url)
    raw_segments = [s for s in parts.path.split("/") if s]
    segments = [unquote(s) for s in raw_segments]
    folded = [s.casefold() for s in segments]
    if "odatav4" in folded:
        root_at = folded.index("odatav4")
        surface: BCSurface = "odatav4"
        root_len = 1
    elif (api_at := _root_at_api(folded)) is not None:
        root_at = api_at
        surface = "api"
        root_len = 2 if folded[root_at + 1] == "v2.0" else 4
    else:
        raise ValueError(f"not a Business Central URL (no ODataV4/ or api/ segment): {service_url}")
    online = (parts.hostname or "").casefold() == BC_HOST
    tenant: str | None = None
    environment: str | None = None
    before = segments[:root_at]
    if online and before and before[0].casefold() == "v2.0":
        rest = before[1:]
        if len(rest) >= 2:
            tenant, environment = rest[0], rest[1]
        elif len(rest) == 1:
            environment = rest[0]
    publisher = group = version = None
    if surface == "api":
        api = segments[root_at:root_at + root_len]
        if root_len == 2:
            version = api[1]
        else:
            publisher, group, version = api[1], api[2], api[3]
    end = root_at + root_len
    root_path = "/" + "/".join(raw_segments[:end]) + "/"
    service_root = f"{parts.scheme}://{parts.netloc}{root_path}"
    company: str | None = None
    company_in: Literal["path", "query"] | None = None
    after = segments[end:]
    if after:
        match = _BC_COMPANY_SEGMENT.match(after[0]) or _BC_COMPANIES_SEGMENT.match(after[0])
        if match:
            company = match.group(1).replace("''", "'")
            company_in = "path"
    if company is None:
        query = {k.casefold(): v for k, v in parse_qs(parts.query).items()}
        if query.get("company"):
            company = query["company"][0]
            company_in = "query"
    return BCEndpoint(
        service_root=service_root, surface=surface, tenant=tenant, environment=environment,
        api_publisher=publisher, api_group=group, api_version=version, company=company,
        company_in=company_in, online=online,
    )


def _root_at_api(folded: list[str]) -> int | None:
    """Index of the ``api`` segment that starts an API route (``api/v2.0`` or ``api/<p>/<g>/<v>``)."""
    for i, seg in enumerate(folded):
        if seg != "api" or i + 1 >= len(folded):
            continue
        if folded[i + 1] == "v2.0":
            return i
        if i + 3 < len(folded) and re.match(r"^v\d+\.\d+$", folded[i + 3]):
            return i
    return None
