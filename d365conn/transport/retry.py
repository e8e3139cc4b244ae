"""When to try a request again, how long to wait, and when to give up.

Owns: the one retry policy of the driver and the whole-statement deadline.

- Which failures are retried depends on whether a repeat is safe (see :func:`retryable`):
  429 always (the service refused the request without acting on it); 500/502/503/504, dropped
  connections, read timeouts and truncated bodies only for idempotent requests (GET, and PATCH/
  DELETE the caller declares idempotent); a connection that could not even be opened always.
- The wait is the service's ``Retry-After`` when it sends one (Dataverse's service protection
  limits extend the penalty of clients that come back early), otherwise exponential backoff with
  "equal jitter" (half fixed, half random) so many clients do not return in lockstep.
- Attempts are bounded by ``WSRetryCount``, and every wait and every request's read timeout by the
  statement's deadline (``StatementTimeout``).
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass
from enum import Enum

from ..exceptions import StatementTimeoutError

#: HTTP statuses that mean "not now": worth repeating an idempotent request. 500 is among them
#: because Dataverse answers some transient failures (SQL timeouts, deadlocks) with it; a 500 that
#: persists still ends as InternalError once the retries are spent.
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
THROTTLED = 429


class Failure(Enum):
    """How an attempt failed, as far as retrying is concerned."""

    THROTTLED = "throttled"  # 429: never processed
    NOT_SENT = "not sent"  # the connection could not be opened: never reached the service
    TRANSIENT = "transient"  # 500/502/503/504
    DROPPED = "dropped"  # connection lost or body cut short after the request went out
    TIMEOUT = "timeout"  # no answer within the read timeout
    TLS = "TLS failure"  # the certificate was refused: repeating cannot help


def retryable(failure: Failure, *, idempotent: bool) -> bool:
    """Whether a request that failed this way may be sent again."""
    if failure in (Failure.THROTTLED, Failure.NOT_SENT):
        return True
    if failure is Failure.TLS:
        return False
    return idempotent


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with backoff. ``retries`` is the number of repeats after the first try."""

    retries: int = 5
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    #: A Retry-After longer than this is treated as this (a guard against absurd values).
    retry_after_cap: float = 300.0

    def backoff(self, retry: int) -> float:
        """Seconds before repeat number ``retry`` (1-based): base * 2^(retry-1), capped, jittered."""
        full = min(self.backoff_cap, self.backoff_base * 2.0 ** max(0, retry - 1))
        jitter: float = random.uniform(0, full / 2)  # noqa: S311 -- jitter, not cryptography
        return full / 2 + jitter

    def delay(self, retry: int, retry_after: float | None) -> float:
        """The wait before repeat ``retry``: the service's Retry-After when given, else backoff."""
        if retry_after is not None:
            # At least what the service asked, plus a little spread so throttled clients don't
            # all return in the same instant.
            wait = min(retry_after, self.retry_after_cap)
            return wait + random.uniform(0, min(1.0, 0.1 * wait + 0.05))  # noqa: S311
        return self.backoff(retry)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP date. None if absent or invalid."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class Deadline:
    """A point on the ``time.monotonic()`` clock by which a statement must be done (or never)."""

    def __init__(self, at: float | None) -> None:
        self.at = at

    @classmethod
    def after(cls, seconds: float | None) -> Deadline:
        """A deadline ``seconds`` from now; None or 0 means no deadline."""
        return cls(time.monotonic() + seconds if seconds else None)

    def remaining(self) -> float | None:
        """Seconds left (never negative), or None without a deadline."""
        if self.at is None:
            return None
        return max(0.0, self.at - time.monotonic())

    def check(self, doing: str) -> None:
        """Raise StatementTimeoutError when the deadline has passed."""
        if self.at is not None and time.monotonic() >= self.at:
            raise StatementTimeoutError(f"the statement timed out (StatementTimeout) while {doing}")

    def bound(self, seconds: float) -> float:
        """``seconds`` shortened so it does not run past the deadline."""
        left = self.remaining()
        return seconds if left is None else min(seconds, left)


__all__ = [
    "THROTTLED",
    "TRANSIENT_STATUSES",
    "Deadline",
    "Failure",
    "RetryPolicy",
    "parse_retry_after",
    "retryable",
]
