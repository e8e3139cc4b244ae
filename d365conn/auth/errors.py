"""Turning token-endpoint refusals and transport failures into d365conn exceptions with a hint.

Owns: reading an OAuth 2.0 error body (``error``, ``error_description``, Entra's ``error_codes``
and ``AADSTS<n>``), picking the exception class (InvalidClientError, InteractionRequiredError,
TokenEndpointError), the hint that tells the user what to do, and :class:`Redactor`, which masks
every secret the driver holds in any text that leaves this package. Nothing here does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..exceptions import (
    AuthenticationError,
    InteractionRequiredError,
    InvalidClientError,
    TokenEndpointError,
)

_AADSTS = re.compile(r"AADSTS(\d+)")
_LOGIN = 'run `d365conn login "<connection string>"` to sign in again, then use the RefreshToken it prints'

#: AADSTS number -> (exception class, hint). Texts follow Entra's error reference.
_AADSTS_HINTS: dict[int, tuple[type[TokenEndpointError], str]] = {
    700082: (InteractionRequiredError, f"The refresh token expired after 90 days without use: {_LOGIN}"),
    70008: (InteractionRequiredError, f"The refresh token or authorization code expired: {_LOGIN}"),
    50173: (InteractionRequiredError, f"The grant was revoked (password change or admin action): {_LOGIN}"),
    54005: (InteractionRequiredError, "The authorization code was already redeemed: start the login again"),
    70000: (InteractionRequiredError, f"The refresh token or code is not valid for this client: {_LOGIN}"),
    9002313: (InteractionRequiredError, f"The refresh token or code is malformed or unknown: {_LOGIN}"),
    65001: (
        InteractionRequiredError,
        "The application has no consent for this user or tenant: an administrator must grant consent "
        "for ClientID (Entra admin center > Enterprise applications > Permissions), or sign in with "
        "`d365conn login` and accept",
    ),
    65004: (
        InteractionRequiredError,
        "The user declined consent: sign in again with `d365conn login` and accept",
    ),
    50076: (
        InteractionRequiredError,
        "Multi-factor authentication is required, which the UserPassword grant cannot satisfy: use "
        "AuthenticationMethod=AuthorizationCode (`d365conn login`)",
    ),
    50079: (
        InteractionRequiredError,
        "The user must register for multi-factor authentication: use `d365conn login` (AuthorizationCode)",
    ),
    7000215: (
        InvalidClientError,
        "Check ClientSecret: it must be the secret's Value (not its Secret ID) and must not have expired "
        "(Entra admin center > App registrations > Certificates & secrets)",
    ),
    7000222: (InvalidClientError, "The client secret has expired: create a new one and update ClientSecret"),
    7000218: (
        InvalidClientError,
        "The issuer wants a client credential: set ClientSecret or ClientCertificate, or enable "
        "'Allow public client flows' on the app registration",
    ),
    700016: (
        InvalidClientError,
        "No application with this ClientID exists in the tenant: check ClientID and TenantID/TokenURI, "
        "and that the app is consented in this tenant",
    ),
    700027: (
        InvalidClientError,
        "The client assertion was refused: check that ClientCertificate's certificate is uploaded to the "
        "app registration and has not expired",
    ),
    90002: (
        TokenEndpointError,
        "The tenant does not exist: check TenantID (a GUID or a domain such as contoso.onmicrosoft.com) "
        "and that TokenURI points at the right cloud",
    ),
    90033: (TokenEndpointError, "The tenant's issuer is temporarily unavailable: try again later"),
    50059: (TokenEndpointError, "No tenant was named: set TenantID or a TokenURI that contains the tenant"),
    50126: (TokenEndpointError, "Wrong LogonID or Password"),
    50034: (TokenEndpointError, "The user (LogonID) does not exist in this tenant"),
    500011: (
        TokenEndpointError,
        "The resource was not found in this tenant: check ServiceURL, Scope/Resource and TenantID "
        "(the environment must belong to the tenant)",
    ),
    70011: (
        TokenEndpointError,
        "The scope is not valid: check Scope (space-separated, e.g. <origin>/.default)",
    ),
    1002012: (TokenEndpointError, "Client credentials need a scope ending in /.default: check Scope"),
    50011: (
        TokenEndpointError,
        "Register RedirectURI on the app registration (Authentication > Redirect URIs)",
    ),
    501481: (TokenEndpointError, "The PKCE code verifier did not match: start the login again"),
    70003: (
        TokenEndpointError,
        "The issuer does not support this grant: choose another AuthenticationMethod",
    ),
}

#: OAuth ``error`` -> (exception class, hint), for issuers without AADSTS numbers.
_ERROR_HINTS: dict[str, tuple[type[TokenEndpointError], str]] = {
    "invalid_client": (
        InvalidClientError,
        "Check ClientID and ClientSecret (or the certificate) and that the secret has not expired; "
        "try ClientAuthentication=Basic if the issuer wants HTTP Basic",
    ),
    "unauthorized_client": (
        InvalidClientError,
        "The client may not use this grant: check the app registration",
    ),
    "invalid_grant": (InteractionRequiredError, f"The refresh token, code or password was refused: {_LOGIN}"),
    "interaction_required": (InteractionRequiredError, f"The user must sign in interactively: {_LOGIN}"),
    "consent_required": (
        InteractionRequiredError,
        "Consent is missing: sign in with `d365conn login` and accept",
    ),
    "login_required": (InteractionRequiredError, f"The user must sign in: {_LOGIN}"),
    "invalid_scope": (TokenEndpointError, "Check Scope (or Resource): the issuer does not know it"),
    "unsupported_grant_type": (TokenEndpointError, "The issuer does not support this grant"),
    "invalid_request": (
        TokenEndpointError,
        "The issuer found the request malformed: check the options above",
    ),
    "invalid_tenant": (TokenEndpointError, "Check TenantID"),
    "access_denied": (InteractionRequiredError, "The user or the issuer denied access"),
    "temporarily_unavailable": (TokenEndpointError, "The issuer is temporarily unavailable: try again later"),
}


class Redactor:
    """Masks the secret values it knows in text: the client secret, passwords, tokens seen so far."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets: set[str] = set()
        for value in secrets:
            self.add(value)

    def add(self, value: str | None) -> None:
        # Very short values would mask ordinary words; real secrets are long.
        if value and len(value) >= 6:
            self._secrets.add(value)

    def __call__(self, text: str) -> str:
        for value in sorted(self._secrets, key=len, reverse=True):
            if value in text:
                text = text.replace(value, "***")
        return text


def _first_line(text: str) -> str:
    # Entra appends "Trace ID / Correlation ID / Timestamp" lines; the first line is the message.
    return text.strip().splitlines()[0].strip() if text.strip() else ""


def aadsts_number(body: Mapping[str, Any]) -> int | None:
    codes = body.get("error_codes")
    if isinstance(codes, list) and codes and isinstance(codes[0], int) and not isinstance(codes[0], bool):
        return codes[0]
    match = _AADSTS.search(str(body.get("error_description") or ""))
    return int(match.group(1)) if match else None


def token_error(
    body: Mapping[str, Any],
    *,
    grant: str,
    endpoint: str,
    status: int | None,
    redact: Redactor,
    request_id: str | None = None,
) -> TokenEndpointError:
    """The exception for an OAuth 2.0 error body from ``endpoint``."""
    error = str(body.get("error") or "error")
    description = redact(_first_line(str(body.get("error_description") or "")))
    number = aadsts_number(body)
    cls, hint = _ERROR_HINTS.get(error, (TokenEndpointError, "See the issuer's message above"))
    if number is not None and number in _AADSTS_HINTS:
        cls, hint = _AADSTS_HINTS[number]
    suberror = body.get("suberror")
    if suberror == "consent_required" and number is None:
        cls, hint = _ERROR_HINTS["consent_required"]
    detail = description or error
    if number is not None and f"AADSTS{number}" not in detail:
        detail = f"AADSTS{number}: {detail}"
    message = (
        f"{grant} grant: the token endpoint {redact(endpoint)} refused the request: {redact(error)}: {detail}"
    )
    return cls(
        message,
        hint=hint,
        status=status,
        code=redact(error),
        request_id=request_id,
        aadsts=number,
        description=description,
    )


def error_from_redirect(params: Mapping[str, str], *, endpoint: str, redact: Redactor) -> AuthenticationError:
    """The exception for an ``error=`` sent back to the redirect URI by the authorize endpoint."""
    return token_error(dict(params), grant="AuthorizationCode", endpoint=endpoint, status=None, redact=redact)
