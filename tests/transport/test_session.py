"""Session settings (proxy, TLS, headers) and the retry policy's arithmetic."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from d365conn import exceptions as exc
from d365conn.auth import token_source_for
from d365conn.config import Config, build_config
from d365conn.sandbox import Sandbox
from d365conn.transport import Deadline, RetryPolicy, Transport
from d365conn.transport.retry import Failure, parse_retry_after, retryable
from d365conn.transport.session import proxy_url, request_settings, user_agent

URL = "https://org.crm.dynamics.com/api/data/v9.2/"


def test_proxy_url_forms() -> None:
    assert proxy_url(Config(service_url=URL)) is None
    assert (
        proxy_url(Config(service_url=URL, proxy_host="proxy.local", proxy_port=3128))
        == "http://proxy.local:3128"
    )
    assert (
        proxy_url(Config(service_url=URL, proxy_host="https://proxy.local:8443", proxy_port=3128))
        == "https://proxy.local:8443"
    )
    with_user = Config(
        service_url=URL, proxy_host="proxy", proxy_port=8080, proxy_user="DOM\\me", proxy_password="p@ss:w"
    )
    assert proxy_url(with_user) == "http://DOM%5Cme:p%40ss%3Aw@proxy:8080"
    settings = request_settings(with_user)
    assert settings.proxies == {"http": "http://DOM%5Cme:p%40ss%3Aw@proxy:8080"} | {
        "https": "http://DOM%5Cme:p%40ss%3Aw@proxy:8080"
    }
    assert "p%40ss" not in repr(settings)


def test_verify_settings(tmp_path: Path) -> None:
    assert request_settings(Config(service_url=URL)).verify is True
    assert request_settings(Config(service_url=URL, verify_server_certificate=False)).verify is False
    ca = tmp_path / "ca.pem"
    assert request_settings(Config(service_url=URL, ca_certificate=ca)).verify == str(ca)


def test_user_agent() -> None:
    import d365conn

    assert user_agent(Config(service_url=URL)) == f"d365conn/{d365conn.__version__}"
    assert (
        user_agent(Config(service_url=URL, application_name="BI")) == f"d365conn/{d365conn.__version__} (+BI)"
    )


@pytest.fixture(scope="module")
def tls_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(rows=20, tls=True, tls_dir=str(tmp_path_factory.mktemp("tls"))) as sandbox:
        yield sandbox


def test_tls_with_the_configured_ca_even_when_the_environment_names_another(
    tls_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # REQUESTS_CA_BUNDLE would override a session-level verify; ours is passed per request.
    unrelated = tmp_path / "unrelated.pem"
    unrelated.write_text("")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(unrelated))
    config = build_config(tls_sandbox.connection_string, CACertificate=tls_sandbox.ca_path)
    transport = Transport(config, token_source_for(config))
    try:
        document = transport.get_json(tls_sandbox.service_url + "accounts?$select=name&$top=2")
        assert len(document["value"]) == 2
    finally:
        transport.close()


def test_tls_without_the_ca_is_refused(tls_sandbox: Sandbox) -> None:
    transport = Transport(
        Config(service_url=tls_sandbox.service_url, retry_count=3), _StaticToken(tls_sandbox)
    )
    with pytest.raises(exc.OperationalError, match="CACertificate"):
        transport.get_json(tls_sandbox.service_url + "accounts?$top=1")
    assert transport.requests_sent == 1  # a refused certificate is not retried


class _StaticToken:
    """A token fetched directly from the sandbox's token endpoint (TLS, with its CA)."""

    def __init__(self, sandbox: Sandbox) -> None:
        import requests

        answer = requests.post(
            sandbox.token_uri,
            data={"grant_type": "client_credentials", "client_id": sandbox.client_id,
                  "client_secret": sandbox.client_secret, "scope": sandbox.scope},
            verify=sandbox.ca_path, timeout=30,
        )  # fmt: skip
        self.value = "Bearer " + answer.json()["access_token"]

    def authorization(self) -> str | None:
        return self.value

    def invalidate(self, authorization: str) -> None:
        raise AssertionError("not expected")

    def info(self) -> None:
        return None


def test_retry_after_forms() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 28 <= (parse_retry_after(later) or 0) <= 31
    earlier = email.utils.formatdate(time.time() - 30, usegmt=True)
    assert parse_retry_after(earlier) == 0.0


def test_backoff_grows_is_capped_and_jittered() -> None:
    policy = RetryPolicy(retries=10, backoff_base=1.0, backoff_cap=8.0)
    for retry, full in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]:
        waits = {policy.backoff(retry) for _ in range(50)}
        assert all(full / 2 <= w <= full for w in waits)
        assert len(waits) > 1  # jittered
    # Retry-After is honoured (never less), with a little spread above it.
    assert all(5.0 <= policy.delay(1, 5.0) <= 5.6 for _ in range(50))
    assert policy.delay(1, 10_000.0) <= policy.retry_after_cap + 1


def test_which_failures_are_retried() -> None:
    assert retryable(Failure.THROTTLED, idempotent=False)
    assert retryable(Failure.NOT_SENT, idempotent=False)
    for failure in (Failure.TRANSIENT, Failure.DROPPED, Failure.TIMEOUT):
        assert retryable(failure, idempotent=True) and not retryable(failure, idempotent=False)


def test_deadline() -> None:
    assert Deadline.after(0).remaining() is None and Deadline(None).bound(5) == 5
    deadline = Deadline.after(10)
    assert 9 < (deadline.remaining() or 0) <= 10 and deadline.bound(120) <= 10
    past = Deadline(time.monotonic() - 1)
    assert past.remaining() == 0
    with pytest.raises(exc.StatementTimeoutError, match="reading page 3"):
        past.check("reading page 3")
