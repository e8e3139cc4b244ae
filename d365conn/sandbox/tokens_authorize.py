"""The authorize endpoint of the sandbox: ``/<tenant>/oauth2/v2.0/authorize`` and ``/oauth2/authorize``.

Owns: the browser leg of the authorization-code flow, made completable without a browser. The
test user is always signed in; with auto-consent on (the default) a valid request is answered at
once with a 302 to the redirect URI carrying ``code`` and ``state``. With auto-consent off, a
request for permissions the user has not consented to gets a small HTML consent form; POSTing it
back (``consent=accept`` or ``consent=deny``) finishes the flow. As with Entra, a bad client or
redirect URI is shown as an error page (never redirected to); every later error is sent to the
redirect URI as ``error``/``error_description``.
"""

from __future__ import annotations

import html
import re
import time
import uuid
from collections.abc import Mapping
from urllib.parse import urlencode

from d365conn.sandbox import tokens_errors as aad
from d365conn.sandbox.response import Response
from d365conn.sandbox.tokens_config import USER_IMPERSONATION, TokenConfig
from d365conn.sandbox.tokens_grants import parse_form
from d365conn.sandbox.tokens_issue import TokenIssuer, parse_delegated_scopes
from d365conn.sandbox.tokens_store import Grant, TokenStore

_COMMON_TENANTS = frozenset({"common", "organizations", "consumers"})
# RFC 7636 4.1/4.2: 43 to 128 unreserved characters.
_PKCE_VALUE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
_HTML = "text/html; charset=utf-8"
_NO_STORE = "no-store, no-cache"


class AuthorizeEndpoint:
    def __init__(self, config: TokenConfig, store: TokenStore, issuer: TokenIssuer) -> None:
        self._config = config
        self._store = store
        self._issuer = issuer

    def handle(
        self,
        *,
        tenant: str,
        version: str,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> Response:
        cfg = self._config
        params = parse_form(query.encode("utf-8"))
        consent_answer: str | None = None
        if method == "POST":
            posted = parse_form(body)
            consent_answer = posted.pop("consent", None)
            params.update(posted)
        # Errors that must not be redirected: the redirect target itself is not trusted yet.
        if tenant.lower() not in _COMMON_TENANTS and not cfg.is_known_tenant(tenant):
            return self._error_page(aad.unknown_tenant(tenant), headers)
        client_id = params.get("client_id", "")
        if not client_id:
            return self._error_page(aad.missing_parameter("client_id"), headers)
        if client_id != cfg.client_id:
            return self._error_page(aad.unknown_client(client_id, cfg.tenant_id), headers)
        redirect_uri = params.get("redirect_uri", "")
        if not redirect_uri:
            return self._error_page(aad.missing_parameter("redirect_uri"), headers)
        if not cfg.redirect_allowed(redirect_uri):
            return self._error_page(aad.redirect_mismatch(redirect_uri, client_id), headers)
        mode = params.get("response_mode", "query")
        state = params.get("state")
        try:
            grant, challenge, challenge_method = self._validate(version, params)
            if self._needs_consent(grant.permissions, params.get("prompt", "")):
                if params.get("prompt") == "none":
                    raise aad.interaction_required(cfg.client_id, cfg.app_name)
                if consent_answer is None:
                    return self._consent_page(path, params, grant.permissions)
                if consent_answer != "accept":
                    raise aad.user_declined()
            self._store.grant_consent(cfg.client_id, grant.permissions)
            code = self._store.new_code(
                grant=grant,
                redirect_uri=redirect_uri,
                code_challenge=challenge,
                code_challenge_method=challenge_method,
                nonce=params.get("nonce"),
                lifetime=cfg.code_lifetime,
            )
        except aad.AadError as err:
            answer = {"error": err.error, "error_description": aad.describe(err, headers)}
            answer["error_uri"] = f"{cfg.issuer_base}/error?code={err.code}"
            if state is not None:
                answer["state"] = state
            return _redirect(redirect_uri, mode, answer)
        answer = {"code": code}
        if state is not None:
            answer["state"] = state
        answer["session_state"] = str(uuid.uuid4())
        if params.get("client_info") == "1":
            answer["client_info"] = self._issuer.client_info()
        return _redirect(redirect_uri, mode, answer)

    def _validate(self, version: str, params: dict[str, str]) -> tuple[Grant, str | None, str]:
        cfg = self._config
        response_type = params.get("response_type", "")
        if not response_type:
            raise aad.missing_parameter("response_type")
        if response_type != "code":
            raise aad.unsupported_response_type(response_type)
        if version == "v2":
            scope = params.get("scope", "")
            if not scope:
                raise aad.missing_parameter("scope")
            requested = parse_delegated_scopes(cfg, scope)
            permissions = requested.permissions or frozenset({USER_IMPERSONATION})
            oidc = requested.oidc_scopes
        else:
            resource = params.get("resource", "")
            if resource and not cfg.is_audience(resource):
                raise aad.unknown_resource(resource, cfg.tenant_id)
            permissions, oidc = frozenset({USER_IMPERSONATION}), frozenset({"openid", "offline_access"})
        challenge = params.get("code_challenge") or None
        method = params.get("code_challenge_method") or ""
        if challenge is None:
            if method:
                raise aad.missing_parameter("code_challenge")
            if cfg.require_pkce:
                raise aad.pkce_required()
        else:
            method = method or "plain"
            if method not in ("S256", "plain") or not _PKCE_VALUE.match(challenge):
                raise aad.malformed_request()
            if method == "S256" and len(challenge) != 43:
                raise aad.malformed_request()
        grant = Grant(cfg.client_id, cfg.user.oid, permissions, oidc, time.time())
        return grant, challenge, method or "plain"

    def _needs_consent(self, permissions: frozenset[str], prompt: str) -> bool:
        cfg = self._config
        if cfg.auto_consent:
            return False
        return prompt == "consent" or not self._store.has_consent(cfg.client_id, permissions)

    def _consent_page(self, path: str, params: dict[str, str], permissions: frozenset[str]) -> Response:
        cfg = self._config
        hidden = _hidden_fields(params)
        items = "\n".join(f"<li>{html.escape(p)}</li>" for p in sorted(permissions))
        page = (
            "<!DOCTYPE html>\n<html><head><title>Permissions requested</title></head><body>\n"
            f"<h1>Permissions requested</h1>\n<p>{html.escape(cfg.app_name)} wants to access "
            f"{html.escape(cfg.audience)} as {html.escape(cfg.user.username)}:</p>\n<ul>\n{items}\n</ul>\n"
            f'<form method="post" action="{html.escape(path)}">\n{hidden}\n'
            '<button type="submit" name="consent" value="accept">Accept</button>\n'
            '<button type="submit" name="consent" value="deny">Cancel</button>\n'
            "</form>\n</body></html>\n"
        )
        return Response(200, {"Content-Type": _HTML, "Cache-Control": "no-store, no-cache"}, page.encode())

    def _error_page(self, err: aad.AadError, headers: Mapping[str, str]) -> Response:
        text = html.escape(aad.describe(err, headers)).replace("\r\n", "<br>\n")
        page = (
            "<!DOCTYPE html>\n<html><head><title>Sign in to your account</title></head><body>\n"
            f"<h1>Sorry, but we're having trouble signing you in.</h1>\n<p>{text}</p>\n</body></html>\n"
        )
        return Response(err.status, {"Content-Type": _HTML, "Cache-Control": _NO_STORE}, page.encode())


def _redirect(redirect_uri: str, mode: str, answer: dict[str, str]) -> Response:
    if mode == "form_post":
        fields = _hidden_fields(answer)
        page = (
            '<!DOCTYPE html>\n<html><body onload="document.forms[0].submit()">\n'
            f'<form method="post" action="{html.escape(redirect_uri)}">\n{fields}\n</form>\n</body></html>\n'
        )
        return Response(200, {"Content-Type": _HTML, "Cache-Control": "no-store, no-cache"}, page.encode())
    if mode == "fragment":
        location = f"{redirect_uri.split('#', 1)[0]}#{urlencode(answer)}"
    else:
        location = f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{urlencode(answer)}"
    return Response(302, {"Location": location, "Cache-Control": "no-store, no-cache"})


def _hidden_fields(values: dict[str, str]) -> str:
    return "\n".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in values.items()
    )
