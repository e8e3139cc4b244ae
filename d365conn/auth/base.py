"""The contract between authentication and the rest of the driver.

Owns: the :class:`TokenSource` protocol. The transport asks a token source for the
``Authorization`` header before each request and tells it when the service answered 401;
nothing else in the driver knows how tokens are obtained.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class TokenInfo:
    """What may be shown about the current token: never the token itself."""

    grant: str  # ClientCredentials, RefreshToken, AccessToken, AuthorizationCode, UserPassword, None
    expires_at: dt.datetime | None = None
    identity: str | None = None  # upn / app id / oid from the token's claims, when readable
    scopes: tuple[str, ...] = ()


class TokenSource(Protocol):
    """Supplies bearer tokens for one set of credentials; shared by connections and threads."""

    def authorization(self) -> str | None:
        """The ``Authorization`` header value to send now (``"Bearer ..."``), refreshed ahead of
        expiry; None when the service needs no authentication (AuthenticationMethod=None).
        Raises AuthenticationError (an OperationalError) when no token can be had."""

    def invalidate(self, authorization: str) -> None:
        """The service refused ``authorization`` with 401: forget it, so the next
        :meth:`authorization` fetches a new one (single-flight across threads). Raises
        AuthenticationError when nothing can renew it (e.g. a bare expired AccessToken)."""

    def info(self) -> TokenInfo:
        """Grant, expiry and identity of the current token, without secrets."""
