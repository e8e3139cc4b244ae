"""Business Central online's request limits and timeouts, on the shared fault machinery.

Owns: :class:`BCFaults`, the Dataverse sandbox's :class:`~d365conn.sandbox.faults.Faults` (same
switches, windows, scripts and counters, same ``/_sandbox/faults`` admin resource) with Business
Central's URLs and answers (facts sheet section 2, "Working with API limits in Dynamics 365
Business Central"):

- 6,000 requests per user in a sliding 5-minute window (``REAL_LIMITS``; configurable and made
  small in tests): 429 with ``Retry-After`` in seconds and Business Central's body
  ``{"error":{"code":"Application_TooManyRequests","message":"Too many requests reached. Actual
  (6001). Maximum (6000).  CorrelationId: ..."}}``;
- the operation timeout (8 minutes, HTTP 408) and the gateway timeout (10 minutes, 504) as
  switches: ``faults.configure(script=[408])`` or ``[504]`` answers the next request so;
- no Dataverse ``x-ms-ratelimit-*`` budget headers.

Requests below the environment's prefix (``/v2.0/<tenant>/<environment>/``) are counted; token and
admin requests are not. The concurrency rule (5 requests processed at once, the rest queue) is the
launcher's, not a refusal.
"""

from __future__ import annotations

import math
from typing import Any

from d365conn.sandbox.bc.errors import BCError
from d365conn.sandbox.faults import Faults
from d365conn.sandbox.response import Response

#: Business Central online's documented limits per user (requests over a sliding window).
REAL_LIMITS: dict[str, Any] = {"max_requests": 6000, "window_seconds": 300.0}

TOO_MANY_REQUESTS = "Application_TooManyRequests"
#: Not captured from the real service (no fixture holds a 408): the shape is BC's error body.
OPERATION_TIMEOUT = "Request_Timeout"


class BCFaults(Faults):
    """Fault switches and request limits of the Business Central sandbox."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self._prefix = prefix

    def _classify(self, path: str) -> str:
        if path.startswith("/_sandbox"):
            return "admin"
        return "api" if path.startswith(self._prefix) else "other"

    def _too_many(self, code: str, message: str, wait: float) -> Response:
        # Business Central has one code for every throttling reason; the message counts requests.
        settings = self._settings
        fixed = settings.retry_after
        seconds = fixed if fixed is not None else max(1, math.ceil(wait))
        self._counts["throttled"] += 1
        self._counts[f"throttled.{TOO_MANY_REQUESTS}"] += 1
        limit = settings.max_requests if settings.max_requests is not None else REAL_LIMITS["max_requests"]
        actual = max(len(self._arrivals), int(limit) + 1)
        text = f"Too many requests reached. Actual ({actual}). Maximum ({limit})."
        response = BCError(429, TOO_MANY_REQUESTS, text).response()
        response.headers["Retry-After"] = str(seconds)
        return response

    def _inject(self, status: int) -> Response:
        if status == 408:
            self._counts["injected.408"] += 1
            message = "The operation has timed out because it took longer than 8 minutes."
            return BCError(408, OPERATION_TIMEOUT, message).response()
        return super()._inject(status)  # 502/504: a gateway's HTML page, as for Dataverse

    def _budget_headers(self) -> dict[str, str]:
        return {}


__all__ = ["OPERATION_TIMEOUT", "REAL_LIMITS", "TOO_MANY_REQUESTS", "BCFaults"]
