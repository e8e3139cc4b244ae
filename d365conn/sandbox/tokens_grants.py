"""The token endpoint of the sandbox: ``/<tenant>/oauth2/v2.0/token`` and ``/<tenant>/oauth2/token``.

Owns: reading a token request (form body, client authentication in the body or by HTTP Basic),
the four grants (client_credentials, authorization_code with PKCE, refresh_token with rotation,
password) in their v1 (``resource=``) and v2 (``scope=``) shapes, and the JSON token response of
each endpoint version. Every refusal is an :class:`AadError`; the caller renders it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from d365conn.sandbox import tokens_errors as aad
from d365conn.sandbox.tokens_config import USER_IMPERSONATION, TokenConfig
from d365conn.sandbox.tokens_issue import TokenIssuer, check_app_scope, parse_delegated_scopes
from d365conn.sandbox.tokens_jwt import b64url
from d365conn.sandbox.tokens_store import Grant, TokenStore

_COMMON_TENANTS = frozenset({"common", "organizations", "consumers"})


def parse_form(body: bytes) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body; the first of repeated names wins."""
    form: dict[str, str] = {}
    for name, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        form.setdefault(name, value)
    return form


def _basic_credentials(headers: Mapping[str, str]) -> tuple[str, str] | None:
    value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    if not sep:
        return None
    # RFC 6749 2.3.1: both halves are form-urlencoded before they are joined.
    return unquote_plus(user), unquote_plus(password)


def _secrets_equal(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8"))


class TokenEndpoint:
    """Answers token requests for one tenant, client and audience."""

    def __init__(self, config: TokenConfig, store: TokenStore, issuer: TokenIssuer) -> None:
        self._config = config
        self._store = store
        self._issuer = issuer

    def exchange(self, tenant: str, version: str, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        """The token response for a POSTed form (``version`` is "v1" or "v2"), or raise AadError."""
        cfg = self._config
        common = tenant.lower() in _COMMON_TENANTS
        if not common and not cfg.is_known_tenant(tenant):
            raise aad.unknown_tenant(tenant)
        form = parse_form(body)
        basic = _basic_credentials(headers)
        client_id = form.get("client_id", "")
        secret: str | None = form.get("client_secret") or None
        if basic is not None:
            if client_id and client_id != basic[0]:
                raise aad.unknown_client(basic[0], cfg.tenant_id)
            client_id = basic[0]
            if secret is not None and secret != basic[1]:
                raise aad.bad_secret(client_id)
            secret = basic[1]
        grant_type = form.get("grant_type", "")
        if not grant_type:
            raise aad.missing_parameter("grant_type")
        if not client_id:
            raise aad.missing_parameter("client_id")
        if client_id != cfg.client_id:
            raise aad.unknown_client(client_id, cfg.tenant_id if not common else tenant)
        if secret is not None and not _secrets_equal(secret, cfg.client_secret):
            raise aad.bad_secret(client_id)
        if grant_type == "client_credentials":
            if common:
                raise aad.no_tenant_information()
            if secret is None:
                raise aad.missing_secret()
            return self._client_credentials(version, form)
        if grant_type not in ("authorization_code", "refresh_token", "password"):
            raise aad.unsupported_grant(grant_type)
        if secret is None and not cfg.allow_public_client:
            raise aad.missing_secret()
        if grant_type == "authorization_code":
            return self._authorization_code(version, form)
        if grant_type == "refresh_token":
            return self._refresh_token(version, form)
        return self._password(version, form)

    # --- grants --------------------------------------------------------------------------------

    def _client_credentials(self, version: str, form: dict[str, str]) -> dict[str, Any]:
        cfg = self._config
        if version == "v2":
            scope = form.get("scope", "")
            if not scope:
                raise aad.missing_parameter("scope")
            check_app_scope(cfg, scope)
            audience = cfg.audience.rstrip("/")
            return self._response(
                version=version, audience=audience, grant=None, refresh=None, id_token=None, scope=None
            )
        resource = self._v1_resource(form, required=True)
        return self._response(
            version=version, audience=resource, grant=None, refresh=None, id_token=None, scope=None
        )

    def _authorization_code(self, version: str, form: dict[str, str]) -> dict[str, Any]:
        cfg = self._config
        code = form.get("code", "")
        if not code:
            raise aad.missing_parameter("code")
        redirect_uri = form.get("redirect_uri", "")
        if not redirect_uri:
            raise aad.missing_parameter("redirect_uri")
        entry = self._store.take_code(code)
        # Codes are bound to the client: with one registered client, checked in exchange().
        if entry.redirect_uri != redirect_uri:
            raise aad.redirect_mismatch(redirect_uri, cfg.client_id)
        if entry.code_challenge is not None:
            verifier = form.get("code_verifier", "")
            if not verifier:
                raise aad.missing_parameter("code_verifier")
            if not _pkce_matches(verifier, entry.code_challenge, entry.code_challenge_method):
                raise aad.verifier_mismatch()
        grant = entry.grant
        if version == "v2" and form.get("scope"):
            # The scopes of this leg must be a subset of what the authorize leg granted.
            requested = parse_delegated_scopes(cfg, form["scope"])
            if not requested.permissions <= grant.permissions:
                raise aad.consent_required(cfg.client_id, cfg.app_name)
        return self._delegated_response(version, grant, form, entry.nonce)

    def _refresh_token(self, version: str, form: dict[str, str]) -> dict[str, Any]:
        cfg = self._config
        token = form.get("refresh_token", "")
        if not token:
            raise aad.missing_parameter("refresh_token")
        # Validate the request before redeeming: a bad scope must not burn a single-use token.
        requested = (
            parse_delegated_scopes(cfg, form["scope"]) if version == "v2" and form.get("scope") else None
        )
        if version == "v1" and form.get("resource"):
            self._v1_resource(form, required=True)
        grant = self._store.redeem_refresh_token(token, cfg.refresh_token_max_idle, cfg.strict_rotation)
        if requested is not None:
            wanted = requested.permissions or (grant.permissions if requested.default else frozenset())
            if not self._consented(wanted) and not wanted <= grant.permissions:
                raise aad.consent_required(cfg.client_id, cfg.app_name)
            # The refresh token keeps the offline_access of the original grant.
            oidc = requested.oidc_scopes | (grant.oidc_scopes & {"offline_access"})
            grant = Grant(grant.client_id, grant.user_oid, wanted or grant.permissions, oidc, grant.auth_time)
        return self._delegated_response(version, grant, form, None)

    def _password(self, version: str, form: dict[str, str]) -> dict[str, Any]:
        cfg = self._config
        username, password = form.get("username", ""), form.get("password", "")
        if not username:
            raise aad.missing_parameter("username")
        if not password:
            raise aad.missing_parameter("password")
        if version == "v2":
            if not form.get("scope"):
                raise aad.missing_parameter("scope")
            requested = parse_delegated_scopes(cfg, form["scope"])
            permissions = requested.permissions or frozenset({USER_IMPERSONATION})
            oidc = requested.oidc_scopes
        else:
            self._v1_resource(form, required=True)
            permissions, oidc = frozenset({USER_IMPERSONATION}), frozenset({"openid", "offline_access"})
        if username.lower() != cfg.user.username.lower():
            raise aad.unknown_user(cfg.tenant_domain)
        if not _secrets_equal(password, cfg.user.password):
            raise aad.bad_user_credentials()
        # The password grant cannot show a consent page: consent must already exist.
        if not self._consented(permissions):
            raise aad.consent_required(cfg.client_id, cfg.app_name)
        grant = Grant(cfg.client_id, cfg.user.oid, permissions, oidc, time.time())
        return self._delegated_response(version, grant, form, None)

    # --- helpers -------------------------------------------------------------------------------

    def _consented(self, permissions: frozenset[str]) -> bool:
        return self._config.auto_consent or self._store.has_consent(self._config.client_id, permissions)

    def _v1_resource(self, form: dict[str, str], required: bool) -> str:
        resource = form.get("resource", "")
        if not resource:
            if required:
                raise aad.missing_parameter("resource")
            return self._config.audience
        if not self._config.is_audience(resource):
            raise aad.unknown_resource(resource, self._config.tenant_id)
        return resource

    def _delegated_response(
        self, version: str, grant: Grant, form: dict[str, str], nonce: str | None
    ) -> dict[str, Any]:
        cfg = self._config
        if version == "v2":
            audience = cfg.audience.rstrip("/")
            scope_items = [f"{audience}/{p}" for p in sorted(grant.permissions)]
            scope_items += sorted(grant.oidc_scopes)
            offline = "offline_access" in grant.oidc_scopes
            with_id = "openid" in grant.oidc_scopes
        else:
            audience = form.get("resource") or cfg.audience
            scope_items = sorted(grant.permissions)
            offline = with_id = True
        refresh = self._store.new_refresh_token(grant) if offline else None
        id_token = self._issuer.id_token(grant, version, nonce) if with_id else None
        payload = self._response(
            version=version,
            audience=audience,
            grant=grant,
            refresh=refresh,
            id_token=id_token,
            scope=" ".join(scope_items),
        )
        if form.get("client_info") == "1":
            payload["client_info"] = self._issuer.client_info()
        return payload

    def _response(
        self,
        *,
        version: str,
        audience: str,
        grant: Grant | None,
        refresh: str | None,
        id_token: str | None,
        scope: str | None,
    ) -> dict[str, Any]:
        lifetime = max(0.0, float(self._config.token_lifetime))
        access, expires = self._issuer.access_token(audience, grant, lifetime)
        expires_in = max(0, math.floor(lifetime))
        payload: dict[str, Any] = {"token_type": "Bearer"}
        if version == "v2":
            if scope is not None:
                payload["scope"] = scope
            payload.update({"expires_in": expires_in, "ext_expires_in": expires_in, "access_token": access})
        else:
            # The v1 endpoint sends its numbers as strings.
            now = int(time.time())
            if scope is not None:
                payload["scope"] = scope
            payload.update(
                {
                    "expires_in": str(expires_in),
                    "ext_expires_in": str(expires_in),
                    "expires_on": str(int(expires)),
                    "not_before": str(now),
                    "resource": audience,
                    "access_token": access,
                }
            )
        if refresh is not None:
            payload["refresh_token"] = refresh
        if id_token is not None:
            payload["id_token"] = id_token
        return payload


def _pkce_matches(verifier: str, challenge: str, method: str) -> bool:
    if method == "S256":
        computed = b64url(hashlib.sha256(verifier.encode("ascii", "replace")).digest())
        return hmac.compare_digest(computed, challenge)
    return hmac.compare_digest(verifier.encode("utf-8", "replace"), challenge.encode("utf-8", "replace"))
