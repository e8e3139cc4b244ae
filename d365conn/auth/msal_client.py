"""The MSAL side of authentication: Microsoft Entra authorities (and OpenID issuers when asked).

Owns: building the ``msal`` application (confidential with a secret, certificate or assertion,
public otherwise) on the token source's session -- so TLS, proxy and timeout options apply and
``REQUESTS_CA_BUNDLE`` does not -- with MSAL's ``SerializableTokenCache`` persisted to TokenCachePath;
and mapping MSAL's result dicts and exceptions onto :class:`TokenResponse` and d365conn's errors.
MSAL brings Entra specifics we do not want to re-implement: instance and tenant discovery, its
cache format (shared with other MSAL tools), client assertions from a certificate, PKCE flows.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Mapping
from typing import Any

import requests

from ..config import Config
from ..exceptions import AuthenticationError, IssuerUnreachableError
from .assertion import load_certificate
from .cache import TokenCacheFile
from .endpoints import Endpoints, oidc_scope_list
from .errors import Redactor, token_error
from .http import AuthSession, unreachable
from .logscrub import install_msal_scrubber
from .oauth2 import AuthCodeFlow, TokenResponse, parse_token_body

log = logging.getLogger("d365conn.auth")


class MsalClient:
    """A :class:`~d365conn.auth.oauth2.TokenClient` backed by ``msal``."""

    name = "MSAL"

    def __init__(
        self,
        config: Config,
        endpoints: Endpoints,
        session: AuthSession,
        redact: Redactor,
        cache_file: TokenCacheFile | None,
    ) -> None:
        import msal

        install_msal_scrubber()
        self._config = config
        self._endpoints = endpoints
        self._session = session
        self._redact = redact
        self._cache_file = cache_file
        self._cache = msal.SerializableTokenCache()
        if cache_file is not None:
            state = cache_file.msal_state()
            if state:
                self._cache.deserialize(state)
        self._app: Any = None

    def __repr__(self) -> str:
        return f"MsalClient(authority={self._endpoints.authority!r}, client_id={self._config.client_id!r})"

    def _credential(self) -> Any:
        config = self._config
        if config.client_assertion:
            return {"client_assertion": config.client_assertion}
        if config.client_certificate is not None:
            cert = load_certificate(config.client_certificate, config.client_certificate_password)
            return {
                "private_key": cert.private_key_pem,
                "public_certificate": cert.certificate_pem,
            }
        return config.client_secret

    def _application(self) -> Any:
        # Built on first use: MSAL fetches the issuer's metadata in its constructor.
        if self._app is not None:
            return self._app
        import msal

        config = self._config
        kwargs: dict[str, Any] = {
            "token_cache": self._cache,
            "http_client": self._session,
            "app_name": "d365conn",
        }
        if self._endpoints.entra:
            kwargs["authority"] = self._endpoints.authority
        else:
            kwargs["oidc_authority"] = config.authority
            kwargs["instance_discovery"] = False
        credential = self._credential()
        where = self._endpoints.authority or config.authority or self._endpoints.token_uri
        try:
            if credential:
                self._app = msal.ConfidentialClientApplication(
                    config.client_id, client_credential=credential, **kwargs
                )
            else:
                self._app = msal.PublicClientApplication(config.client_id, **kwargs)
        except requests.RequestException as exc:
            raise unreachable(exc, where, "issuer's OpenID metadata") from None
        except ValueError as exc:
            raise IssuerUnreachableError(
                f"MSAL could not use the authority {where}: {self._redact(str(exc))}",
                hint="check TenantID / TokenURI / Authority "
                "(the issuer must serve /.well-known/openid-configuration)",
            ) from None
        return self._app

    def _run(self, grant: str, call: Any, *args: Any, **kwargs: Any) -> TokenResponse:
        app = self._application()
        log.debug(
            "token request via MSAL: %s grant, authority %s, client_id=%s",
            grant,
            self._endpoints.authority or self._config.authority,
            self._config.client_id,
        )
        started = time.time()
        try:
            result = call(app, *args, **kwargs)
        except requests.RequestException as exc:
            raise unreachable(exc, self._endpoints.token_uri) from None
        except ValueError as exc:
            raise AuthenticationError(
                f"{grant} grant: MSAL refused the exchange: {self._redact(str(exc))}"
            ) from None
        finally:
            self._persist()
        if not isinstance(result, dict):
            raise AuthenticationError(
                f"{grant} grant: MSAL found no token (no account or refresh token cached)"
            )
        if "error" in result:
            raise token_error(
                result,
                grant=grant,
                endpoint=self._endpoints.token_uri,
                status=None,
                redact=self._redact,
                request_id=result.get("correlation_id"),
            )
        body = dict(result)
        response = parse_token_body(body, endpoint=self._endpoints.token_uri, obtained_at=started)
        if response.id_claims is None and isinstance(result.get("id_token_claims"), dict):
            response = TokenResponse(
                response.access_token,
                response.obtained_at,
                response.expires_at,
                response.refresh_token,
                response.scopes,
                result["id_token_claims"],
            )
        self._redact.add(response.access_token)
        self._redact.add(response.refresh_token)
        log.debug(
            "token response via MSAL: %s grant, from %s, expires in %s s",
            grant,
            result.get("token_source", "issuer"),
            "unknown" if response.lifetime is None else int(response.lifetime),
        )
        return response

    def _persist(self) -> None:
        if self._cache_file is not None and self._cache.has_state_changed:
            self._cache_file.put_msal_state(self._cache.serialize())

    # --- grants --------------------------------------------------------------------------------

    def client_credentials(self, *, fresh: bool) -> TokenResponse:
        scopes = list(self._endpoints.app_scopes)

        def call(app: Any) -> Any:
            if fresh:  # the service refused the cached token: MSAL must not hand it out again
                app.remove_tokens_for_client()
            return app.acquire_token_for_client(scopes)

        return self._run("ClientCredentials", call)

    def refresh(self, refresh_token: str, grant: str) -> TokenResponse:
        scopes = oidc_scope_list(self._endpoints.delegated_scopes)
        return self._run(grant, lambda app: app.acquire_token_by_refresh_token(refresh_token, scopes))

    def password(self, username: str, password: str) -> TokenResponse:
        scopes = oidc_scope_list(self._endpoints.delegated_scopes)
        return self._run(
            "UserPassword", lambda app: app.acquire_token_by_username_password(username, password, scopes)
        )

    def begin_auth_code(self, redirect_uri: str, state: str | None = None) -> AuthCodeFlow:
        app = self._application()
        scopes = oidc_scope_list(self._endpoints.delegated_scopes)
        with warnings.catch_warnings():
            # MSAL recommends response_mode=form_post; the loopback listener reads the query, which
            # is safe here: the code goes to this machine only and is useless without the PKCE verifier.
            warnings.filterwarnings("ignore", message="response_mode='form_post'")
            flow = app.initiate_auth_code_flow(scopes, redirect_uri=redirect_uri, state=state)
        return AuthCodeFlow(
            auth_uri=flow["auth_uri"],
            redirect_uri=redirect_uri,
            state=flow["state"],
            code_verifier=flow.get("code_verifier", ""),
            data=flow,
        )

    def finish_auth_code(self, flow: AuthCodeFlow, params: Mapping[str, str]) -> TokenResponse:
        return self._run(
            "AuthorizationCode", lambda app: app.acquire_token_by_auth_code_flow(flow.data, dict(params))
        )
