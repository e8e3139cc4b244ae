"""Entra ID (AADSTS) error answers of the sandbox token service.

Owns: the catalogue of AADSTS errors the token service can raise and the JSON body shape Entra
sends for them (``error``, ``error_description`` with trace lines, ``error_codes``, ``timestamp``,
``trace_id``, ``correlation_id``, ``error_uri``). Handlers raise :class:`AadError`; the service
turns it into a :class:`Response` once, here. Messages follow the texts Entra sends; values
that could be secret (client secrets, passwords, tokens) are never put into a message.
"""

from __future__ import annotations

import datetime as _dt
import json
import uuid
from collections.abc import Mapping

from d365conn.sandbox.response import Response

# Entra echoes a caller's client-request-id as the correlation id; longer values are cut so a
# hostile header cannot blow up the body.
_MAX_ECHO = 200


class AadError(Exception):
    """An error the token endpoint answers with, in Entra's terms."""

    def __init__(self, status: int, error: str, code: int, message: str, suberror: str | None = None) -> None:
        super().__init__(f"AADSTS{code}: {message}")
        self.status = status
        self.error = error
        self.code = code
        self.message = message
        self.suberror = suberror


def _echo(value: str) -> str:
    """A caller-supplied, non-secret value made safe to quote in a message."""
    cleaned = "".join(ch for ch in value if ch.isprintable())
    return cleaned[:_MAX_ECHO]


def entra_timestamp(moment: _dt.datetime | None = None) -> str:
    """Entra's timestamp format in error bodies: ``2024-05-01 10:11:12Z``."""
    moment = moment or _dt.datetime.now(_dt.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%SZ")


def error_response(err: AadError, issuer_base: str, request_headers: Mapping[str, str]) -> Response:
    """The HTTP answer Entra sends for ``err`` (JSON body, no-store caching)."""
    trace_id = str(uuid.uuid4())
    correlation_id = _correlation_id(request_headers)
    timestamp = entra_timestamp()
    description = (
        f"AADSTS{err.code}: {err.message}\r\nTrace ID: {trace_id}\r\n"
        f"Correlation ID: {correlation_id}\r\nTimestamp: {timestamp}"
    )
    payload: dict[str, object] = {
        "error": err.error,
        "error_description": description,
        "error_codes": [err.code],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"{issuer_base}/error?code={err.code}",
    }
    if err.suberror:
        payload["suberror"] = err.suberror
    body = json.dumps(payload).encode("utf-8")
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Cache-Control": "no-store, no-cache",
        "Pragma": "no-cache",
        "x-ms-request-id": trace_id,
        "client-request-id": correlation_id,
    }
    return Response(err.status, headers, body)


def _correlation_id(headers: Mapping[str, str]) -> str:
    for name, value in headers.items():
        if name.lower() == "client-request-id" and value:
            return _echo(value)
    return str(uuid.uuid4())


def timespan(seconds: float) -> str:
    """A duration the way .NET prints a TimeSpan in Entra messages: ``d.hh:mm:ss``."""
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{days}.{hours:02d}:{minutes:02d}:{secs:02d}"


def iso_time(epoch: float) -> str:
    """An instant as Entra quotes it in messages: ``2024-05-01T10:11:12.0000000Z``."""
    moment = _dt.datetime.fromtimestamp(epoch, _dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


# --- the catalogue -----------------------------------------------------------------------------


def unknown_client(client_id: str, tenant: str) -> AadError:
    return AadError(
        400,
        "unauthorized_client",
        700016,
        f"Application with identifier '{_echo(client_id)}' was not found in the directory "
        f"'{_echo(tenant)}'. This can happen if the application has not been installed by the "
        "administrator of the tenant or consented to by any user in the tenant. You may have sent "
        "your authentication request to the wrong tenant.",
    )


def bad_secret(client_id: str) -> AadError:
    return AadError(
        401,
        "invalid_client",
        7000215,
        "Invalid client secret provided. Ensure the secret being sent in the request is the client "
        f"secret value, not the client secret ID, for a secret added to app '{_echo(client_id)}'.",
    )


def missing_secret() -> AadError:
    return AadError(
        401,
        "invalid_client",
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    )


def missing_parameter(name: str) -> AadError:
    return AadError(
        400, "invalid_request", 900144, f"The request body must contain the following parameter: '{name}'."
    )


def unsupported_grant(grant_type: str) -> AadError:
    return AadError(
        400,
        "unsupported_grant_type",
        70003,
        f"The app requested an unsupported grant type '{_echo(grant_type)}'.",
    )


def unknown_tenant(tenant: str) -> AadError:
    return AadError(
        400,
        "invalid_tenant",
        90002,
        f"Tenant '{_echo(tenant)}' not found. Check to make sure you have the correct tenant ID and are "
        "signing into the correct cloud. Check with your subscription administrator, this may happen "
        "if there are no active subscriptions for the tenant.",
    )


def no_tenant_information() -> AadError:
    return AadError(
        400,
        "invalid_request",
        50059,
        "No tenant-identifying information found in either the request or implied by any provided "
        "credentials.",
    )


def invalid_scope(scope: str) -> AadError:
    return AadError(
        400,
        "invalid_scope",
        70011,
        "The provided value for the input parameter 'scope' is not valid. "
        f"The scope '{_echo(scope)}' is not valid.",
    )


def client_credentials_scope(scope: str) -> AadError:
    return AadError(
        400,
        "invalid_scope",
        1002012,
        f"The provided value for scope {_echo(scope)} is not valid. Client credential flows must have a "
        "scope value with /.default suffixed to the resource identifier (application ID URI).",
    )


def unknown_resource(resource: str, tenant: str) -> AadError:
    return AadError(
        400,
        "invalid_resource",
        500011,
        f"The resource principal named {_echo(resource)} was not found in the tenant named {_echo(tenant)}. "
        "This can happen if the application has not been installed by the administrator of the tenant "
        "or consented to by any user in the tenant. You might have sent your authentication request to "
        "the wrong tenant.",
    )


def grant_expired() -> AadError:
    return AadError(
        400,
        "invalid_grant",
        70008,
        "The provided authorization code or refresh token has expired due to inactivity. Send a new "
        "interactive authorization request for this user and resource.",
    )


def code_redeemed() -> AadError:
    return AadError(
        400,
        "invalid_grant",
        54005,
        "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an "
        "existing refresh token.",
    )


def malformed_grant() -> AadError:
    return AadError(400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")


def grant_invalid() -> AadError:
    return AadError(400, "invalid_grant", 70000, "Provided grant is invalid or malformed.")


def refresh_idle(issued_at: float, idle_seconds: float) -> AadError:
    return AadError(
        400,
        "invalid_grant",
        700082,
        f"The refresh token has expired due to inactivity. The token was issued on {iso_time(issued_at)} "
        f"and was inactive for {timespan(idle_seconds)}.",
    )


def grant_revoked(issued_at: float, valid_from: float) -> AadError:
    return AadError(
        400,
        "invalid_grant",
        50173,
        "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user "
        "might have changed or reset their password. The grant was issued on "
        f"'{iso_time(issued_at)}' and the TokensValidFrom date (before which tokens are not valid) for "
        f"this user is '{iso_time(valid_from)}'.",
    )


def verifier_mismatch() -> AadError:
    return AadError(
        400,
        "invalid_grant",
        501481,
        "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
    )


def redirect_mismatch(redirect_uri: str, client_id: str) -> AadError:
    return AadError(
        400,
        "invalid_request",
        50011,
        f"The redirect URI '{_echo(redirect_uri)}' specified in the request does not match the redirect "
        f"URIs configured for the application '{_echo(client_id)}'. Make sure the redirect URI sent in "
        "the request matches one added to your application in the Azure portal. Navigate to "
        "https://aka.ms/redirectUriMismatchError to learn more about how to fix this.",
    )


def consent_required(client_id: str, app_name: str) -> AadError:
    return AadError(
        400,
        "invalid_grant",
        65001,
        f"The user or administrator has not consented to use the application with ID '{_echo(client_id)}' "
        f"named '{app_name}'. Send an interactive authorization request for this user and resource.",
        suberror="consent_required",
    )


def bad_user_credentials() -> AadError:
    return AadError(
        400, "invalid_grant", 50126, "Error validating credentials due to invalid username or password."
    )


def unknown_user(tenant: str) -> AadError:
    return AadError(
        400,
        "invalid_grant",
        50034,
        f"The user account {{EUII Hidden}} does not exist in the {_echo(tenant)} directory. To sign into "
        "this application, the account must be added to the directory.",
    )


def post_only() -> AadError:
    return AadError(
        400, "invalid_request", 900561, "The endpoint only accepts POST requests. Received a GET request."
    )


def unsupported_response_type(response_type: str) -> AadError:
    return AadError(
        400,
        "unsupported_response_type",
        70005,
        f"response_type '{_echo(response_type)}' is not enabled for the application.",
    )


def user_declined() -> AadError:
    return AadError(400, "access_denied", 65004, "User declined to consent to access the app.")


def interaction_required(client_id: str, app_name: str) -> AadError:
    return AadError(
        400,
        "consent_required",
        65001,
        f"The user or administrator has not consented to use the application with ID '{_echo(client_id)}' "
        f"named '{app_name}'. Send an interactive authorization request for this user and resource.",
    )


def pkce_required() -> AadError:
    return AadError(
        400,
        "invalid_request",
        9002325,
        "Proof Key for Code Exchange is required for cross-origin authorization code redemption.",
    )


def malformed_request() -> AadError:
    return AadError(400, "invalid_request", 9002313, "Invalid request. Request is malformed or invalid.")


def describe(err: AadError, request_headers: Mapping[str, str]) -> str:
    """The ``error_description`` text of ``err``, with Entra's trace lines."""
    return (
        f"AADSTS{err.code}: {err.message}\r\nTrace ID: {uuid.uuid4()}\r\n"
        f"Correlation ID: {_correlation_id(request_headers)}\r\nTimestamp: {entra_timestamp()}"
    )
