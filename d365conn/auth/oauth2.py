"""A small, plain OAuth 2.0 client over requests, for issuers that are not Microsoft Entra v2.

Owns: the token requests of RFC 6749 (client_credentials, refresh_token, password,
authorization_code with RFC 7636 PKCE) in Entra v2 (``scope=``), v1 (``resource=``) or generic
shape; client authentication in the form body, by HTTP Basic, or by a JWT client assertion;
parsing the token response (``expires_in`` as number or string, ``expires_on``, ``exp`` of a JWT) and
the error body. Speaks to AD FS, the sandbox, any standards-compliant IdP -- and to http on loopback.
Also defines :class:`TokenResponse`, :class:`AuthCodeFlow` and the :class:`TokenClient` protocol
that :mod:`d365conn.auth.msal_client` implements as well.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote, urlencode

import requests

from ..config import Config
from ..exceptions import AuthenticationError, MalformedTokenResponseError, TokenEndpointError
from . import claims as jwt_claims
from .assertion import ASSERTION_TYPE, ClientCertificate, load_certificate, sign_assertion
from .endpoints import Endpoints
from .errors import Redactor, token_error
from .http import AuthSession, unreachable

log = logging.getLogger("d365conn.auth")


@dataclass(frozen=True)
class TokenResponse:
    """A successful token response; the tokens never appear in its repr."""

    access_token: str = field(repr=False)
    obtained_at: float
    expires_at: float | None  # epoch seconds; None when neither the response nor the token says
    refresh_token: str | None = field(default=None, repr=False)
    scopes: tuple[str, ...] = ()
    id_claims: Mapping[str, Any] | None = field(default=None, repr=False)

    @property
    def lifetime(self) -> float | None:
        return None if self.expires_at is None else max(0.0, self.expires_at - self.obtained_at)


@dataclass
class AuthCodeFlow:
    """One authorization-code login in progress: the URL to open and what the exchange needs."""

    auth_uri: str
    redirect_uri: str
    state: str
    code_verifier: str = field(repr=False)
    data: dict[str, Any] = field(default_factory=dict, repr=False)  # MSAL's own flow dict


class TokenClient(Protocol):
    """What a token source needs from an OAuth client (plain or MSAL)."""

    name: str

    def client_credentials(self, *, fresh: bool) -> TokenResponse: ...
    def refresh(self, refresh_token: str, grant: str) -> TokenResponse: ...
    def password(self, username: str, password: str) -> TokenResponse: ...
    def begin_auth_code(self, redirect_uri: str, state: str | None = None) -> AuthCodeFlow: ...
    def finish_auth_code(self, flow: AuthCodeFlow, params: Mapping[str, str]) -> TokenResponse: ...


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge) per RFC 7636."""
    verifier = secrets.token_urlsafe(64)[:96]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=")
    return verifier, challenge.decode("ascii")


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def parse_token_body(body: Mapping[str, Any], *, endpoint: str, obtained_at: float) -> TokenResponse:
    """A TokenResponse from a JSON token response, or MalformedTokenResponseError."""
    access_token = body.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        keys = ", ".join(sorted(str(k) for k in body)) or "nothing"
        raise MalformedTokenResponseError(
            f"the token endpoint {endpoint} answered without an access_token (the response held: {keys})",
            hint="check that TokenURI is the issuer's token endpoint, not its authorize or discovery URL",
        )
    token_type = body.get("token_type", "Bearer")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise MalformedTokenResponseError(
            f"the token endpoint {endpoint} issued a {str(token_type)!r} token; "
            "d365conn sends Bearer tokens only"
        )
    expires_in = _number(body.get("expires_in"))
    expires_on = _number(body.get("expires_on"))
    claims = jwt_claims.peek_claims(access_token)
    if expires_in is not None:
        # Relative to our own clock: immune to skew between us and the issuer.
        expires_at: float | None = obtained_at + expires_in
    elif expires_on is not None:
        expires_at = expires_on
    else:
        expires_at = jwt_claims.expiry(claims)
    refresh_token = body.get("refresh_token")
    scope = body.get("scope")
    id_token = body.get("id_token")
    return TokenResponse(
        access_token=access_token,
        obtained_at=obtained_at,
        expires_at=expires_at,
        refresh_token=refresh_token if isinstance(refresh_token, str) and refresh_token else None,
        scopes=tuple(scope.split()) if isinstance(scope, str) else jwt_claims.scopes(claims),
        id_claims=jwt_claims.peek_claims(id_token) if isinstance(id_token, str) else None,
    )


class PlainOAuthClient:
    """The OAuth 2.0 token endpoint client used for every issuer MSAL does not handle."""

    name = "OAuth2"

    def __init__(self, config: Config, endpoints: Endpoints, session: AuthSession, redact: Redactor) -> None:
        self._config = config
        self._endpoints = endpoints
        self._session = session
        self._redact = redact
        self._certificate: ClientCertificate | None = None
        if config.client_certificate is not None:
            self._certificate = load_certificate(
                config.client_certificate, config.client_certificate_password
            )

    def __repr__(self) -> str:
        return (
            f"PlainOAuthClient(token_uri={self._endpoints.token_uri!r}, client_id={self._config.client_id!r})"
        )

    # --- grants --------------------------------------------------------------------------------

    def client_credentials(self, *, fresh: bool) -> TokenResponse:
        return self._token("ClientCredentials", {"grant_type": "client_credentials"}, app_only=True)

    def refresh(self, refresh_token: str, grant: str) -> TokenResponse:
        return self._token(
            grant, {"grant_type": "refresh_token", "refresh_token": refresh_token}, app_only=False
        )

    def password(self, username: str, password: str) -> TokenResponse:
        form = {"grant_type": "password", "username": username, "password": password}
        return self._token("UserPassword", form, app_only=False)

    def begin_auth_code(self, redirect_uri: str, state: str | None = None) -> AuthCodeFlow:
        auth_uri = self._endpoints.auth_uri
        if not auth_uri:
            raise AuthenticationError(
                "AuthorizationCode grant needs AuthURI: it cannot be derived from this TokenURI",
                hint="set AuthURI to the issuer's authorization endpoint",
            )
        verifier, challenge = pkce_pair()
        state = state or secrets.token_urlsafe(24)
        params: dict[str, str] = {
            "client_id": self._config.client_id or "",
            "response_type": "code",
            "redirect_uri": redirect_uri,
            "response_mode": "query",
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        params.update(self._audience(app_only=False))
        separator = "&" if "?" in auth_uri else "?"
        url = auth_uri + separator + urlencode(params, quote_via=quote)
        return AuthCodeFlow(auth_uri=url, redirect_uri=redirect_uri, state=state, code_verifier=verifier)

    def finish_auth_code(self, flow: AuthCodeFlow, params: Mapping[str, str]) -> TokenResponse:
        form = {
            "grant_type": "authorization_code",
            "code": params.get("code", ""),
            "redirect_uri": flow.redirect_uri,
            "code_verifier": flow.code_verifier,
        }
        return self._token("AuthorizationCode", form, app_only=False)

    # --- the request ---------------------------------------------------------------------------

    def _audience(self, *, app_only: bool) -> dict[str, str]:
        ep = self._endpoints
        out: dict[str, str] = {}
        if ep.style != "v1":
            scopes = ep.app_scopes if app_only else ep.delegated_scopes
            out["scope"] = " ".join(scopes)
        if ep.resource:
            out["resource"] = ep.resource
        return out

    def _client_auth(self, form: dict[str, str]) -> dict[str, str]:
        config = self._config
        headers: dict[str, str] = {}
        client_id = config.client_id or ""
        if config.client_assertion or self._certificate is not None:
            assertion = config.client_assertion
            if assertion is None and self._certificate is not None:
                assertion = sign_assertion(self._certificate, client_id, self._endpoints.token_uri)
                self._redact.add(assertion)
            form.update(
                client_id=client_id, client_assertion_type=ASSERTION_TYPE, client_assertion=assertion or ""
            )
        elif config.client_secret and config.client_authentication == "Basic":
            # RFC 6749 2.3.1: each half is form-urlencoded before joining with ':'.
            pair = f"{quote(client_id, safe='')}:{quote(config.client_secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
        elif config.client_secret:
            form.update(client_id=client_id, client_secret=config.client_secret)
        else:
            form["client_id"] = client_id
        return headers

    def _token(self, grant: str, form: dict[str, str], *, app_only: bool) -> TokenResponse:
        endpoint = self._endpoints.token_uri
        form = dict(form)
        form.update(self._audience(app_only=app_only))
        headers = {"Accept": "application/json"}
        headers.update(self._client_auth(form))
        log.debug(
            "token request: %s grant, %s endpoint %s, client_id=%s, client auth=%s, %s",
            grant,
            self._endpoints.style,
            endpoint,
            self._config.client_id,
            "Basic" if "Authorization" in headers else "body",
            "scope=" + form["scope"] if "scope" in form else "resource=" + form.get("resource", ""),
        )
        started = time.time()
        try:
            response = self._session.post(endpoint, data=form, headers=headers)
        except requests.RequestException as exc:
            raise unreachable(exc, endpoint) from None
        return self._read(response, grant, endpoint, started)

    def _read(self, response: requests.Response, grant: str, endpoint: str, started: float) -> TokenResponse:
        request_id = response.headers.get("x-ms-request-id") or response.headers.get("client-request-id")
        content_type = response.headers.get("Content-Type", "")
        try:
            body = response.json()
        except (ValueError, json.JSONDecodeError):
            body = None
        if response.status_code != 200:
            if isinstance(body, dict) and "error" in body:
                err = token_error(
                    body,
                    grant=grant,
                    endpoint=endpoint,
                    status=response.status_code,
                    redact=self._redact,
                    request_id=request_id,
                )
                log.debug(
                    "token response: HTTP %s %s (AADSTS %s)", response.status_code, err.code, err.aadsts
                )
                raise err
            raise TokenEndpointError(
                f"{grant} grant: the token endpoint {endpoint} answered HTTP {response.status_code} "
                f"({content_type or 'no content type'}) without an OAuth 2.0 error",
                hint="check TokenURI: it must be the issuer's token endpoint",
                status=response.status_code,
                request_id=request_id,
            )
        if not isinstance(body, dict):
            raise MalformedTokenResponseError(
                f"the token endpoint {endpoint} answered HTTP 200 with {content_type or 'no content type'}, "
                "not a JSON token response",
                hint="check TokenURI: it must be the issuer's token endpoint",
                status=200,
            )
        result = parse_token_body(body, endpoint=endpoint, obtained_at=started)
        self._redact.add(result.access_token)
        self._redact.add(result.refresh_token)
        log.debug(
            "token response: %s grant, expires in %s s, refresh token %s",
            grant,
            "unknown" if result.lifetime is None else int(result.lifetime),
            "returned" if result.refresh_token else "not returned",
        )
        return result
