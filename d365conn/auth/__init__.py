"""Authentication: bearer tokens for the transport, from any OAuth 2.0 grant a connection string names.

Owns: :func:`token_source_for`, the one entry point of the rest of the driver. It picks the grant
(:mod:`.grants`), and returns the process-wide :class:`TokenSource` for that set of credentials --
created on first use, shared by every connection and thread that uses the same credentials (the
registry is keyed by a hash of them, never by the secrets themselves). See docs/authentication.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from dataclasses import fields

from ..config import Config
from . import grants
from .base import TokenInfo, TokenSource
from .source import NoAuthSource, OAuthTokenSource, RefreshTokenCallback

__all__ = [
    "NoAuthSource",
    "OAuthTokenSource",
    "RefreshTokenCallback",
    "TokenInfo",
    "TokenSource",
    "clear_token_sources",
    "credentials_key",
    "token_source_for",
]

# Options that change which tokens are obtained or how; everything else (paging, SQL...) does not.
_IRRELEVANT = frozenset(
    {
        "driver",
        "service_type",
        "statement_timeout",
        "retry_count",
        "page_size",
        "include_formatted_values",
        "sql_dialect",
        "schema_map",
        "schema_refresh",
        "autocommit",
        "company",
    }
)

_registry: dict[str, OAuthTokenSource] = {}
_registry_lock = threading.Lock()
_NO_AUTH = NoAuthSource()


def credentials_key(config: Config, grant: str) -> str:
    """A SHA-256 over the grant and every token-relevant option (secrets included, only as digest input)."""
    values = {f.name: getattr(config, f.name) for f in fields(config) if f.name not in _IRRELEVANT}
    if config.client_certificate is not None:
        with contextlib.suppress(OSError):  # a renewed certificate at the same path is a new credential
            values["client_certificate_mtime"] = config.client_certificate.stat().st_mtime_ns
    values["grant"] = grant
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def token_source_for(config: Config, on_refresh_token: RefreshTokenCallback | None = None) -> TokenSource:
    """The shared token source for ``config``'s credentials.

    ``on_refresh_token`` (``connect(..., token_callback=...)``) is called with each new refresh token
    the issuer rotates in, so the caller can store it; several connections may each add one.
    Raises ConfigurationError when the grant lacks an option (``"RefreshToken grant needs ClientID"``).
    No network I/O happens here: the first token is fetched by the first ``authorization()``.
    """
    grant = grants.select_grant(config)
    if grant == grants.NONE:
        return _NO_AUTH
    key = credentials_key(config, grant)
    with _registry_lock:
        source = _registry.get(key)
        if source is None:
            source = OAuthTokenSource(config, grant)
            _registry[key] = source
    source.add_callback(on_refresh_token)
    return source


def clear_token_sources() -> None:
    """Forget every shared token source (tests; a process that rotates credentials)."""
    with _registry_lock:
        _registry.clear()
