"""SQLAlchemy URLs for d365conn: from ``d365conn://<org host>/<path>?<options>`` to a connection string.

Owns: :func:`connection_string_from_url`. The URL carries the same options as a DataDirect-style
connection string; nothing here knows which options exist (``config.py`` checks them, with its
"did you mean" errors).

- ``d365conn://contoso.crm.dynamics.com/api/data/v9.2/?ClientID=...&ClientSecret=${D365_SECRET}&TenantID=...``
  -> ``ServiceURL=https://contoso.crm.dynamics.com/api/data/v9.2/;ClientID=...;...`` (``https`` unless
  the driver part says ``+http``: ``d365conn+http://127.0.0.1:8080/api/data/v9.2/`` for the sandbox).
  The path defaults to ``/api/data/v9.2/`` (Dataverse); a Business Central or OData URL keeps its own.
- ``d365conn://<client id>:<client secret>@host/...``: the user and password parts are the
  ClientID and ClientSecret (URL-encode a secret's special characters), as BI tools' forms expect.
- Query values may hold ``${ENV}`` references; the driver expands them.
- ``d365conn:///?ConnectionString=<url-encoded string>`` passes a whole connection string (further
  query options override its keys); ``d365conn://`` alone uses ``$D365CONN_CONNECTION_STRING``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..config import CONNECTION_STRING_ENV, canonical_name
from ..connstr import join_pairs, split_pairs
from ..exceptions import ConfigurationError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

DEFAULT_PATH = "/api/data/v9.2/"
_WHOLE_STRING_KEYS = ("connectionstring", "connection_string")


def _scheme(drivername: str) -> str:
    _, _, driver = drivername.partition("+")
    if driver in ("", "https"):
        return "https"
    if driver == "http":
        return "http"
    raise ConfigurationError(f"d365conn URLs are d365conn://, d365conn+https:// or d365conn+http://, not {drivername}://")


def _single(key: str, value: str | Sequence[str]) -> str:
    if isinstance(value, str):
        return value
    if len(value) != 1:
        raise ConfigurationError(f"URL option {key} is given {len(value)} times")
    return value[0]


def connection_string_from_url(url: URL) -> str:
    """A d365conn connection string from a SQLAlchemy URL."""
    scheme = _scheme(url.drivername)
    host, port, database, username, password = url.host, url.port, url.database, url.username, url.password
    options = {key: _single(key, value) for key, value in url.query.items()}
    base = ""
    for key in list(options):
        if key.casefold() in _WHOLE_STRING_KEYS:
            base = options.pop(key)
    if not host and not base:
        base = os.environ.get(CONNECTION_STRING_ENV, "")
        if not base:
            raise ConfigurationError(
                "the URL names no service: use d365conn://<org host>/api/data/v9.2/?..., "
                f"?ConnectionString=..., or set ${CONNECTION_STRING_ENV}"
            )
    pairs = split_pairs(base) if base else []
    # Compare canonical names, so ?URL=... replaces a ServiceURL= of the base string (aliases).
    overridden = {canonical_name(k) for k in options}
    if host:
        overridden.add(canonical_name("ServiceURL"))
    if username:
        overridden.add(canonical_name("ClientID"))
    if password:
        overridden.add(canonical_name("ClientSecret"))
    merged = [(k, v) for k, v in pairs if canonical_name(k) not in overridden]
    if host:
        path = "/" + (database or "").lstrip("/") if database else DEFAULT_PATH
        netloc = f"{host}:{port}" if port else host
        merged.append(("ServiceURL", f"{scheme}://{netloc}{path}"))
    if username:
        merged.append(("ClientID", username))
    if password:
        merged.append(("ClientSecret", password))
    merged.extend(options.items())
    return join_pairs(merged)
