"""Server-side state of the sandbox token service: codes, refresh tokens and consent.

Owns: authorization codes (single use, short-lived, bound to client, redirect URI and PKCE
challenge), refresh tokens (opaque, rotating, expiring after a configurable idle time, revocable
all at once) and the record of which delegated permissions the test user consented to. Every
method takes the store's lock, so the threaded HTTP server may call it from any thread.
Lookups compare secrets by their SHA-256 digests, so a token is never kept in clear text.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field

from d365conn.sandbox import tokens_errors as aad
from d365conn.sandbox.tokens_jwt import unsigned_id


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Grant:
    """What a user granted a client: the permissions and whether offline access was asked for."""

    client_id: str
    user_oid: str
    #: Delegated permissions on the audience (e.g. ``user_impersonation``).
    permissions: frozenset[str]
    #: OpenID scopes asked for (``openid``, ``profile``, ``email``, ``offline_access``).
    oidc_scopes: frozenset[str]
    #: When the user signed in; kept across refreshes like Entra's ``auth_time``.
    auth_time: float


@dataclass
class AuthCode:
    grant: Grant
    redirect_uri: str
    code_challenge: str | None
    code_challenge_method: str
    nonce: str | None
    expires_at: float
    issued_at: float
    redeemed: bool = False


@dataclass
class _Refresh:
    grant: Grant
    issued_at: float
    last_used: float
    rotated: bool = False


@dataclass
class _Counters:
    codes_issued: int = 0
    refresh_tokens_issued: int = 0
    refresh_tokens_redeemed: int = 0


@dataclass
class TokenStore:
    """Codes, refresh tokens and consent records of one token service."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _codes: dict[str, AuthCode] = field(default_factory=dict)
    _refresh: dict[str, _Refresh] = field(default_factory=dict)
    _consent: set[tuple[str, str]] = field(default_factory=set)
    #: Refresh tokens and codes issued before this instant are revoked (Entra's TokensValidFrom).
    valid_from: float = 0.0
    counters: _Counters = field(default_factory=_Counters)

    # --- authorization codes -------------------------------------------------------------------

    def new_code(
        self,
        *,
        grant: Grant,
        redirect_uri: str,
        code_challenge: str | None,
        code_challenge_method: str,
        nonce: str | None,
        lifetime: float,
    ) -> str:
        code = unsigned_id("0.")
        now = time.time()
        with self._lock:
            self._prune_codes(now)
            self._codes[_digest(code)] = AuthCode(
                grant, redirect_uri, code_challenge, code_challenge_method, nonce, now + lifetime, now
            )
            self.counters.codes_issued += 1
        return code

    def take_code(self, code: str) -> AuthCode:
        """Redeem ``code`` once; a second use, an expired or an unknown code is an AadError."""
        now = time.time()
        with self._lock:
            entry = self._codes.get(_digest(code))
            if entry is None:
                raise aad.malformed_grant()
            if entry.redeemed:
                raise aad.code_redeemed()
            if now >= entry.expires_at:
                raise aad.grant_expired()
            if entry.issued_at < self.valid_from:
                raise aad.grant_revoked(entry.issued_at, self.valid_from)
            entry.redeemed = True
            return entry

    def _prune_codes(self, now: float) -> None:
        # Redeemed codes are kept until they expire so that a replay is told "already redeemed".
        if len(self._codes) > 1000:
            for key in [k for k, c in self._codes.items() if now >= c.expires_at]:
                del self._codes[key]

    # --- refresh tokens ------------------------------------------------------------------------

    def new_refresh_token(self, grant: Grant) -> str:
        token = unsigned_id("1.")
        now = time.time()
        with self._lock:
            self._refresh[_digest(token)] = _Refresh(grant, now, now)
            self.counters.refresh_tokens_issued += 1
        return token

    def redeem_refresh_token(self, token: str, max_idle: float, strict_rotation: bool) -> Grant:
        """The grant behind ``token``; marks it used (removes it under strict rotation)."""
        now = time.time()
        key = _digest(token)
        with self._lock:
            entry = self._refresh.get(key)
            if entry is None:
                raise aad.malformed_grant()
            if entry.issued_at < self.valid_from:
                raise aad.grant_revoked(entry.grant.auth_time, self.valid_from)
            idle = now - entry.last_used
            if idle > max_idle:
                del self._refresh[key]
                raise aad.refresh_idle(entry.issued_at, idle)
            if entry.rotated and strict_rotation:
                raise aad.grant_invalid()
            entry.rotated = True
            entry.last_used = now
            self.counters.refresh_tokens_redeemed += 1
            return entry.grant

    def revoke_all(self) -> None:
        """Revoke every refresh token and unredeemed code issued so far."""
        with self._lock:
            # Strictly later than anything issued up to now, even on a coarse clock.
            self.valid_from = time.time() + 1e-6

    def live_refresh_tokens(self) -> int:
        with self._lock:
            return sum(1 for r in self._refresh.values() if r.issued_at >= self.valid_from)

    # --- consent -------------------------------------------------------------------------------

    def has_consent(self, client_id: str, permissions: frozenset[str]) -> bool:
        with self._lock:
            return all((client_id, p) in self._consent for p in permissions)

    def grant_consent(self, client_id: str, permissions: frozenset[str]) -> None:
        with self._lock:
            self._consent.update((client_id, p) for p in permissions)

    def clear_consent(self) -> None:
        with self._lock:
            self._consent.clear()

    def consented(self, client_id: str) -> frozenset[str]:
        with self._lock:
            return frozenset(p for c, p in self._consent if c == client_id)
