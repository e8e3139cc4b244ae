"""The request loop over real sockets: retries, Retry-After, timeouts, writes, headers, secrets."""

from __future__ import annotations

import logging
import socket
import threading
import time
from decimal import Decimal
from typing import Any

import pytest

from d365conn import exceptions as exc
from d365conn.transport import encode_json

from .conftest import TOKEN_PREFIX, FakeService, FakeTokens, Reply, Request, make_transport

THROTTLE_BODY = {
    "error": {
        "code": "0x80072322",
        "message": "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
    }
}


def _script(*replies: Reply) -> Any:
    queue = list(replies)

    def handler(request: Request) -> Reply:
        return queue.pop(0) if queue else Reply(200, {"value": [{"n": 1}]})

    return handler


def test_429_honours_retry_after(service: FakeService, transport: Any) -> None:
    service.handler = _script(Reply(429, THROTTLE_BODY, {"Retry-After": "1"}))
    started = time.monotonic()
    assert transport.get_json(service.url + "accounts") == {"value": [{"n": 1}]}
    assert time.monotonic() - started >= 1.0  # waited at least what the service asked
    assert len(service.get_requests()) == 2


def test_429_beyond_the_budget_is_throttled_error(service: FakeService, tokens: FakeTokens) -> None:
    transport = make_transport(service.url, tokens, retries=2)
    service.handler = lambda request: Reply(429, THROTTLE_BODY, {"Retry-After": "0"})
    with pytest.raises(exc.ThrottledError) as info:
        transport.get_json(service.url + "accounts")
    assert info.value.status == 429 and info.value.code == "0x80072322"
    assert info.value.retry_after == 0
    assert "after 3 attempts" in str(info.value)
    assert len(service.get_requests()) == 3


def test_retry_after_longer_than_the_deadline_fails_at_once(service: FakeService, transport: Any) -> None:
    service.handler = lambda request: Reply(429, THROTTLE_BODY, {"Retry-After": "60"})
    started = time.monotonic()
    with pytest.raises(exc.ThrottledError, match="StatementTimeout") as info:
        transport.get_json(service.url + "accounts", deadline=time.monotonic() + 2)
    assert time.monotonic() - started < 2
    assert info.value.retry_after == 60


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_transient_5xx_then_success(service: FakeService, transport: Any, status: int) -> None:
    service.handler = _script(Reply(status, "<html>gateway</html>"), Reply(status, b""))
    assert transport.get_json(service.url + "accounts")["value"] == [{"n": 1}]
    assert len(service.get_requests()) == 3


def test_persistent_503_is_service_unavailable(service: FakeService, transport: Any) -> None:
    service.handler = lambda request: Reply(503, {"error": {"code": "", "message": "Service Unavailable"}})
    with pytest.raises(exc.ServiceUnavailableError, match="after 4 attempts") as info:
        transport.get_json(service.url + "accounts")
    assert info.value.status == 503


def test_persistent_500_is_internal_error_after_retries(service: FakeService, transport: Any) -> None:
    body = {"error": {"code": "0x80040216", "message": "An unexpected error occurred."}}
    service.handler = lambda request: Reply(500, body, {"REQ_ID": "7c1e-42"})
    with pytest.raises(exc.InternalError) as info:
        transport.get_json(service.url + "accounts")
    assert info.value.request_id == "7c1e-42" and info.value.code == "0x80040216"
    assert len(service.get_requests()) == 4


def test_500_on_a_post_is_not_retried(service: FakeService, transport: Any) -> None:
    service.handler = lambda request: Reply(500, {"error": {"code": "0x80040216", "message": "boom"}})
    with pytest.raises(exc.InternalError):
        transport.send("POST", service.url + "accounts", json_body={})
    assert len(service.get_requests()) == 1


def test_dropped_connection_then_success(service: FakeService, transport: Any) -> None:
    service.handler = _script(Reply(200, b"x" * 4000, fault="drop"), Reply(fault="close"))
    assert transport.get_json(service.url + "accounts")["value"] == [{"n": 1}]
    assert len(service.get_requests()) == 3


def test_post_is_not_retried_after_a_read_timeout(service: FakeService, tokens: FakeTokens) -> None:
    transport = make_transport(service.url, tokens, read_timeout=0.3)
    service.handler = lambda request: Reply(204, b"", delay=0.6)
    with pytest.raises(exc.ServiceUnavailableError, match="may or may not have been applied"):
        transport.send("POST", service.url + "accounts", json_body={"name": "x"})
    time.sleep(0.4)
    assert len(service.get_requests("POST")) == 1


def test_post_is_not_retried_after_503(service: FakeService, transport: Any) -> None:
    service.handler = lambda request: Reply(503, b"")
    with pytest.raises(exc.ServiceUnavailableError):
        transport.send("POST", service.url + "accounts", json_body={"name": "x"})
    assert len(service.get_requests("POST")) == 1


def test_post_is_retried_after_429(service: FakeService, transport: Any) -> None:
    created = "https://org.crm.dynamics.com/api/data/v9.2/accounts(00000000-0000-0000-0000-000000000001)"
    service.handler = _script(
        Reply(429, THROTTLE_BODY, {"Retry-After": "0"}), Reply(204, b"", {"OData-EntityId": created})
    )
    response = transport.send(
        "POST", service.url + "accounts", json_body={"name": "x", "revenue": Decimal("1.10")}
    )
    assert response.status_code == 204 and response.headers["OData-EntityId"] == created
    posts = service.get_requests("POST")
    assert len(posts) == 2 and posts[0].body == posts[1].body == b'{"name":"x","revenue":1.10}'
    assert posts[0].headers["Content-Type"].startswith("application/json")


def test_idempotent_patch_is_retried_after_503(service: FakeService, transport: Any) -> None:
    service.handler = _script(Reply(503, b""), Reply(204, b""))
    url = service.url + "accounts(00000000-0000-0000-0000-000000000001)"
    assert transport.send("PATCH", url, json_body={"name": "y"}, idempotent=True).status_code == 204
    assert len(service.get_requests("PATCH")) == 2


def test_connect_failure_is_retried_then_reported() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    transport = make_transport(f"http://127.0.0.1:{port}/api/data/v9.2/", retries=2)
    with pytest.raises(exc.ServiceUnavailableError, match=r"could not connect.*after 3 attempts"):
        transport.send("POST", f"http://127.0.0.1:{port}/api/data/v9.2/accounts", json_body={})
    assert transport.requests_sent == 3  # a POST that never reached the service may be repeated


def test_statement_deadline(service: FakeService, transport: Any) -> None:
    service.handler = lambda request: Reply(200, {"value": []}, delay=1.5)
    started = time.monotonic()
    with pytest.raises(exc.StatementTimeoutError):
        transport.get_json(service.url + "accounts", deadline=time.monotonic() + 0.4)
    assert time.monotonic() - started < 1.4  # the read timeout was cut to the deadline


def test_statement_timeout_from_config(service: FakeService, tokens: FakeTokens) -> None:
    transport = make_transport(service.url, tokens, statement_timeout=0.3)
    service.handler = lambda request: Reply(503, b"", {"Retry-After": "0.2"})
    with pytest.raises(exc.StatementTimeoutError):
        transport.get_json(service.url + "accounts")


def test_401_twice_is_authentication_error(service: FakeService, transport: Any, tokens: FakeTokens) -> None:
    challenge = "Bearer authorization_uri=https://login.microsoftonline.com/tenant/oauth2/authorize"
    service.handler = lambda request: Reply(401, b"", {"WWW-Authenticate": challenge})
    with pytest.raises(exc.AuthenticationError) as info:
        transport.get_json(service.url + "accounts")
    assert info.value.status == 401
    assert len(tokens.invalidated) == 1 and len(service.get_requests()) == 2
    assert "SECRET-TOKEN" not in str(info.value)


def test_standard_headers_and_user_agent(service: FakeService, tokens: FakeTokens) -> None:
    transport = make_transport(service.url, tokens, application_name="Nightly ETL")
    service.handler = lambda request: Reply(200, {"value": []}, gzip=True)
    assert transport.get_json(service.url + "WhoAmI") == {"value": []}
    headers = service.get_requests()[0].headers
    assert headers["Accept"] == "application/json"
    assert headers["OData-MaxVersion"] == "4.0" and headers["OData-Version"] == "4.0"
    assert "gzip" in headers["Accept-Encoding"]
    assert headers["User-Agent"].startswith("d365conn/") and headers["User-Agent"].endswith("(+Nightly ETL)")
    assert headers["Authorization"] == f"{TOKEN_PREFIX}1"


def test_no_authorization_header_without_auth(service: FakeService) -> None:
    class NoAuth(FakeTokens):
        def authorization(self) -> str | None:
            return None

    transport = make_transport(service.url, NoAuth())
    service.handler = lambda request: Reply(200, {"value": []})
    transport.get_json(service.url + "accounts")
    assert "Authorization" not in service.get_requests()[0].headers


def test_bytes_received_counts_bodies(service: FakeService, transport: Any) -> None:
    service.handler = lambda request: Reply(200, b'{"value": []}')
    transport.get_json(service.url + "a")
    transport.get_json(service.url + "b")
    assert transport.bytes_received == 2 * len(b'{"value": []}')


def test_secrets_never_in_logs_or_errors(
    service: FakeService, tokens: FakeTokens, caplog: pytest.LogCaptureFixture
) -> None:
    transport = make_transport(service.url, tokens, proxy_host=None, client_secret="s3cr3t-client")
    service.handler = _script(
        Reply(401, b""),
        Reply(429, THROTTLE_BODY, {"Retry-After": "0"}),
        Reply(400, {"error": {"code": "0x0", "message": "bad"}}),
    )
    with (
        caplog.at_level(logging.DEBUG, logger="d365conn.transport"),
        pytest.raises(exc.ProgrammingError) as info,
    ):
        transport.get_json(service.url + "accounts?$filter=name eq 'x'")
    text = caplog.text + str(info.value) + repr(info.value)
    assert "GET" in caplog.text and "401" in caplog.text  # it did log the requests
    assert "SECRET-TOKEN" not in text and "s3cr3t-client" not in text and "Bearer" not in text


def test_proxy_password_is_scrubbed_from_errors(tokens: FakeTokens) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    transport = make_transport(
        "https://org.crm.dynamics.com/api/data/v9.2/", tokens, retries=0,
        proxy_host="127.0.0.1", proxy_port=port, proxy_user="me", proxy_password="pr0xy-pa55",
    )  # fmt: skip
    with pytest.raises(exc.ServiceUnavailableError) as info:
        transport.get_json("https://org.crm.dynamics.com/api/data/v9.2/accounts")
    assert "pr0xy-pa55" not in str(info.value)
    assert "pr0xy-pa55" not in repr(transport.settings)


def test_closed_transport_refuses(service: FakeService, transport: Any) -> None:
    transport.close()
    with pytest.raises(exc.InterfaceError):
        transport.get_json(service.url + "accounts")


def test_encode_json_is_exact() -> None:
    import datetime as dt
    import uuid

    body = {
        "d": Decimal("-12345678901234567890.123456789"),
        "z": Decimal("-0"),
        "e": Decimal("1E+2"),
        "g": uuid.UUID(int=1),
        "t": dt.datetime(2024, 6, 12, 16, 13, 25, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        "day": dt.date(2024, 2, 29),
        "b": b"hi",
        "s": "\u0000d365dec0\u0000 not a number",
    }
    assert encode_json(body) == (
        b'{"d":-12345678901234567890.123456789,"z":-0,"e":1E+2,'
        b'"g":"00000000-0000-0000-0000-000000000001","t":"2024-06-12T14:13:25Z","day":"2024-02-29",'
        b'"b":"aGk=","s":"\\u0000d365dec0\\u0000 not a number"}'
    )
    with pytest.raises(exc.DataError):
        encode_json({"x": Decimal("NaN")})


def test_an_unrenewable_token_surfaces_the_token_sources_error(service: FakeService) -> None:
    class Expired(FakeTokens):
        def invalidate(self, authorization: str) -> None:
            raise exc.AuthenticationError("the access token expired", hint="run d365conn login")

    transport = make_transport(service.url, Expired())
    service.handler = lambda request: Reply(401, b"")
    with pytest.raises(exc.AuthenticationError, match="d365conn login"):
        transport.get_json(service.url + "accounts")
    assert len(service.get_requests()) == 1


def test_a_429_holds_every_thread_of_the_connection(service: FakeService, transport: Any) -> None:
    # Service protection limits are per user: once one request is told to wait, the connection's
    # other threads (a partitioned scan's workers) wait too instead of collecting 429s of their own.
    arrivals: list[tuple[str, float]] = []
    lock = threading.Lock()

    def handler(request: Request) -> Reply:
        with lock:
            arrivals.append((request.path, time.monotonic()))
            first = len(arrivals) == 1
        if first:
            return Reply(429, THROTTLE_BODY, {"Retry-After": "1"})
        return Reply(200, {"value": [{"n": 1}]})

    service.handler = handler
    first = threading.Thread(target=transport.get_json, args=(service.url + "accounts",))
    first.start()
    while not arrivals:
        time.sleep(0.01)
    time.sleep(0.2)  # the 429 has been answered: the hold is set
    assert transport.get_json(service.url + "contacts") == {"value": [{"n": 1}]}
    first.join(5)
    throttled_at = arrivals[0][1]
    contacts = [at for path, at in arrivals if "contacts" in path]
    assert len(contacts) == 1 and contacts[0] - throttled_at >= 0.95  # sent only after Retry-After
    assert len(arrivals) == 3


def test_a_hold_longer_than_the_statement_fails_at_once(service: FakeService, transport: Any) -> None:
    service.handler = _script(Reply(429, THROTTLE_BODY, {"Retry-After": "30"}))
    with pytest.raises(exc.ThrottledError):
        transport.get_json(service.url + "accounts", deadline=time.monotonic() + 2)
    started = time.monotonic()
    with pytest.raises(exc.ThrottledError, match="throttled this connection"):
        transport.get_json(service.url + "accounts", deadline=time.monotonic() + 2)
    assert time.monotonic() - started < 1.0
