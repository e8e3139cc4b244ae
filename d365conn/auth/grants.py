"""Which OAuth 2.0 grant a configuration asks for, and whether it holds what that grant needs.

Owns: the inference rules documented in docs/authentication.md (an explicit AuthenticationMethod
wins; otherwise the tokens and credentials present decide) and the "X grant needs Y" errors.
Endpoint checks live in :mod:`d365conn.auth.endpoints`; this module looks only at the options.
"""

from __future__ import annotations

from ..config import Config
from ..exceptions import ConfigurationError

CLIENT_CREDENTIALS = "ClientCredentials"
REFRESH_TOKEN = "RefreshToken"
ACCESS_TOKEN = "AccessToken"
AUTHORIZATION_CODE = "AuthorizationCode"
USER_PASSWORD = "UserPassword"
NONE = "None"

#: Grants that act for a signed-in user (delegated scopes, refresh tokens).
DELEGATED = frozenset({REFRESH_TOKEN, AUTHORIZATION_CODE, USER_PASSWORD})


def has_client_credential(config: Config) -> bool:
    """True when the configuration can authenticate the client itself (secret, certificate, assertion)."""
    return bool(config.client_secret or config.client_certificate or config.client_assertion)


def select_grant(config: Config) -> str:
    """The grant to use: AuthenticationMethod when given, else inferred (first rule that applies).

    1. AccessToken given -> AccessToken (renewed through rules 2 or 4 when it expires);
    2. RefreshToken given -> RefreshToken;
    3. LogonID and Password given -> UserPassword;
    4. ClientID with a secret, certificate or assertion -> ClientCredentials;
    5. ClientID alone -> AuthorizationCode (tokens from ``d365conn login`` in TokenCachePath);
    6. nothing of the above -> None (an open OData service).
    """
    if config.authentication_method:
        return config.authentication_method
    if config.access_token:
        return ACCESS_TOKEN
    if config.refresh_token:
        return REFRESH_TOKEN
    if config.logon_id and config.password:
        return USER_PASSWORD
    if config.client_id and has_client_credential(config):
        return CLIENT_CREDENTIALS
    if config.client_id:
        return AUTHORIZATION_CODE
    return NONE


def check_options(config: Config, grant: str) -> None:
    """Raise ConfigurationError naming the grant and the first option it lacks."""
    missing: str | None = None
    if grant == CLIENT_CREDENTIALS:
        if not config.client_id:
            missing = "ClientID"
        elif not has_client_credential(config):
            missing = "ClientSecret, ClientCertificate or ClientAssertion"
    elif grant == REFRESH_TOKEN:
        if not config.client_id:
            missing = "ClientID"
        elif not (config.refresh_token or config.token_cache_path):
            missing = "RefreshToken (or a TokenCachePath filled by `d365conn login`)"
    elif grant == AUTHORIZATION_CODE:
        if not config.client_id:
            missing = "ClientID"
    elif grant == USER_PASSWORD:
        for option, value in (
            ("ClientID", config.client_id),
            ("LogonID", config.logon_id),
            ("Password", config.password),
        ):
            if not value:
                missing = option
                break
    elif grant == ACCESS_TOKEN and not config.access_token:
        missing = "AccessToken"
    if missing:
        raise ConfigurationError(f"{grant} grant needs {missing}")
    if config.client_certificate is not None and not config.client_certificate.is_file():
        raise ConfigurationError(
            f"ClientCertificate {str(config.client_certificate)!r} is not a readable file"
        )


def renewal_grant(config: Config) -> str | None:
    """How an expired AccessToken is renewed: RefreshToken, ClientCredentials or None (it cannot be)."""
    if config.client_id and (config.refresh_token or config.token_cache_path):
        return REFRESH_TOKEN
    if config.client_id and has_client_credential(config):
        return CLIENT_CREDENTIALS
    return None
