"""The token source: one per set of credentials, shared by every connection and thread using them.

Owns: the token lifecycle. ``authorization()`` hands out the current bearer token and renews it
ahead of expiry (``TokenRefreshMargin``, at most half the token's lifetime) -- single-flight: the
first thread that finds the token stale renews it under the lock, the others wait and reuse its
result. ``invalidate()`` (after a 401) drops the refused token so the next call renews it once.
Rotated refresh tokens are kept in memory, in TokenCachePath and handed to callbacks. Which
client talks to the issuer (MSAL or the plain OAuth client) is decided here, once, lazily: no
network I/O happens before the first token is needed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import sys
import threading
import time
import webbrowser
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from ..config import Config
from ..exceptions import (
    AuthenticationError,
    InteractionRequiredError,
    MalformedTokenResponseError,
    TokenExpiredError,
)
from . import claims as jwt_claims
from . import endpoints as ep
from . import grants
from .base import TokenInfo
from .cache import TokenCacheFile, digest
from .errors import Redactor
from .http import AuthSession, unreachable
from .oauth2 import AuthCodeFlow, PlainOAuthClient, TokenClient, TokenResponse

log = logging.getLogger("d365conn.auth")

RefreshTokenCallback = Callable[[str], None]


@dataclass(frozen=True)
class _Current:
    header: str = field(repr=False)
    obtained_at: float
    expires_at: float | None
    refresh_at: float | None
    identity: str | None
    scopes: tuple[str, ...]
    via: str  # the grant that produced it

    def stale(self, now: float) -> bool:
        return self.refresh_at is not None and now >= self.refresh_at


def family_key(config: Config, grant: str) -> str:
    """Names the cache record: issuer, client, audience and user -- not the grant or the tokens,
    so ``d365conn login`` (AuthorizationCode) and the RefreshToken string it prints share it."""
    delegated = grant in grants.DELEGATED or (
        grant == grants.ACCESS_TOKEN and grants.renewal_grant(config) == grants.REFRESH_TOKEN
    )
    parts = [
        config.token_uri,
        config.tenant_id,
        config.authority,
        config.client_id,
        config.scope,
        config.resource,
        ep.default_audience(config.service_url),
        config.logon_id,
        "delegated" if delegated else "app",
    ]
    return hashlib.sha256(json.dumps(parts).encode("utf-8")).hexdigest()[:32]


class OAuthTokenSource:
    """A :class:`~d365conn.auth.base.TokenSource` for every OAuth 2.0 grant."""

    def __init__(self, config: Config, grant: str) -> None:
        grants.check_options(config, grant)
        self.grant = grant
        self._config = config
        self._lock = threading.RLock()
        self._current: _Current | None = None
        self._refresh_token = config.refresh_token
        self._seed = digest(config.refresh_token)
        self._given_access_token_spent = False
        self._force_fresh = False
        self._callbacks: list[RefreshTokenCallback] = []
        self._redact = Redactor(
            [
                config.client_secret,
                config.password,
                config.refresh_token,
                config.access_token,
                config.client_assertion,
                config.proxy_password,
                config.client_certificate_password,
            ]
        )
        self._session = AuthSession(config)
        self._cache = TokenCacheFile(config.token_cache_path) if config.token_cache_path else None
        self._key = family_key(config, grant)
        self._client: TokenClient | None = None
        self._endpoints: ep.Endpoints | None = None
        self._loaded = False
        #: Token requests this source made (renewals, not cache hits); for diagnostics.
        self.requests_made = 0
        #: Opens the sign-in page for InteractiveLogin=true (embedders may replace it).
        self.open_browser: Callable[[str], object] = webbrowser.open

    def __repr__(self) -> str:
        return f"OAuthTokenSource(grant={self.grant!r}, client_id={self._config.client_id!r})"

    # --- configuration, resolved lazily ----------------------------------------------------------

    def add_callback(self, callback: RefreshTokenCallback | None) -> None:
        if callback is not None:
            with self._lock:
                if all(existing is not callback for existing in self._callbacks):
                    self._callbacks.append(callback)

    @property
    def endpoints(self) -> ep.Endpoints:
        with self._lock:
            if self._endpoints is None:
                self._endpoints = ep.resolve(self._config, self.grant, self._discover())
            return self._endpoints

    def _discover(self) -> dict[str, Any] | None:
        config = self._config
        if config.token_uri and (config.auth_uri or self.grant != grants.AUTHORIZATION_CODE):
            return None
        if not config.token_uri and not config.tenant_id and not config.authority:
            return self._challenge()
        if not config.authority or config.tenant_id or ep.is_entra_url(config.authority):
            return None
        ep.check_secure(config.authority, "Authority")
        url = config.authority.rstrip("/") + "/.well-known/openid-configuration"
        try:
            response = self._session.get(url, headers={"Accept": "application/json"})
        except requests.RequestException as exc:
            raise unreachable(exc, url, "issuer's OpenID metadata") from None
        try:
            doc = response.json()
        except ValueError:
            doc = None
        if response.status_code != 200 or not isinstance(doc, dict):
            raise MalformedTokenResponseError(
                f"Authority {config.authority}: {url} answered HTTP {response.status_code} "
                "without OpenID metadata",
                hint="Authority must be the issuer URL (it serves /.well-known/openid-configuration)",
            )
        return doc

    def _challenge(self) -> dict[str, Any] | None:
        """Neither TokenURI, TenantID nor Authority: ask the service who issues its tokens (the
        ``WWW-Authenticate`` challenge of an unauthenticated request names the tenant)."""
        url = self._config.service_root
        try:
            response = self._session.get(url, headers={"Accept": "application/json"})
        except requests.RequestException as exc:
            raise unreachable(exc, url, "service (to discover its tenant)") from None
        token_uri = None
        if response.status_code == 401:
            token_uri = ep.token_uri_from_challenge(response.headers.get("WWW-Authenticate", ""), url)
        log.debug("token source: the service's challenge names %s", token_uri or "no usable issuer")
        return {"token_endpoint": token_uri} if token_uri else None

    @property
    def client(self) -> TokenClient:
        with self._lock:
            if self._client is None:
                endpoints = self.endpoints
                if ep.use_msal(self._config, endpoints):
                    from .msal_client import MsalClient

                    self._client = MsalClient(
                        self._config, endpoints, self._session, self._redact, self._cache
                    )
                else:
                    self._client = PlainOAuthClient(self._config, endpoints, self._session, self._redact)
                log.debug(
                    "token source: %s grant via %s client, %s endpoint %s",
                    self.grant,
                    self._client.name,
                    endpoints.style,
                    endpoints.token_uri,
                )
            return self._client

    def _load_cache(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        if self._cache is None:
            return
        record = self._cache.record(self._key)
        if not record:
            return
        if self._seed is not None and record.get("seed") != self._seed:
            return  # the connection string names another token family: it wins over the cache
        # No RefreshToken given (or the same family): continue the cached family.
        seed = record.get("seed")
        self._seed = seed if isinstance(seed, str) else None
        cached_rt = record.get("refresh_token")
        if isinstance(cached_rt, str) and cached_rt:
            self._refresh_token = cached_rt
            self._redact.add(cached_rt)
        at, expires_at, obtained_at = (
            record.get("access_token"),
            record.get("expires_at"),
            record.get("obtained_at"),
        )
        if (
            self.grant != grants.ACCESS_TOKEN
            and isinstance(at, str)
            and at
            and isinstance(expires_at, (int, float))
            and isinstance(obtained_at, (int, float))
        ):
            self._redact.add(at)
            current = self._make_current(TokenResponse(at, float(obtained_at), float(expires_at)), "cache")
            if not current.stale(time.time()):
                self._current = current
                log.debug(
                    "token source: reusing the cached access token (expires in %d s)",
                    expires_at - time.time(),
                )

    # --- the TokenSource protocol ----------------------------------------------------------------

    def authorization(self) -> str | None:
        current = self._current
        if current is not None and not current.stale(time.time()):
            return current.header
        with self._lock:  # single flight: one renewal, the waiting threads reuse it
            self._load_cache()
            current = self._current
            if current is not None and not current.stale(time.time()):
                return current.header
            self._current = self._renew()
            return self._current.header

    def invalidate(self, authorization: str) -> None:
        with self._lock:
            current = self._current
            if current is None or current.header != authorization:
                return  # already renewed by another thread
            log.debug("token source: the service refused the %s token; it will be renewed", current.via)
            self._current = None
            self._force_fresh = True
            if current.via == grants.ACCESS_TOKEN:
                self._given_access_token_spent = True
                if grants.renewal_grant(self._config) is None:
                    raise self._expired_error(current.expires_at, refused=True)

    def info(self) -> TokenInfo:
        current = self._current
        if current is None:
            return TokenInfo(grant=self.grant)
        expires = (
            None
            if current.expires_at is None
            else dt.datetime.fromtimestamp(current.expires_at, dt.timezone.utc)
        )
        return TokenInfo(
            grant=self.grant, expires_at=expires, identity=current.identity, scopes=current.scopes
        )

    # --- renewal ---------------------------------------------------------------------------------

    def _renew(self) -> _Current:
        fresh, self._force_fresh = self._force_fresh, False
        grant = self.grant
        if grant == grants.ACCESS_TOKEN:
            given = self._given_access_token()
            if given is not None:
                return given
            grant = grants.renewal_grant(self._config) or ""
            if grant == grants.REFRESH_TOKEN and not self._refresh_token:
                grant = grants.CLIENT_CREDENTIALS if grants.has_client_credential(self._config) else ""
            if not grant:
                raise self._expired_error(
                    jwt_claims.expiry(jwt_claims.peek_claims(self._config.access_token or "")),
                    refused=self._given_access_token_spent,
                )
        self.requests_made += 1
        if grant == grants.CLIENT_CREDENTIALS:
            response = self.client.client_credentials(fresh=fresh)
        elif grant == grants.USER_PASSWORD and not self._refresh_token:
            response = self.client.password(self._config.logon_id or "", self._config.password or "")
        elif self._refresh_token:
            try:
                response = self.client.refresh(self._refresh_token, self.grant)
            except InteractionRequiredError:
                if grant != grants.USER_PASSWORD:
                    raise
                # The password is still at hand: sign in again rather than fail.
                response = self.client.password(self._config.logon_id or "", self._config.password or "")
        elif grant == grants.AUTHORIZATION_CODE and self._config.interactive_login:
            response = self.login(open_browser=self.open_browser, on_url=_tell_user)
            return self._current or self._make_current(response, grant)
        else:
            self.requests_made -= 1
            raise AuthenticationError(
                f"{self.grant} grant has no refresh token yet"
                + (
                    f" (TokenCachePath {str(self._cache.path)!r} holds none for these credentials)"
                    if self._cache
                    else ""
                ),
                hint='run `d365conn login "<connection string>"` once (it keeps tokens in TokenCachePath, '
                "prints a connection string with RefreshToken=), or set InteractiveLogin=true",
            )
        return self._adopt(response, grant)

    def _given_access_token(self) -> _Current | None:
        """The configured AccessToken while it is usable, else None."""
        token = self._config.access_token
        if not token or self._given_access_token_spent:
            return None
        token_claims = jwt_claims.peek_claims(token)
        expires_at = jwt_claims.expiry(token_claims)
        now = time.time()
        if expires_at is not None and now >= expires_at:
            self._given_access_token_spent = True
            return None
        # The given token is used until it expires (no margin: nothing better may be at hand).
        return _Current(
            f"Bearer {token}",
            now,
            expires_at,
            expires_at,
            jwt_claims.identity(token_claims),
            jwt_claims.scopes(token_claims),
            grants.ACCESS_TOKEN,
        )

    def _expired_error(self, expires_at: float | None, *, refused: bool) -> TokenExpiredError:
        when = (
            f" at {dt.datetime.fromtimestamp(expires_at, dt.timezone.utc):%Y-%m-%d %H:%M:%S} UTC"
            if expires_at
            else ""
        )
        what = "was refused by the service" if refused and not when else f"expired{when}"
        return TokenExpiredError(
            f"the AccessToken {what} and nothing in the connection string can renew it",
            hint="add RefreshToken= (with ClientID) or ClientID with ClientSecret, or get a new token with "
            '`d365conn login "<connection string>"`',
            status=401 if refused else None,
        )

    def _make_current(self, response: TokenResponse, via: str) -> _Current:
        token_claims = jwt_claims.peek_claims(response.access_token)
        expires_at = response.expires_at
        refresh_at = None
        if expires_at is not None:
            lifetime = max(0.0, expires_at - response.obtained_at)
            refresh_at = expires_at - min(self._config.token_refresh_margin, lifetime / 2)
        identity = jwt_claims.identity(token_claims, dict(response.id_claims or {}))
        return _Current(
            f"Bearer {response.access_token}",
            response.obtained_at,
            expires_at,
            refresh_at,
            identity,
            response.scopes or jwt_claims.scopes(token_claims),
            via,
        )

    def _adopt(self, response: TokenResponse, via: str) -> _Current:
        """Take a new token response: keep a rotated refresh token, tell the callbacks, save the cache."""
        current = self._make_current(response, via)
        rotated = response.refresh_token is not None and response.refresh_token != self._refresh_token
        if response.refresh_token:
            self._refresh_token = response.refresh_token
        self._save(response)
        if rotated and response.refresh_token:
            log.debug("token source: the issuer rotated the refresh token; the newest is kept")
            for callback in list(self._callbacks):
                try:
                    callback(response.refresh_token)
                except Exception as exc:  # a user's callback must not break the connection
                    log.warning("token source: the refresh-token callback failed: %s", type(exc).__name__)
        return current

    def _save(self, response: TokenResponse) -> None:
        if self._cache is None:
            return
        record = {
            "seed": self._seed,
            "refresh_token": self._refresh_token,
            "access_token": response.access_token,
            "obtained_at": response.obtained_at,
            "expires_at": response.expires_at,
            "grant": self.grant,
            "updated_at": time.time(),
        }
        self._cache.put_record(self._key, record)

    # --- interactive login (AuthorizationCode) -----------------------------------------------------

    def login(
        self,
        *,
        open_browser: Callable[[str], object] | None = None,
        timeout: float = 300.0,
        on_url: Callable[[str], object] | None = None,
    ) -> TokenResponse:
        """Sign a user in through the browser (loopback redirect) and adopt the tokens.

        The refresh token obtained becomes the seed of the cache record, so the connection string
        printed with it (``RefreshToken=...``) continues this token family.
        """
        from .interactive import run_loopback_login

        with self._lock:
            response = run_loopback_login(self, open_browser=open_browser, timeout=timeout, on_url=on_url)
            self.adopt_login(response)
            return response

    def adopt_login(self, response: TokenResponse) -> None:
        """Adopt tokens obtained by an authorization-code exchange (login or a procedure)."""
        with self._lock:
            self._loaded = True
            if response.refresh_token:
                self._seed = digest(response.refresh_token)
            self._current = self._adopt(response, grants.AUTHORIZATION_CODE)

    def begin_auth_code(self, redirect_uri: str, state: str | None = None) -> AuthCodeFlow:
        with self._lock:
            return self.client.begin_auth_code(redirect_uri, state)

    def redeem_refresh_token(self, refresh_token: str) -> TokenResponse:
        """Exchange ``refresh_token`` now and adopt the result (the RefreshOAuthAccessToken procedure)."""
        with self._lock:
            self._loaded = True
            self._redact.add(refresh_token)
            self._refresh_token = refresh_token
            self.requests_made += 1
            response = self.client.refresh(refresh_token, grants.REFRESH_TOKEN)
            self._current = self._adopt(response, grants.REFRESH_TOKEN)
            return response

    def finish_auth_code(self, flow: AuthCodeFlow, params: Mapping[str, str]) -> TokenResponse:
        with self._lock:
            self.requests_made += 1
            return self.client.finish_auth_code(flow, params)

    @property
    def redactor(self) -> Redactor:
        return self._redact

    @property
    def session(self) -> AuthSession:
        return self._session


def _tell_user(url: str) -> None:
    # InteractiveLogin=true is for desktop use: the user needs the URL if no browser opens.
    print(f"d365conn: sign in at {url}", file=sys.stderr, flush=True)


class NoAuthSource:
    """AuthenticationMethod=None: no Authorization header (open OData services)."""

    grant = grants.NONE

    def authorization(self) -> str | None:
        return None

    def invalidate(self, authorization: str) -> None:
        raise AuthenticationError(
            "the service answered 401 Unauthorized, but AuthenticationMethod=None sends no credentials",
            hint="set ClientID with ClientSecret (or another grant): see docs/authentication.md",
            status=401,
        )

    def info(self) -> TokenInfo:
        return TokenInfo(grant=grants.NONE)

    def __repr__(self) -> str:
        return "NoAuthSource()"
