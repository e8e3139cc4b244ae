"""Fault injection for the sandbox: latency, service-protection throttling, 5xx, drops, truncation.

Owns: the switches tests and benchmarks flip while a sandbox runs (``/_sandbox/faults``) and the
request counters they assert on (``/_sandbox/stats``). The HTTP server calls, for every request:

    refusal = faults.before_request(method, path, headers)   # sleeps for latency; may refuse
    try:
        response = refusal or <the real handler>
        response = faults.after_response(response)           # may mark drop / truncate_at
        <send response>
    finally:
        faults.request_finished()                            # ends the concurrency slot

all three on the same thread (the per-request state is thread-local). Throttling follows
Dataverse's service protection limits: requests per sliding window (``0x80072322``), combined
execution time per window (``0x80072321``) and concurrent requests (``0x80072326``), answered
with 429, ``Retry-After`` in whole seconds and the documented messages. Random faults draw from
one seeded generator, so a sequential test sees the same faults on every run.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from d365conn.sandbox.response import Response, dataverse_error

#: Dataverse's documented default limits, per user and web server, over a 300-second window.
REAL_LIMITS = {
    "max_requests": 6000,
    "window_seconds": 300.0,
    "max_concurrent": 52,
    "max_execution_ms": 1_200_000.0,
}

_CODE_REQUESTS = "0x80072322"
_CODE_EXECUTION = "0x80072321"
_CODE_CONCURRENT = "0x80072326"
_TRANSIENT = frozenset({500, 502, 503, 504})
#: 408 is Business Central's operation timeout (its flavour answers it in its own body shape).
_SCRIPTABLE = _TRANSIENT | {408, 429}
_JSON = "application/json; charset=utf-8"


@dataclass(frozen=True)
class FaultSettings:
    """Every switch; the defaults inject nothing."""

    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 502, 503, 504)
    drop_rate: float = 0.0
    truncate_rate: float = 0.0
    seed: int | None = None
    #: "api": faults hit the Web API only; "all": also the token service.
    target: str = "api"
    max_requests: int | None = None
    window_seconds: float = 300.0
    max_concurrent: int | None = None
    max_execution_ms: float | None = None
    #: A fixed Retry-After (seconds) instead of the computed one.
    retry_after: int | None = None
    #: Requests refused for the request-count limit still count toward the window, so a client
    #: that keeps sending while throttled waits longer (as Dataverse extends Retry-After); a
    #: client that waits Retry-After out is not penalised.
    extend_when_hammered: bool = True
    #: Faults for the next targeted requests, in order: an HTTP status, "drop" or "truncate".
    script: tuple[int | str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["error_statuses"] = list(self.error_statuses)
        data["script"] = list(self.script)
        return data


@dataclass
class _Request:
    """What before_request decided for the request running on this thread."""

    kind: str = "admin"
    started: float = 0.0
    holds_slot: bool = False
    drop: bool = False
    truncate: bool = False


class Faults:
    """Thread-safe fault switches and request counters of one sandbox."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._settings = FaultSettings()
        self._rng = random.Random()  # noqa: S311 - faults, not cryptography
        self._script: deque[int | str] = deque()
        self._local = threading.local()
        self._arrivals: deque[float] = deque()
        self._executions: deque[tuple[float, float]] = deque()
        self._in_flight = 0
        self._max_in_flight = 0
        self._counts: Counter[str] = Counter()

    @property
    def settings(self) -> FaultSettings:
        return self._settings

    def configure(self, **changes: Any) -> FaultSettings:
        """Change switches in-process (same names and rules as POST /_sandbox/faults)."""
        problem = _validate(changes)
        if problem:
            raise ValueError(problem)
        return self._apply(changes)

    def reset(self) -> None:
        """All switches off, windows emptied, counters kept."""
        with self._lock:
            self._settings = FaultSettings()
            self._script.clear()
            self._arrivals.clear()
            self._executions.clear()

    # --- the server's hooks --------------------------------------------------------------------

    def before_request(self, method: str, path: str, headers: Mapping[str, str]) -> Response | None:
        """Sleep for latency, then None (go on) or the fault Response to send instead."""
        self._release_stale_slot()
        kind = self._classify(path)
        state = _Request(kind=kind, started=time.monotonic())
        self._local.request = state
        if kind == "admin":
            return None
        with self._lock:
            self._counts["total"] += 1
            self._counts[f"kind.{kind}"] += 1
            settings = self._settings
            if not (kind == "api" or settings.target == "all"):
                return None
            scripted = self._script.popleft() if self._script else None
            refusal = self._throttle(kind, scripted)
            if refusal is not None:
                return refusal
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            state.holds_slot = True
            if kind == "api":
                self._arrivals.append(time.monotonic())
            injected = self._draw(settings, scripted, state)
            delay = settings.latency_ms
            if settings.latency_jitter_ms:
                delay += self._rng.uniform(0, settings.latency_jitter_ms)
        if delay > 0:
            self._counts_add("latency_applied")
            time.sleep(delay / 1000.0)
        return injected

    def after_response(self, response: Response) -> Response:
        """Count the response; mark it dropped or truncated when this request drew that fault."""
        state: _Request | None = getattr(self._local, "request", None)
        if state is None or state.kind == "admin":
            return response
        if state.drop:
            response.drop = True
            self._counts_add("dropped")
        elif state.truncate and response.body:
            response.truncate_at = len(response.body) // 2
            self._counts_add("truncated")
        self._counts_add(f"status.{response.status}")
        if state.kind == "api":
            response.headers.update(self._budget_headers())
        return response

    def request_finished(self) -> None:
        """End of the request on this thread: frees its concurrency slot, books its execution time."""
        state: _Request | None = getattr(self._local, "request", None)
        self._local.request = None
        if state is None or not state.holds_slot:
            return
        now = time.monotonic()
        with self._lock:
            self._in_flight -= 1
            if state.kind == "api":
                self._executions.append((now, (now - state.started) * 1000.0))

    def _classify(self, path: str) -> str:
        """The kind of a request path: admin, api (counted and throttled) or other; flavours override it."""
        return _classify(path)

    def _release_stale_slot(self) -> None:
        # A server that forgot request_finished() must not leak concurrency slots forever.
        state: _Request | None = getattr(self._local, "request", None)
        if state is not None and state.holds_slot:
            self.request_finished()

    # --- decisions (called with the lock held) -------------------------------------------------

    def _throttle(self, kind: str, scripted: int | str | None) -> Response | None:
        settings = self._settings
        if scripted == 429:
            return self._too_many(_CODE_REQUESTS, _requests_message(settings), 1.0)
        if kind != "api":
            return None
        now = time.monotonic()
        self._expire(now)
        if settings.max_concurrent is not None and self._in_flight >= settings.max_concurrent:
            message = f"Number of concurrent requests exceeded the limit of {settings.max_concurrent}."
            return self._too_many(_CODE_CONCURRENT, message, 1.0)
        if settings.max_requests is not None and len(self._arrivals) >= settings.max_requests:
            if settings.extend_when_hammered:
                self._arrivals.append(now)
            # Wait until enough arrivals (this refused one included) leave the window for one
            # more request to fit: a client that waits this long is served.
            excess = len(self._arrivals) - settings.max_requests
            wait: float = settings.window_seconds
            if settings.max_requests > 0:
                wait = self._arrivals[excess] + settings.window_seconds - now
            return self._too_many(_CODE_REQUESTS, _requests_message(settings), wait)
        if settings.max_execution_ms is not None:
            used = sum(ms for _, ms in self._executions)
            if used >= settings.max_execution_ms:
                # Wait until enough booked time leaves the window to bring the total under budget.
                overrun, until = used - settings.max_execution_ms, 0.0
                for finished, ms in self._executions:
                    until = finished + settings.window_seconds - now
                    overrun -= ms
                    if overrun < 0:
                        break
                message = (
                    "Combined execution time of incoming requests exceeded limit of "
                    f"{settings.max_execution_ms:,.0f} milliseconds over time window of "
                    f"{settings.window_seconds:g} seconds. Decrease number of concurrent requests or "
                    "reduce the duration of requests and try again later."
                )
                return self._too_many(_CODE_EXECUTION, message, until)
        return None

    def _too_many(self, code: str, message: str, wait: float) -> Response:
        fixed = self._settings.retry_after
        seconds = fixed if fixed is not None else max(1, math.ceil(wait))
        self._counts["throttled"] += 1
        self._counts[f"throttled.{code}"] += 1
        return dataverse_error(429, code, message, {"Retry-After": str(seconds)})

    def _draw(self, settings: FaultSettings, scripted: int | str | None, state: _Request) -> Response | None:
        if scripted == "drop":
            state.drop = True
        elif scripted == "truncate":
            state.truncate = True
        elif isinstance(scripted, int):
            return self._inject(scripted)
        # Every rate is drawn on every request, so one switch does not shift the others' sequence.
        error_draw, drop_draw, truncate_draw = self._rng.random(), self._rng.random(), self._rng.random()
        if scripted is None:
            if error_draw < settings.error_rate and settings.error_statuses:
                index = int(error_draw / settings.error_rate * len(settings.error_statuses))
                return self._inject(settings.error_statuses[min(index, len(settings.error_statuses) - 1)])
            state.drop = drop_draw < settings.drop_rate
            state.truncate = not state.drop and truncate_draw < settings.truncate_rate
        return None

    def _inject(self, status: int) -> Response:
        self._counts[f"injected.{status}"] += 1
        if status in (502, 504):
            # Gateways, not Dataverse, answer these: an HTML page, no OData error body.
            title = "502 Bad Gateway" if status == 502 else "504 Gateway Time-out"
            page = f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"
            return Response(status, {"Content-Type": "text/html"}, page.encode())
        if status == 503:
            return dataverse_error(503, "0x80040216", "The service is temporarily unavailable.")
        return dataverse_error(status, "0x80040216", "An unexpected error occurred.")

    def _expire(self, now: float) -> None:
        horizon = now - self._settings.window_seconds
        while self._arrivals and self._arrivals[0] <= horizon:
            self._arrivals.popleft()
        while self._executions and self._executions[0][0] <= horizon:
            self._executions.popleft()

    def _budget_headers(self) -> dict[str, str]:
        settings = self._settings
        with self._lock:
            self._expire(time.monotonic())
            arrivals = len(self._arrivals)
            used_ms = sum(ms for _, ms in self._executions)
        limit = settings.max_requests if settings.max_requests is not None else REAL_LIMITS["max_requests"]
        budget = settings.max_execution_ms
        budget = budget if budget is not None else REAL_LIMITS["max_execution_ms"]
        return {
            "x-ms-ratelimit-burst-remaining-xrm-requests": str(max(0, int(limit) - arrivals)),
            # Dataverse prints seconds with a grouping comma and two decimals: "1,199.46".
            "x-ms-ratelimit-time-remaining-xrm-requests": f"{max(0.0, (budget - used_ms) / 1000.0):,.2f}",
        }

    def _counts_add(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    # --- admin ---------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        with self._lock:
            counts = dict(self._counts)
            self._expire(time.monotonic())
            window = {"requests": len(self._arrivals), "execution_ms": sum(ms for _, ms in self._executions)}
            in_flight, max_in_flight = self._in_flight, self._max_in_flight

        def group(prefix: str) -> dict[str, int]:
            return {k[len(prefix) :]: v for k, v in sorted(counts.items()) if k.startswith(prefix)}

        return {
            "total": counts.get("total", 0),
            "by_kind": group("kind."),
            "by_status": group("status."),
            "throttled": counts.get("throttled", 0),
            "throttled_by_code": group("throttled."),
            "injected": group("injected."),
            "dropped": counts.get("dropped", 0),
            "truncated": counts.get("truncated", 0),
            "latency_applied": counts.get("latency_applied", 0),
            "in_flight": in_flight,
            "max_in_flight": max_in_flight,
            "window": window,
        }

    def reset_stats(self) -> None:
        with self._lock:
            self._counts.clear()
            self._max_in_flight = self._in_flight

    def handle_admin(self, method: str, path: str, body: bytes) -> Response:
        """``/_sandbox/faults`` (GET, POST/PATCH JSON switches, DELETE resets) and
        ``/_sandbox/stats`` (GET counters, DELETE clears them)."""
        resource = path.split("?", 1)[0].rstrip("/")
        if resource.endswith("/_sandbox/stats"):
            if method == "GET":
                return _json(200, self.stats())
            if method == "DELETE":
                self.reset_stats()
                return _json(200, self.stats())
            return _admin_error(405, f"Method {method} is not allowed on {resource}.")
        if not resource.endswith("/_sandbox/faults"):
            return _admin_error(404, f"No sandbox resource at {resource}.")
        if method == "GET":
            return _json(200, self._settings.to_json())
        if method == "DELETE":
            self.reset()
            return _json(200, self._settings.to_json())
        if method not in ("POST", "PATCH"):
            return _admin_error(405, f"Method {method} is not allowed on {resource}.")
        try:
            changes = json.loads(body.decode("utf-8") or "{}")
        except (UnicodeDecodeError, json.JSONDecodeError):
            return _admin_error(400, "The body is not valid JSON.")
        if not isinstance(changes, dict):
            return _admin_error(400, "The body must be a JSON object.")
        problem = _validate(changes)
        if problem:
            return _admin_error(400, problem)
        return _json(200, self._apply(changes).to_json())

    def _apply(self, changes: dict[str, Any]) -> FaultSettings:
        changes = dict(changes)
        protection = changes.pop("service_protection", None)
        if protection is True:
            changes = {**REAL_LIMITS, **changes}
        elif protection is False:
            changes = {"max_requests": None, "max_concurrent": None, "max_execution_ms": None, **changes}
        for name in ("error_statuses", "script"):
            if name in changes:
                changes[name] = tuple(changes[name])
        for name in (*_DURATIONS, *_RATES):
            if name in changes:
                changes[name] = float(changes[name])
        with self._lock:
            self._settings = replace(self._settings, **changes)
            if "seed" in changes:
                self._rng.seed(changes["seed"])
            if "script" in changes:
                self._script = deque(self._settings.script)
            return self._settings


_FIELDS = {f.name for f in fields(FaultSettings)}
_RATES = ("error_rate", "drop_rate", "truncate_rate")
_DURATIONS = ("latency_ms", "latency_jitter_ms", "window_seconds")
_OPTIONAL_LIMITS = ("max_requests", "max_concurrent", "max_execution_ms", "retry_after", "seed")


def _validate(changes: Mapping[str, Any]) -> str | None:
    for name, value in changes.items():
        if name == "service_protection":
            if not isinstance(value, bool):
                return "'service_protection' must be true (Dataverse's limits) or false (no limits)."
        elif name not in _FIELDS:
            known = ", ".join(sorted([*_FIELDS, "service_protection"]))
            return f"Unknown fault setting '{name}'. Known settings: {known}."
        elif name in _RATES:
            if not _is_number(value) or not 0.0 <= value <= 1.0:
                return f"'{name}' must be a fraction between 0 and 1."
        elif name in _DURATIONS:
            if not _is_number(value) or value < 0:
                return f"'{name}' must be a number >= 0."
        elif name in _OPTIONAL_LIMITS:
            if value is not None and (not _is_number(value) or value < 0):
                return f"'{name}' must be null or a number >= 0."
            if name != "max_execution_ms" and value is not None and not isinstance(value, int):
                return f"'{name}' must be null or a whole number."
        elif name == "extend_when_hammered":
            if not isinstance(value, bool):
                return "'extend_when_hammered' must be true or false."
        elif name == "target":
            if value not in ("api", "all"):
                return '\'target\' must be "api" or "all".'
        elif name == "error_statuses":
            if not isinstance(value, list) or not value or not all(v in _TRANSIENT for v in value):
                return "'error_statuses' must be a non-empty list drawn from 500, 502, 503, 504."
        elif name == "script" and (
            not isinstance(value, list)
            or not all(v in ("drop", "truncate") or (isinstance(v, int) and v in _SCRIPTABLE) for v in value)
        ):
            return '\'script\' must be a list of 408, 429, 500, 502, 503, 504, "drop" or "truncate".'
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _requests_message(settings: FaultSettings) -> str:
    limit = settings.max_requests if settings.max_requests is not None else REAL_LIMITS["max_requests"]
    return (
        f"Number of requests exceeded the limit of {limit} over time window of "
        f"{settings.window_seconds:g} seconds."
    )


def _classify(path: str) -> str:
    if path.startswith("/_sandbox"):
        return "admin"
    if path.startswith("/api/"):
        return "api"
    return "other"


def _json(status: int, payload: Any) -> Response:
    return Response(status, {"Content-Type": _JSON}, json.dumps(payload).encode("utf-8"))


def _admin_error(status: int, message: str) -> Response:
    return _json(status, {"error": {"code": "SandboxAdmin", "message": message}})
