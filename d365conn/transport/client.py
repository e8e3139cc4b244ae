"""The transport: every HTTP exchange of one connection, with auth, retries and error mapping.

Owns: :class:`Transport`. A request goes out with the session's OData headers and the token
source's ``Authorization``; the answer comes back whole (``bytes``) or as an exception from
:mod:`d365conn.exceptions`. In between, one loop applies the retry policy of :mod:`.retry`:

- 401 -> tell the token source (``invalidate``), fetch a new token, replay the same request once;
- 429 -> wait ``Retry-After``, repeat (any method: the service did not act on the request);
- 500/502/503/504, dropped connections, read timeouts, truncated bodies -> backoff and repeat, only
  when the request is idempotent;
- a connection that could not be opened -> repeat (it never reached the service);
- every wait and read timeout is bounded by the statement's deadline.

Paging (``iter_pages``) and typed rows (``scan_rows``) live in :mod:`.paging`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import requests
import urllib3.exceptions

from .. import exceptions as exc
from ..config import Config
from ..values.encode import encode_json
from ..values.jsonpage import MalformedJSON, loads_exact
from .errors import error_from_response, request_id
from .retry import THROTTLED, TRANSIENT_STATUSES, Deadline, Failure, RetryPolicy, parse_retry_after, retryable
from .session import build_session, request_settings

if TYPE_CHECKING:
    from ..auth.base import TokenSource
    from .paging import Page

log = logging.getLogger("d365conn.transport")

T = TypeVar("T")


class Transport:
    """HTTP for one connection. Thread-safe: a prefetch thread and the caller may share it."""

    def __init__(
        self, config: Config, token_source: TokenSource, *, policy: RetryPolicy | None = None
    ) -> None:
        self.config = config
        self.token_source = token_source
        self.policy = policy or RetryPolicy(retries=config.retry_count)
        self.settings = request_settings(config)
        self.session = build_session(config)
        #: Running total of response body bytes (after decompression), for the efficiency benchmark.
        self.bytes_received = 0
        #: Number of HTTP requests sent (every attempt counts).
        self.requests_sent = 0
        self._lock = threading.Lock()
        #: ``time.monotonic()`` before which no request is sent: a 429's Retry-After holds every
        #: thread of the connection (the service's limits are per user, so the other workers of a
        #: partitioned scan would only collect 429s of their own and lengthen the penalty).
        self._hold_until = 0.0
        self._closed = False
        self._secrets = tuple(s for s in (config.proxy_password, config.client_secret, config.password) if s)

    # -- public API -----------------------------------------------------------------------------

    def statement_deadline(self) -> float | None:
        """The ``time.monotonic()`` deadline for a statement starting now (None: StatementTimeout=0)."""
        return Deadline.after(self.config.statement_timeout).at

    def get_json(
        self, url: str, *, headers: Mapping[str, str] | None = None, deadline: float | None = None
    ) -> Any:
        """One GET decoded as JSON (decimals exact), retried as a read; errors mapped."""
        _, document = self.exchange(
            "GET", url, headers=headers, deadline=deadline, idempotent=True, parse=loads_exact
        )
        return document

    def get_text(
        self, url: str, *, headers: Mapping[str, str] | None = None, deadline: float | None = None
    ) -> str:
        """One GET returning the body as text (``/$count`` answers a bare number as text/plain)."""
        merged = {"Accept": "text/plain, application/json", **(headers or {})}
        response, _ = self.exchange("GET", url, headers=merged, deadline=deadline, idempotent=True)
        # Only an explicit charset counts: requests' ISO-8859-1 default for text/* would garble a BOM.
        content_type = response.headers.get("Content-Type", "")
        charset = (
            content_type.split("charset=", 1)[1].split(";")[0].strip()
            if "charset=" in content_type
            else "utf-8"
        )
        try:
            text = response.content.decode(charset, "replace")
        except LookupError:
            text = response.content.decode("utf-8", "replace")
        return text.lstrip("\ufeff")

    def iter_pages(
        self,
        url: str,
        *,
        annotations: bool = False,
        page_size: int | None = None,
        deadline: float | None = None,
    ) -> Iterator[Page]:
        """Every page of a collection, following ``@odata.nextLink``; lazy (a page is requested only
        when the consumer asks for it). Rows are dicts with exact decimals."""
        from .paging import iter_pages

        return iter_pages(self, url, annotations=annotations, page_size=page_size, deadline=deadline)

    def send(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = False,
        deadline: float | None = None,
    ) -> requests.Response:
        """A write (or any request). Not idempotent (POST): repeated only after a 429 or when the
        connection could not be opened. ``json_body`` is encoded with exact decimals."""
        merged = dict(headers or {})
        if json_body is not None:
            body = encode_json(json_body)
            merged.setdefault("Content-Type", "application/json; charset=utf-8")
        response, _ = self.exchange(
            method, url, headers=merged, body=body, deadline=deadline, idempotent=idempotent
        )
        return response

    def close(self) -> None:
        """Close the session's sockets. A prefetching page stream notices and stops."""
        self._closed = True
        self.session.close()

    @property
    def closed(self) -> bool:
        return self._closed

    # -- the one request loop ------------------------------------------------------------------------

    def exchange(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        idempotent: bool,
        deadline: float | None = None,
        parse: Callable[[bytes], T] | None = None,
        cancel: threading.Event | None = None,
    ) -> tuple[requests.Response, T | None]:
        """Send until success or a final failure. ``parse`` runs on a 2xx body inside the loop, so a
        body that turns out truncated (MalformedJSON) is retried like a dropped connection."""
        if self._closed:
            raise exc.InterfaceError("the connection's transport is closed")
        limit = Deadline(deadline if deadline is not None else self.statement_deadline())
        retries = 0
        replayed_401 = False
        while True:
            limit.check(f"waiting to send {method} {_path(url)}")
            self._wait_for_hold(limit, cancel)
            authorization = self.token_source.authorization()
            outcome = self._attempt(
                method=method, url=url, headers=headers, body=body, authorization=authorization, limit=limit
            )
            failure: Failure | None
            retry_after: float | None = None
            if isinstance(outcome, requests.Response):
                response = outcome
                status = response.status_code
                if status == 401 and authorization is not None and not replayed_401:
                    # The token expired or was revoked mid-statement: renew it once and replay.
                    log.debug("401 on %s %s: renewing the token and replaying", method, _path(url))
                    self.token_source.invalidate(authorization)
                    replayed_401 = True
                    continue
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if status == THROTTLED:
                    failure = Failure.THROTTLED
                elif status in TRANSIENT_STATUSES:
                    failure = Failure.TRANSIENT
                elif status >= 400:
                    raise self._error(response, method, url, retry_after)
                else:
                    if parse is None:
                        return response, None
                    try:
                        return response, parse(response.content)
                    except MalformedJSON as problem:
                        failure = Failure.DROPPED
                        outcome = exc.ServiceUnavailableError(
                            f"{method} {_path(url)}: the response body is not complete JSON ({problem})",
                            status=status, request_id=request_id(response.headers),
                        )  # fmt: skip
            else:
                failure = _classify(outcome)
            if not retryable(failure, idempotent=idempotent) or retries >= self.policy.retries:
                raise self._final(
                    outcome=outcome, failure=failure, method=method, url=url, retries=retries,
                    retry_after=retry_after,
                )  # fmt: skip
            retries += 1
            wait = self.policy.delay(retries, retry_after)
            if failure is Failure.THROTTLED:
                with self._lock:
                    self._hold_until = max(self._hold_until, time.monotonic() + wait)
            left = limit.remaining()
            if left is not None and wait >= left:
                if failure is Failure.THROTTLED:
                    raise exc.ThrottledError(
                        f"{method} {_path(url)} was throttled and the service asks to wait {wait:.0f} s, "
                        "longer than the statement has left (StatementTimeout)",
                        retry_after=retry_after, status=THROTTLED,
                    )  # fmt: skip
                limit.check(f"retrying {method} {_path(url)}")
                wait = left
            log.debug("%s %s: %s, retry %d of %d in %.2f s",
                      method, _path(url), failure.value, retries, self.policy.retries, wait)  # fmt: skip

            if cancel is not None:
                if cancel.wait(wait):
                    raise exc.InterfaceError("the page stream was closed")
            else:
                time.sleep(wait)

    def _wait_for_hold(self, limit: Deadline, cancel: threading.Event | None) -> None:
        """Wait while another thread's 429 holds the connection (bounded by the statement's time)."""
        wait = self._hold_until - time.monotonic()
        if wait <= 0:
            return
        left = limit.remaining()
        if left is not None and wait >= left:
            raise exc.ThrottledError(
                f"the service throttled this connection for another {wait:.0f} s, longer than the "
                "statement has left (StatementTimeout)",
                retry_after=wait, status=THROTTLED,
            )
        if cancel is not None:
            if cancel.wait(wait):
                raise exc.InterfaceError("the page stream was closed")
        else:
            time.sleep(wait)

    def _attempt(
        self,
        *,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        body: bytes | None,
        authorization: str | None,
        limit: Deadline,
    ) -> requests.Response | Exception:
        """One request; the response (any status), or the network exception it ended with."""
        sent_headers = dict(headers or {})
        if authorization is not None:
            sent_headers["Authorization"] = authorization
        timeout = (limit.bound(self.settings.connect_timeout), limit.bound(self.settings.read_timeout))
        started = time.perf_counter()
        with self._lock:
            self.requests_sent += 1
        try:
            response = self.session.request(
                method, url, headers=sent_headers, data=body, timeout=timeout,
                verify=self.settings.verify, proxies=self.settings.proxies, stream=True,
            )  # fmt: skip
            try:
                # One read of the whole body: urllib3/http.client fill it in C with the GIL released,
                # where requests' own .content loops over 10 kB chunks in Python -- which starves a
                # prefetch thread while the consumer decodes.
                content = response.raw.read(decode_content=True)
            except (urllib3.exceptions.HTTPError, OSError) as problem:
                raise _as_requests_error(problem) from problem
            finally:
                response.close()  # the connection goes back to the pool (the body was read whole)
            response._content = content
        except requests.RequestException as problem:
            if isinstance(problem, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema)):
                raise exc.InterfaceError(f"not a valid URL for {method}: {_path(url)}") from None
            log.debug("%s %s -> %s after %.3f s", method, url, type(problem).__name__,
                      time.perf_counter() - started)  # fmt: skip
            return problem
        elapsed = time.perf_counter() - started
        size = len(content)
        with self._lock:
            self.bytes_received += size
        log.debug("%s %s -> %d in %.3f s, %d bytes, request id %s",
                  method, url, response.status_code, elapsed, size, request_id(response.headers))  # fmt: skip
        return response

    def _error(
        self, response: requests.Response, method: str, url: str, retry_after: float | None
    ) -> exc.Error:
        return error_from_response(
            response.status_code, response.headers, response.content,
            method=method, url=url, reason=response.reason or "", retry_after=retry_after,
        )  # fmt: skip

    def _final(
        self,
        *,
        outcome: requests.Response | Exception,
        failure: Failure,
        method: str,
        url: str,
        retries: int,
        retry_after: float | None,
    ) -> exc.Error:
        """The exception once retrying is over (or not allowed)."""
        after = f" after {retries + 1} attempts" if retries else ""
        if isinstance(outcome, requests.Response):
            error = self._error(outcome, method, url, retry_after)
            if retries:
                error.message += f" ({failure.value}{after})"
                error.args = (error.message,)
            return error
        if isinstance(outcome, exc.Error):  # a truncated body
            return outcome
        cause = self._scrub(f"{type(outcome).__name__}: {outcome}")
        if failure is Failure.TLS:
            return exc.OperationalError(
                f"{method} {_path(url)}: the TLS handshake failed ({cause}); if the service uses a "
                "private certificate authority, name its certificate with CACertificate=<file.pem>"
            )
        if failure is Failure.TIMEOUT:
            seconds = self.settings.read_timeout
            text = f"{method} {_path(url)}: no response within {seconds:g} s (WSTimeout){after}"
        elif failure is Failure.NOT_SENT:
            text = f"{method} {_path(url)}: could not connect to the service{after}: {cause}"
        else:
            text = f"{method} {_path(url)}: the connection was lost{after}: {cause}"
        if not idempotent_method(method) and failure is not Failure.NOT_SENT:
            text += "; the change may or may not have been applied"
        return exc.ServiceUnavailableError(text)

    def _scrub(self, text: str) -> str:
        """Remove any secret from text that came from a library (proxy URLs can embed a password)."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def _as_requests_error(problem: Exception) -> requests.RequestException:
    """A failure while reading a body, in the terms requests uses for the same failures."""
    if isinstance(problem, urllib3.exceptions.ReadTimeoutError):
        return requests.exceptions.ReadTimeout(problem)
    return requests.exceptions.ChunkedEncodingError(problem)


def _classify(problem: Exception) -> Failure:
    """Which kind of network failure a requests exception is."""
    if isinstance(problem, requests.exceptions.SSLError):
        return Failure.TLS
    if isinstance(problem, requests.exceptions.ConnectTimeout):
        return Failure.NOT_SENT
    if isinstance(problem, requests.exceptions.ReadTimeout):
        return Failure.TIMEOUT
    if isinstance(problem, requests.exceptions.ConnectionError):
        reason = problem.args[0] if problem.args else None
        reason = getattr(reason, "reason", reason)
        if isinstance(reason, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ProxyError)):
            return Failure.NOT_SENT
        if isinstance(reason, urllib3.exceptions.ReadTimeoutError):
            return Failure.TIMEOUT
    return Failure.DROPPED


def idempotent_method(method: str) -> bool:
    return method.upper() in ("GET", "HEAD", "OPTIONS", "PUT", "DELETE")


def _path(url: str) -> str:
    return url.split("?", 1)[0]


__all__ = ["Transport", "encode_json", "idempotent_method"]  # encode_json: re-exported for writes
