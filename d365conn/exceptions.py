"""The one exception hierarchy of d365conn.

Owns: the PEP 249 classes (Warning, Error and its subclasses) and the service-specific errors
that subclass them, so a caller can catch either ``d365conn.OperationalError`` or the precise
``ThrottledError``. Every failure of requests, msal or json is wrapped into one of these at the
boundary where it happens (transport, auth), carrying the HTTP status, the service's error code
and message and the request id -- never a secret.
"""

from __future__ import annotations


class Warning(Exception):
    """Important warnings, such as data truncation (PEP 249)."""


class Error(Exception):
    """Base of every d365conn error (PEP 249).

    ``status`` is the HTTP status when the error came from a service, ``code`` the service's own
    error code (``0x80040217``, ``BadRequest_NotFound``, ``invalid_grant``...), ``request_id``
    the id the service gave the request, for support tickets.
    """

    #: A write sent in a batch: the 0-based row that failed (the parameter set of ``executemany``,
    #: the VALUES row, the n-th matched row, or the n-th queued row of a transaction).
    row: int | None = None
    #: A batched write that failed part-way: how many rows were applied before (they stay applied).
    applied: int | None = None

    def __init__(
        self,
        message: str = "",
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id

    def __str__(self) -> str:
        parts = [self.message]
        details = []
        if self.status is not None:
            details.append(f"HTTP {self.status}")
        if self.code:
            details.append(f"code {self.code}")
        if self.request_id:
            details.append(f"request id {self.request_id}")
        if details:
            parts.append(f"({', '.join(details)})")
        return " ".join(p for p in parts if p)


class InterfaceError(Error):
    """Misuse of the driver itself: a closed cursor, a bad argument (PEP 249)."""


class DatabaseError(Error):
    """Errors related to the service and its data (PEP 249)."""


class DataError(DatabaseError):
    """A value does not fit: wrong type, out of range, cannot be converted (PEP 249)."""


class OperationalError(DatabaseError):
    """The service or the way to it failed: network, auth, throttling, timeouts (PEP 249)."""


class IntegrityError(DatabaseError):
    """Relational integrity: duplicates, missing references, concurrent changes (PEP 249)."""


class InternalError(DatabaseError):
    """The service reported an internal failure (PEP 249)."""


class ProgrammingError(DatabaseError):
    """The statement or its options are wrong: syntax, unknown table or column (PEP 249)."""


class NotSupportedError(DatabaseError):
    """The statement is valid SQL but neither the service nor d365conn can answer it (PEP 249)."""


# --- errors with a precise cause; each subclasses the PEP 249 class callers expect -----------------


class ConfigurationError(ProgrammingError):
    """The connection string or options are malformed, unknown or incomplete."""


class AuthenticationError(OperationalError):
    """A token could not be obtained or renewed.

    ``hint`` says what the user can do about it (run ``d365conn login``, check the secret...).
    """

    def __init__(self, message: str = "", *, hint: str | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.hint = hint

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text}. {self.hint}" if self.hint else text


class TokenEndpointError(AuthenticationError):
    """The token endpoint refused a request.

    ``code`` is the OAuth ``error`` (``invalid_grant``...), ``aadsts`` Entra's AADSTS number when
    the issuer sent one, ``description`` the issuer's own text (it never holds a secret).
    """

    def __init__(
        self,
        message: str = "",
        *,
        aadsts: int | None = None,
        description: str | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.aadsts = aadsts
        self.description = description


class InvalidClientError(TokenEndpointError):
    """The issuer does not accept the client: unknown ClientID, wrong or expired secret or certificate."""


class InteractionRequiredError(TokenEndpointError):
    """A user must sign in again (refresh token expired or revoked, consent missing): ``d365conn login``."""


class TokenExpiredError(AuthenticationError):
    """The configured AccessToken expired (or was refused) and nothing in the configuration can renew it."""


class IssuerUnreachableError(AuthenticationError):
    """The token endpoint could not be reached (DNS, TCP, TLS, timeout)."""


class InsecureIssuerError(AuthenticationError):
    """The token or authorization endpoint is plain http on a host other than loopback."""


class MalformedTokenResponseError(AuthenticationError):
    """The token endpoint answered, but not with a usable OAuth 2.0 token response."""


class ThrottledError(OperationalError):
    """The service kept answering 429 beyond the retry budget."""

    def __init__(self, message: str = "", *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ServiceUnavailableError(OperationalError):
    """The service kept failing with 5xx or dropped connections beyond the retry budget."""


class StatementTimeoutError(OperationalError):
    """A statement ran longer than its timeout."""


class NotFoundError(ProgrammingError):
    """The addressed table, row or route does not exist on the service."""


class DuplicateRecordError(IntegrityError):
    """A row with the same key already exists."""


class ConcurrencyError(IntegrityError):
    """The row changed since it was read (HTTP 412 on If-Match)."""


class PermissionDeniedError(OperationalError):
    """The identity lacks a privilege for the operation (HTTP 403)."""


class ValidationError(DataError):
    """The service refused a value (for example a required column is missing)."""


class QueryLimitError(OperationalError):
    """The service refused a query for exceeding a limit (for example the 50,000-row aggregate)."""


class BatchError(DatabaseError):
    """Some rows of a batched write failed (``executemany``, ``commit()``).

    ``failures`` lists ``(row, error)`` pairs in row order: ``row`` is the 0-based index of the
    parameter set (or queued statement's row) that failed, ``error`` the precise exception the
    service's answer maps to (``DuplicateRecordError``, ``ValidationError``...). ``applied`` is the
    number of rows the service did apply; ``atomic`` says whether the failure rolled back the whole
    change set it was in (so no row of that set was applied).
    """

    def __init__(
        self,
        message: str = "",
        *,
        failures: list[tuple[int, Error]] | None = None,
        applied: int = 0,
        atomic: bool = False,
        **kwargs: object,
    ) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.failures = list(failures or [])
        self.applied = applied
        self.atomic = atomic


__all__ = [
    "AuthenticationError",
    "BatchError",
    "ConcurrencyError",
    "ConfigurationError",
    "DataError",
    "DatabaseError",
    "DuplicateRecordError",
    "Error",
    "InsecureIssuerError",
    "IntegrityError",
    "InteractionRequiredError",
    "InterfaceError",
    "InternalError",
    "InvalidClientError",
    "IssuerUnreachableError",
    "MalformedTokenResponseError",
    "NotFoundError",
    "NotSupportedError",
    "OperationalError",
    "PermissionDeniedError",
    "ProgrammingError",
    "QueryLimitError",
    "ServiceUnavailableError",
    "StatementTimeoutError",
    "ThrottledError",
    "TokenEndpointError",
    "TokenExpiredError",
    "ValidationError",
    "Warning",
]
