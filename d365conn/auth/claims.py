"""Reading what a JWT access token says about itself, without trusting it.

Owns: peeking at the claims of a token (expiry, identity, scopes) so the driver can refresh ahead
of ``exp`` and tell the user who they are signed in as. Signatures are not checked: the service
checks them; we only read our own token to plan. Opaque (non-JWT) tokens simply yield nothing.
"""

from __future__ import annotations

import base64
import json
from typing import Any

#: Claims that name a signed-in user, best first.
_USER_CLAIMS = ("upn", "preferred_username", "unique_name", "email")
#: Claims that name the application (app-only tokens) or, last, the subject.
_APP_CLAIMS = ("app_displayname", "appid", "azp", "client_id", "sub")


def peek_claims(token: str) -> dict[str, Any] | None:
    """The payload of a JWT as a dict, or None when ``token`` is not a readable JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1]
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return claims if isinstance(claims, dict) else None


def expiry(claims: dict[str, Any] | None) -> float | None:
    """The ``exp`` claim as epoch seconds, when present and numeric."""
    if not claims:
        return None
    value = claims.get("exp")
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def identity(claims: dict[str, Any] | None, id_claims: dict[str, Any] | None = None) -> str | None:
    """Who the token speaks for: the user's sign-in name (from the access token, else the ID token),
    else the application."""
    for source, names in ((claims, _USER_CLAIMS), (id_claims, _USER_CLAIMS), (claims, _APP_CLAIMS)):
        for name in names:
            value = (source or {}).get(name)
            if isinstance(value, str) and value:
                return value
    return None


def scopes(claims: dict[str, Any] | None) -> tuple[str, ...]:
    """Delegated scopes (``scp``) or application roles (``roles``) the token carries."""
    if not claims:
        return ()
    scp = claims.get("scp") or claims.get("scope")
    if isinstance(scp, str):
        return tuple(scp.split())
    roles = claims.get("roles")
    if isinstance(roles, list):
        return tuple(str(r) for r in roles)
    return ()
