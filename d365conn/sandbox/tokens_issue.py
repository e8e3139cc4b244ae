"""Minting and checking the sandbox's access and ID tokens, and reading scopes.

Owns: how a v2 ``scope`` or v1 ``resource`` request maps to the Web API's permissions, the claims
of access tokens (Entra v1 shape, as Dataverse receives them) and ID tokens, the JSON token
response of the v1 and v2 endpoints, and the server-side check of a bearer token (signature,
issuer, audience, not-before, expiry). Expiry is checked against the exact instant the token was
minted for (kept by its ``uti``), so a one-second lifetime means one second, not up to two.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from d365conn.sandbox import tokens_errors as aad
from d365conn.sandbox.tokens_config import OIDC_SCOPES, USER_IMPERSONATION, TokenConfig
from d365conn.sandbox.tokens_jwt import TokenSigner, b64url, unsigned_id
from d365conn.sandbox.tokens_store import Grant

_PERMISSIONS = frozenset({USER_IMPERSONATION})
_ID_TOKEN_LIFETIME = 3600.0
_CACHE_LIMIT = 4096


@dataclass(frozen=True)
class ScopeRequest:
    """A parsed v2 ``scope`` parameter."""

    permissions: frozenset[str]
    oidc_scopes: frozenset[str]
    default: bool
    raw: tuple[str, ...]


def parse_delegated_scopes(config: TokenConfig, scope: str) -> ScopeRequest:
    """Read a v2 delegated ``scope``; unknown resources and permissions are AadErrors."""
    permissions: set[str] = set()
    oidc: set[str] = set()
    default = False
    items = tuple(scope.split())
    for item in items:
        if item.lower() in OIDC_SCOPES:
            oidc.add(item.lower())
            continue
        resource, _, permission = item.rpartition("/")
        if not resource:
            # A bare permission names Microsoft Graph, which the sandbox tenant does not have.
            raise aad.invalid_scope(item)
        if not config.is_audience(resource):
            raise aad.unknown_resource(resource, config.tenant_id)
        if permission == ".default":
            default = True
        elif permission in _PERMISSIONS:
            permissions.add(permission)
        else:
            raise aad.invalid_scope(item)
    if not permissions and not default and not oidc:
        raise aad.invalid_scope(scope)
    return ScopeRequest(frozenset(permissions), frozenset(oidc), default, items)


def check_app_scope(config: TokenConfig, scope: str) -> None:
    """A client-credentials v2 ``scope`` must be exactly ``<audience>/.default``."""
    items = scope.split()
    if len(items) != 1:
        raise aad.invalid_scope(scope)
    resource, _, permission = items[0].rpartition("/")
    if not resource:
        raise aad.invalid_scope(items[0])
    if not config.is_audience(resource):
        raise aad.unknown_resource(resource, config.tenant_id)
    if permission != ".default":
        raise aad.client_credentials_scope(items[0])


class TokenIssuer:
    """Mints tokens for one token service and checks the bearer tokens it is shown."""

    def __init__(self, config: TokenConfig, signer: TokenSigner) -> None:
        self._config = config
        self._signer = signer
        self._lock = threading.Lock()
        #: uti -> exact (issued, expiry) instants of every access token minted.
        self._minted: dict[str, tuple[float, float]] = {}
        #: token -> exact (issued, expiry) of tokens whose signature and claims already checked out.
        self._verified: dict[str, tuple[float, float]] = {}
        #: Access tokens minted before this instant are refused (a key roll-over, in effect).
        self.valid_from = 0.0

    # --- minting -------------------------------------------------------------------------------

    def access_token(self, audience: str, grant: Grant | None, lifetime: float) -> tuple[str, float]:
        """An access token for ``audience`` (app-only when ``grant`` is None) and its expiry."""
        cfg = self._config
        now = time.time()
        expires = now + lifetime
        uti = unsigned_id()[:22]
        claims: dict[str, Any] = {
            "aud": audience,
            "iss": cfg.v1_issuer,
            "iat": int(now),
            "nbf": int(now),
            "exp": round(expires),
            "aio": unsigned_id()[:40],
            "appid": cfg.client_id,
            "appidacr": "1" if grant is None else "0",
            "idp": cfg.v1_issuer,
            "rh": unsigned_id()[:30],
            "tid": cfg.tenant_id,
            "uti": uti,
            "ver": "1.0",
        }
        if grant is None:
            claims.update({"oid": cfg.app_oid, "sub": cfg.app_oid, "idtyp": "app"})
        else:
            user = cfg.user
            claims.update(
                {
                    "acr": "1",
                    "amr": ["pwd"],
                    "family_name": user.family_name,
                    "given_name": user.given_name,
                    "idtyp": "user",
                    "ipaddr": "127.0.0.1",
                    "name": user.display_name,
                    "oid": user.oid,
                    "scp": " ".join(sorted(grant.permissions)) or USER_IMPERSONATION,
                    "sub": user.oid,
                    "unique_name": user.username,
                    "upn": user.username,
                }
            )
        token = self._signer.sign(claims)
        with self._lock:
            if len(self._minted) > _CACHE_LIMIT:
                self._minted = {k: v for k, v in self._minted.items() if v[1] > now}
            self._minted[uti] = (now, expires)
        return token, expires

    def id_token(self, grant: Grant, version: str, nonce: str | None) -> str:
        cfg = self._config
        now = int(time.time())
        claims: dict[str, Any] = {
            "aud": cfg.client_id,
            "iss": cfg.v2_issuer if version == "v2" else cfg.v1_issuer,
            "iat": now,
            "nbf": now,
            "exp": now + int(_ID_TOKEN_LIFETIME),
            "name": cfg.user.display_name,
            "oid": cfg.user.oid,
            "preferred_username": cfg.user.username,
            "rh": unsigned_id()[:30],
            "sub": cfg.user.oid,
            "tid": cfg.tenant_id,
            "uti": unsigned_id()[:22],
            "ver": "2.0" if version == "v2" else "1.0",
        }
        if version == "v1":
            claims.update({"upn": cfg.user.username, "unique_name": cfg.user.username, "amr": ["pwd"]})
        if nonce:
            claims["nonce"] = nonce
        return self._signer.sign(claims)

    def client_info(self) -> str:
        return b64url(json.dumps({"uid": self._config.user.oid, "utid": self._config.tenant_id}).encode())

    # --- checking ------------------------------------------------------------------------------

    def check(self, token: str) -> bool:
        """True when ``token`` was minted here, for the audience, and is live right now."""
        now = time.time()
        with self._lock:
            known = self._verified.get(token)
        if known is None:
            claims = self._signer.verify(token)
            if claims is None or not self._claims_ok(claims):
                return False
            uti = claims.get("uti")
            with self._lock:
                minted = self._minted.get(uti) if isinstance(uti, str) else None
                known = minted or (float(claims["iat"]), float(claims["exp"]))
                if len(self._verified) > _CACHE_LIMIT:
                    self._verified.clear()
                self._verified[token] = known
        issued, expiry = known
        return now < expiry and issued >= self.valid_from

    def _claims_ok(self, claims: dict[str, Any]) -> bool:
        cfg = self._config
        aud, exp, nbf, iat = (claims.get(k) for k in ("aud", "exp", "nbf", "iat"))
        if not isinstance(aud, str) or not cfg.is_audience(aud):
            return False
        if claims.get("iss") != cfg.v1_issuer or claims.get("tid") != cfg.tenant_id:
            return False
        if not all(isinstance(v, int) for v in (exp, nbf, iat)):
            return False
        # Entra allows five minutes of clock skew on nbf.
        return isinstance(nbf, int) and nbf <= time.time() + 300

    def expire_all(self) -> None:
        """Make every access token minted so far invalid; later ones are fine."""
        self.valid_from = time.time()
