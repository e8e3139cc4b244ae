"""Fault injection over real sockets: throttling, concurrency, execution time, 5xx, drops, truncation."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

import pytest
import requests
from test_tokens_support import Harness, running

from d365conn.sandbox.faults import Faults
from d365conn.sandbox.response import Response

REQUESTS_MESSAGE = "Number of requests exceeded the limit of {n} over time window of {w} seconds."


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Harness]:
    with running() as harness:
        yield harness


@pytest.fixture
def api(sandbox: Harness) -> Iterator[requests.Session]:
    token = sandbox.tokens.mint_access_token()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    yield session
    session.close()
    requests.delete(f"{sandbox.base_url}/_sandbox/faults", timeout=5)
    requests.delete(f"{sandbox.base_url}/_sandbox/stats", timeout=5)


def configure(h: Harness, **settings: object) -> dict[str, object]:
    response = requests.post(f"{h.base_url}/_sandbox/faults", json=settings, timeout=5)
    assert response.status_code == 200, response.text
    applied: dict[str, object] = response.json()
    return applied


def stats(h: Harness) -> dict[str, object]:
    answer: dict[str, object] = requests.get(f"{h.base_url}/_sandbox/stats", timeout=5).json()
    return answer


def test_request_count_limit_answers_429_with_retry_after(sandbox: Harness, api: requests.Session) -> None:
    configure(sandbox, max_requests=5, window_seconds=30)
    statuses = [api.get(sandbox.api_url, timeout=5).status_code for _ in range(5)]
    assert statuses == [200] * 5
    throttled = api.get(sandbox.api_url, timeout=5)
    assert throttled.status_code == 429
    assert throttled.json() == {
        "error": {"code": "0x80072322", "message": REQUESTS_MESSAGE.format(n=5, w=30)}
    }
    retry_after = int(throttled.headers["Retry-After"])
    assert 1 <= retry_after <= 30
    # The token service is not Dataverse: it is never throttled by these limits.
    token = requests.post(
        sandbox.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": sandbox.client_id,
            "client_secret": sandbox.client_secret,
            "scope": f"{sandbox.audience}/.default",
        },
        timeout=5,
    )
    assert token.status_code == 200
    counters = stats(sandbox)
    assert counters["throttled_by_code"] == {"0x80072322": 1}
    assert counters["by_status"] == {"200": 6, "429": 1}


def test_window_slides(sandbox: Harness, api: requests.Session) -> None:
    configure(sandbox, max_requests=2, window_seconds=0.5)
    assert [api.get(sandbox.api_url).status_code for _ in range(3)] == [200, 200, 429]
    time.sleep(0.55)
    assert api.get(sandbox.api_url).status_code == 200


def test_hammering_while_throttled_extends_the_wait(sandbox: Harness, api: requests.Session) -> None:
    configure(sandbox, max_requests=2, window_seconds=0.6)
    assert [api.get(sandbox.api_url).status_code for _ in range(2)] == [200, 200]
    time.sleep(0.3)
    # Keep sending: each refused request fills the window again.
    assert [api.get(sandbox.api_url).status_code for _ in range(3)] == [429, 429, 429]
    time.sleep(0.35)  # the two accepted requests have left the window, the refused ones have not
    assert api.get(sandbox.api_url).status_code == 429
    requests.delete(f"{sandbox.base_url}/_sandbox/faults", timeout=5)
    # A client that waits after one refusal is served again once the window has passed.
    configure(sandbox, max_requests=2, window_seconds=0.6)
    assert [api.get(sandbox.api_url).status_code for _ in range(3)] == [200, 200, 429]
    time.sleep(0.65)
    assert api.get(sandbox.api_url).status_code == 200
    requests.delete(f"{sandbox.base_url}/_sandbox/faults", timeout=5)
    configure(sandbox, max_requests=2, window_seconds=0.6, extend_when_hammered=False)
    assert [api.get(sandbox.api_url).status_code for _ in range(4)] == [200, 200, 429, 429]
    time.sleep(0.65)
    assert api.get(sandbox.api_url).status_code == 200


def test_concurrent_request_limit(sandbox: Harness, api: requests.Session) -> None:
    configure(sandbox, max_concurrent=2, latency_ms=400)
    results: list[requests.Response] = []
    lock = threading.Lock()
    start = threading.Barrier(6)

    def call() -> None:
        session = requests.Session()
        session.headers.update(api.headers)
        start.wait()
        response = session.get(sandbox.api_url, timeout=10)
        with lock:
            results.append(response)

    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ok = [r for r in results if r.status_code == 200]
    refused = [r for r in results if r.status_code == 429]
    assert len(ok) + len(refused) == 6
    assert 1 <= len(ok) <= 2 and len(refused) >= 4
    assert refused[0].json()["error"] == {
        "code": "0x80072326",
        "message": "Number of concurrent requests exceeded the limit of 2.",
    }
    assert refused[0].headers["Retry-After"] == "1"
    counters = stats(sandbox)
    assert counters["max_in_flight"] == 2 and counters["in_flight"] == 0


def test_execution_time_budget(sandbox: Harness, api: requests.Session) -> None:
    configure(sandbox, max_execution_ms=100, window_seconds=60, latency_ms=60)
    assert api.get(sandbox.api_url).status_code == 200
    assert api.get(sandbox.api_url).status_code == 200
    throttled = api.get(sandbox.api_url)
    assert throttled.status_code == 429
    error = throttled.json()["error"]
    assert error["code"] == "0x80072321"
    assert error["message"].startswith(
        "Combined execution time of incoming requests exceeded limit of 100 milliseconds "
        "over time window of 60 seconds."
    )
    assert 1 <= int(throttled.headers["Retry-After"]) <= 60


def test_service_protection_switch_sets_dataverse_limits(sandbox: Harness, api: requests.Session) -> None:
    applied = configure(sandbox, service_protection=True)
    assert (applied["max_requests"], applied["max_concurrent"]) == (6000, 52)
    assert (applied["max_execution_ms"], applied["window_seconds"]) == (1_200_000, 300)
    response = api.get(sandbox.api_url)
    assert response.headers["x-ms-ratelimit-burst-remaining-xrm-requests"] == "5999"
    assert re.fullmatch(r"1,(199|200)\.\d\d", response.headers["x-ms-ratelimit-time-remaining-xrm-requests"])
    cleared = configure(sandbox, service_protection=False)
    assert cleared["max_requests"] is None


def test_error_rate_is_repeatable_with_a_seed(sandbox: Harness, api: requests.Session) -> None:
    def run() -> list[int]:
        configure(sandbox, error_rate=0.5, seed=7)
        return [api.get(sandbox.api_url).status_code for _ in range(24)]

    first, second = run(), run()
    assert first == second
    errors = [s for s in first if s != 200]
    assert 4 <= len(errors) <= 20
    assert set(errors) <= {500, 502, 503, 504}


def test_injected_error_bodies(sandbox: Harness, api: requests.Session) -> None:
    for status in (500, 502, 503, 504):
        configure(sandbox, error_rate=1.0, error_statuses=[status])
        response = api.get(sandbox.api_url)
        assert response.status_code == status
        if status in (500, 503):
            assert re.fullmatch(r"0x[0-9a-f]{8}", response.json()["error"]["code"])
        else:
            assert response.headers["Content-Type"] == "text/html" and str(status) in response.text


def test_script_plays_faults_in_order(sandbox: Harness, api: requests.Session) -> None:
    configure(sandbox, script=[503, "drop", "truncate", 429])
    assert api.get(sandbox.api_url).status_code == 503
    with pytest.raises(requests.ConnectionError):
        api.get(sandbox.api_url, timeout=5)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        api.get(sandbox.api_url, timeout=5)
    assert api.get(sandbox.api_url).status_code == 429
    assert api.get(sandbox.api_url).status_code == 200
    counters = stats(sandbox)
    assert counters["dropped"] == 1 and counters["truncated"] == 1 and counters["injected"] == {"503": 1}


def test_drop_and_truncate_rates(sandbox: Harness, api: requests.Session) -> None:
    configure(sandbox, drop_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        api.get(sandbox.api_url, timeout=5)
    configure(sandbox, drop_rate=0.0, truncate_rate=1.0)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        api.get(sandbox.api_url, timeout=5)


def test_latency_and_jitter(sandbox: Harness, api: requests.Session) -> None:
    configure(sandbox, latency_ms=150, latency_jitter_ms=50, seed=1)
    started = time.perf_counter()
    assert api.get(sandbox.api_url).status_code == 200
    elapsed = time.perf_counter() - started
    assert 0.15 <= elapsed < 1.0
    # Token requests are not slowed unless the target is "all".
    started = time.perf_counter()
    requests.get(f"{sandbox.base_url}/.well-known/openid-configuration", timeout=5)
    assert time.perf_counter() - started < 0.15
    configure(sandbox, target="all", latency_jitter_ms=0)
    started = time.perf_counter()
    requests.get(f"{sandbox.base_url}/.well-known/openid-configuration", timeout=5)
    assert time.perf_counter() - started >= 0.15


def test_admin_validation_and_reset(sandbox: Harness, api: requests.Session) -> None:
    url = f"{sandbox.base_url}/_sandbox/faults"
    for bad in ({"error_rate": 2}, {"latency": 5}, {"error_statuses": [418]}, {"target": "x"}, {"seed": 1.5}):
        response = requests.patch(url, json=bad, timeout=5)
        assert response.status_code == 400, bad
        assert response.json()["error"]["message"]
    configure(sandbox, latency_ms=5, max_requests=3)
    assert requests.get(url, timeout=5).json()["max_requests"] == 3
    reset = requests.delete(url, timeout=5).json()
    assert reset["max_requests"] is None and reset["latency_ms"] == 0
    assert requests.put(url, json={}, timeout=5).status_code == 405


def test_stats_count_requests_by_status(sandbox: Harness, api: requests.Session) -> None:
    requests.delete(f"{sandbox.base_url}/_sandbox/stats", timeout=5)
    api.get(sandbox.api_url)
    requests.get(sandbox.api_url, timeout=5)  # no token: 401
    requests.get(f"{sandbox.base_url}/.well-known/openid-configuration", timeout=5)
    counters = stats(sandbox)
    assert counters["total"] == 3
    assert counters["by_kind"] == {"api": 2, "other": 1}
    assert counters["by_status"] == {"200": 2, "401": 1}


# --- the hooks, in-process --------------------------------------------------------------------


def test_after_response_marks_truncate_on_the_response() -> None:
    faults = Faults()
    faults.configure(truncate_rate=1.0)
    assert faults.before_request("GET", "/api/data/v9.2/accounts", {}) is None
    response = faults.after_response(Response(200, {}, b"0123456789"))
    faults.request_finished()
    assert response.truncate_at == 5 and not response.drop


def test_missing_request_finished_does_not_leak_slots() -> None:
    faults = Faults()
    faults.configure(max_concurrent=1)
    assert faults.before_request("GET", "/api/data/v9.2/accounts", {}) is None
    # The same thread starts another request without finishing the first: its slot is freed.
    assert faults.before_request("GET", "/api/data/v9.2/accounts", {}) is None
    faults.request_finished()
    assert faults.stats()["in_flight"] == 0


def test_a_zero_request_limit_refuses_everything() -> None:
    faults = Faults()
    faults.configure(max_requests=0, window_seconds=10)
    refusal = faults.before_request("GET", "/api/data/v9.2/accounts", {})
    faults.request_finished()
    assert refusal is not None and refusal.status == 429 and refusal.headers["Retry-After"] == "10"


def test_admin_paths_are_never_faulted() -> None:
    faults = Faults()
    faults.configure(error_rate=1.0, target="all")
    assert faults.before_request("GET", "/_sandbox/faults", {}) is None
    faults.request_finished()
    assert faults.stats()["total"] == 0
    with pytest.raises(ValueError, match="drop_rate"):
        faults.configure(drop_rate=-1)
