"""The sandbox's Entra-shaped token service: the one object the HTTP server talks to.

Owns: routing of the token-service paths (tenant-scoped OAuth 2.0 endpoints in v1 and v2 shape,
OpenID discovery, keys, MSAL's instance and user-realm discovery), the bearer-token check the
Web API calls on every request, the counters of token requests, and the ``/_sandbox/tokens``
admin resource tests use to change lifetimes and switches while the sandbox runs. The work
itself is done by the ``tokens_*`` modules: grants, authorize page, issuing, store, discovery.

Request flow: server -> ``handles(path)`` -> ``handle(...)`` -> endpoint -> :class:`Response`.
Web API flow: server -> ``check_bearer(header)`` -> None (go on) or the 401 to send.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote

from d365conn.sandbox import tokens_errors as aad
from d365conn.sandbox.response import Response
from d365conn.sandbox.tokens_authorize import AuthorizeEndpoint
from d365conn.sandbox.tokens_config import TestUser, TokenConfig
from d365conn.sandbox.tokens_discovery import instance_discovery, openid_configuration, user_realm
from d365conn.sandbox.tokens_grants import TokenEndpoint, parse_form
from d365conn.sandbox.tokens_issue import TokenIssuer
from d365conn.sandbox.tokens_jwt import TokenSigner
from d365conn.sandbox.tokens_store import TokenStore

__all__ = ["TestUser", "TokenService"]

_JSON = "application/json; charset=utf-8"
_GRANT_TYPES = frozenset({"client_credentials", "authorization_code", "refresh_token", "password"})
_COMMON = frozenset({"common", "organizations", "consumers"})
#: Switches the admin resource may change, with the type each must have.
_SWITCHES: dict[str, type | tuple[type, ...]] = {
    "token_lifetime": (int, float),
    "refresh_token_max_idle": (int, float),
    "code_lifetime": (int, float),
    "auto_consent": bool,
    "strict_rotation": bool,
    "require_pkce": bool,
    "allow_public_client": bool,
    "redirect_uris": list,
}
_ACTIONS = frozenset({"revoke_refresh_tokens", "expire_access_tokens", "clear_consent", "reset_stats"})


class TokenService:
    """An Entra ID look-alike for one tenant, one client application and one audience."""

    def __init__(  # noqa: PLR0917 - the positional signature is the server's contract
        self,
        issuer_base_url: str,
        tenant_id: str,
        audience: str,
        client_id: str,
        client_secret: str,
        token_lifetime: float,
        *,
        user: TestUser | None = None,
        tenant_domain: str = "sandbox.onmicrosoft.com",
    ) -> None:
        self.config = TokenConfig(
            issuer_base=issuer_base_url,
            tenant_id=tenant_id,
            audience=audience,
            client_id=client_id,
            client_secret=client_secret,
            token_lifetime=float(token_lifetime),
            tenant_domain=tenant_domain,
        )
        if user is not None:
            self.config.user = user
        self._initial = {name: _copy(getattr(self.config, name)) for name in _SWITCHES}
        self._signer = TokenSigner()
        self.store = TokenStore()
        self.issuer = TokenIssuer(self.config, self._signer)
        self._token_endpoint = TokenEndpoint(self.config, self.store, self.issuer)
        self._authorize = AuthorizeEndpoint(self.config, self.store, self.issuer)
        self._stats_lock = threading.Lock()
        self._stats: Counter[str] = Counter()

    def __repr__(self) -> str:
        cfg = self.config
        return (
            f"TokenService(issuer={cfg.issuer_base!r}, tenant={cfg.tenant_id!r}, client_id={cfg.client_id!r})"
        )

    # --- live switches -------------------------------------------------------------------------

    @property
    def token_lifetime(self) -> float:
        return self.config.token_lifetime

    @token_lifetime.setter
    def token_lifetime(self, seconds: float) -> None:
        self.config.token_lifetime = float(seconds)

    @property
    def user(self) -> TestUser:
        """The test user (its password is for the password grant of tests)."""
        return self.config.user

    # --- routing -------------------------------------------------------------------------------

    def handles(self, path: str) -> bool:
        """True for every path this service answers (never for ``/_sandbox/...`` or the Web API)."""
        return _route(_segments(path)) is not None

    def handle(self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes) -> Response:
        segments = _segments(path)
        route = _route(segments)
        cfg = self.config
        if route is None:
            return Response(404, {"Content-Type": _JSON}, b"")
        kind, tenant, version = route
        if kind == "token":
            return self._token(method, tenant, version, headers, body)
        if kind == "authorize":
            self._count("authorize_requests")
            return self._authorize.handle(
                tenant=tenant,
                version=version,
                method=method,
                path=path,
                query=query,
                headers=headers,
                body=body,
            )
        self._count("discovery_requests")
        foreign = tenant and tenant.lower() not in _COMMON and not cfg.is_known_tenant(tenant)
        if kind in ("openid", "keys") and foreign:
            return aad.error_response(aad.unknown_tenant(tenant), cfg.issuer_base, headers)
        if kind == "openid":
            return _json(200, openid_configuration(cfg, version, tenant or cfg.tenant_id))
        if kind == "keys":
            return _json(200, self._signer.jwks(cfg.v2_issuer if version == "v2" else cfg.v1_issuer))
        if kind == "instance":
            params = dict(parse_qsl(query))
            return _json(200, instance_discovery(cfg, params.get("authorization_endpoint", "")))
        if kind == "userrealm":
            return _json(200, user_realm(cfg, unquote(segments[-1])))
        if kind == "logout":
            target = dict(parse_qsl(query)).get("post_logout_redirect_uri")
            if target and cfg.redirect_allowed(target):
                return Response(302, {"Location": target})
            return _html(200, "<h1>You signed out of your account</h1>")
        return _html(200, "<h1>Sign-in error</h1><p>See the error_description of the response.</p>")

    def _token(
        self, method: str, tenant: str, version: str, headers: Mapping[str, str], body: bytes
    ) -> Response:
        cfg = self.config
        grant_type = parse_form(body).get("grant_type", "") if method == "POST" else ""
        label = grant_type if grant_type in _GRANT_TYPES else "other"
        self._count("token_requests", f"token_requests.{label}", f"token_requests.{version}")
        try:
            if method != "POST":
                raise aad.post_only()
            payload = self._token_endpoint.exchange(tenant, version, headers, body)
        except aad.AadError as err:
            self._count(f"token_errors.{err.code}")
            return aad.error_response(err, cfg.issuer_base, headers)
        self._count(f"tokens_issued.{label}")
        headers_out = {"Content-Type": _JSON, "Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}
        return Response(200, headers_out, json.dumps(payload).encode("utf-8"))

    # --- the Web API's check -------------------------------------------------------------------

    def check_bearer(self, authorization: str | None) -> Response | None:
        """None when ``authorization`` carries a live token for the audience, else the 401 to send."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip() and self.issuer.check(token.strip()):
            self._count("bearer.valid")
            return None
        self._count("bearer.rejected")
        cfg = self.config
        challenge = f"Bearer authorization_uri={cfg.authority}/oauth2/authorize, resource_id={cfg.audience}"
        return Response(401, {"WWW-Authenticate": challenge}, b"")

    def mint_access_token(self, *, audience: str | None = None, lifetime: float | None = None) -> str:
        """An app-only access token, minted without HTTP (for tests and in-process callers)."""
        cfg = self.config
        chosen = cfg.token_lifetime if lifetime is None else float(lifetime)
        token, _ = self.issuer.access_token(audience or cfg.audience, None, chosen)
        return token

    # --- counters and admin --------------------------------------------------------------------

    def _count(self, *names: str) -> None:
        with self._stats_lock:
            self._stats.update(names)

    def stats(self) -> dict[str, Any]:
        """Counters: ``token_requests`` (total, ``by_grant_type``, ``by_endpoint``), ``tokens_issued``,
        ``token_errors`` (by AADSTS code), ``authorize_requests``, ``bearer`` checks, store totals."""
        with self._stats_lock:
            snapshot = dict(self._stats)
        counters = self.store.counters

        def group(prefix: str) -> dict[str, int]:
            return {k[len(prefix) :]: v for k, v in sorted(snapshot.items()) if k.startswith(prefix)}

        requests = group("token_requests.")
        return {
            "token_requests": {
                "total": snapshot.get("token_requests", 0),
                "by_grant_type": {k: v for k, v in requests.items() if k not in ("v1", "v2")},
                "by_endpoint": {k: v for k, v in requests.items() if k in ("v1", "v2")},
            },
            "tokens_issued": group("tokens_issued."),
            "token_errors": group("token_errors."),
            "authorize_requests": snapshot.get("authorize_requests", 0),
            "discovery_requests": snapshot.get("discovery_requests", 0),
            "bearer": {
                "valid": snapshot.get("bearer.valid", 0),
                "rejected": snapshot.get("bearer.rejected", 0),
            },
            "codes_issued": counters.codes_issued,
            "refresh_tokens_issued": counters.refresh_tokens_issued,
            "refresh_tokens_redeemed": counters.refresh_tokens_redeemed,
            "live_refresh_tokens": self.store.live_refresh_tokens(),
        }

    def reset_stats(self) -> None:
        with self._stats_lock:
            self._stats.clear()

    def settings(self) -> dict[str, Any]:
        """The current switches and the non-secret identities (never the secret or password)."""
        cfg = self.config
        current = {name: _copy(getattr(cfg, name)) for name in _SWITCHES}
        return {
            **current,
            "tenant_id": cfg.tenant_id,
            "client_id": cfg.client_id,
            "audience": cfg.audience,
            "authority": cfg.authority,
            "username": cfg.user.username,
        }

    def handle_admin(self, method: str, path: str, body: bytes) -> Response:
        """``/_sandbox/tokens``: GET settings and stats; POST/PATCH JSON switches and actions;
        DELETE restores the initial switches and clears the counters."""
        if method == "GET":
            return _json(200, {"settings": self.settings(), "stats": self.stats()})
        if method == "DELETE":
            for name, value in self._initial.items():
                setattr(self.config, name, _copy(value))
            self.reset_stats()
            return _json(200, {"settings": self.settings(), "stats": self.stats()})
        if method not in ("POST", "PATCH"):
            return _admin_error(405, f"Method {method} is not allowed on {path}.")
        try:
            changes = json.loads(body.decode("utf-8") or "{}")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return _admin_error(400, f"The body is not JSON: {exc.msg if hasattr(exc, 'msg') else exc}.")
        if not isinstance(changes, dict):
            return _admin_error(400, "The body must be a JSON object.")
        problem = _check_changes(changes)
        if problem:
            return _admin_error(400, problem)
        for name, value in changes.items():
            if name in _SWITCHES:
                setattr(self.config, name, float(value) if _SWITCHES[name] == (int, float) else _copy(value))
            elif value:
                self._act(name)
        return _json(200, {"settings": self.settings(), "stats": self.stats()})

    def _act(self, action: str) -> None:
        if action == "revoke_refresh_tokens":
            self.store.revoke_all()
        elif action == "expire_access_tokens":
            self.issuer.expire_all()
        elif action == "clear_consent":
            self.store.clear_consent()
        elif action == "reset_stats":
            self.reset_stats()


def _check_changes(changes: dict[str, Any]) -> str | None:
    for name, value in changes.items():
        if name in _ACTIONS:
            if not isinstance(value, bool):
                return f"'{name}' must be true or false."
            continue
        expected = _SWITCHES.get(name)
        if expected is None:
            known = ", ".join(sorted([*_SWITCHES, *_ACTIONS]))
            return f"Unknown setting '{name}'. Known settings: {known}."
        if expected == (int, float):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                return f"'{name}' must be a number of seconds >= 0."
        elif expected is list:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                return f"'{name}' must be a list of strings."
        elif not isinstance(value, bool):
            return f"'{name}' must be true or false."
    return None


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


def _segments(path: str) -> list[str]:
    return path.split("?", 1)[0].strip("/").split("/")


def _route(seg: list[str]) -> tuple[str, str, str] | None:
    """(kind, tenant, version) for a token-service path, else None."""
    if not seg or not seg[0] or seg[0].startswith("_") or seg[0] == "api":
        return None
    if seg == [".well-known", "openid-configuration"]:
        return ("openid", "", "v2")
    if seg[0] == "discovery" and seg[1:] in (["keys"], ["v2.0", "keys"]):
        return ("keys", "", "v2" if len(seg) == 3 else "v1")
    if seg[0] == "error" and len(seg) == 1:
        return ("error", "", "")
    tenant, rest = seg[0], seg[1:]
    if tenant.lower() == "common" and len(rest) == 2 and rest[0] == "userrealm":
        return ("userrealm", tenant, "")
    if tenant.lower() == "common" and rest == ["discovery", "instance"]:
        return ("instance", tenant, "")
    table = {
        ("oauth2", "v2.0", "token"): ("token", "v2"),
        ("oauth2", "token"): ("token", "v1"),
        ("oauth2", "v2.0", "authorize"): ("authorize", "v2"),
        ("oauth2", "authorize"): ("authorize", "v1"),
        ("oauth2", "v2.0", "logout"): ("logout", "v2"),
        ("oauth2", "logout"): ("logout", "v1"),
        ("v2.0", ".well-known", "openid-configuration"): ("openid", "v2"),
        (".well-known", "openid-configuration"): ("openid", "v1"),
        ("discovery", "v2.0", "keys"): ("keys", "v2"),
        ("discovery", "keys"): ("keys", "v1"),
    }
    found = table.get(tuple(rest))
    return (found[0], tenant, found[1]) if found else None


def _json(status: int, payload: Any) -> Response:
    return Response(status, {"Content-Type": _JSON}, json.dumps(payload).encode("utf-8"))


def _html(status: int, fragment: str) -> Response:
    page = f"<!DOCTYPE html>\n<html><body>{fragment}</body></html>\n"
    return Response(status, {"Content-Type": "text/html; charset=utf-8"}, page.encode("utf-8"))


def _admin_error(status: int, message: str) -> Response:
    payload = {"error": {"code": "SandboxAdmin", "message": message}}
    return Response(status, {"Content-Type": _JSON}, json.dumps(payload).encode("utf-8"))
