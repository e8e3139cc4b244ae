"""A whole session at DEBUG, every logger captured: no secret or token value appears anywhere.

Covers the log lines (d365conn, urllib3, msal), exception texts and reprs, for the plain client against
the sandbox token service and MSAL against oidc-provider.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from d365conn.auth import OAuthTokenSource, token_source_for
from d365conn.config import build_config
from d365conn.exceptions import Error
from tests.auth.conftest import follow_sign_in
from tests.auth.harness import TokenHarness
from tests.auth.oidc_server import CLIENT_SECRET, RESOURCE, oidc_server


class Collector:
    """Every secret value the session handles, and a browser that records the codes it carries."""

    def __init__(self, *values: str) -> None:
        self.values: set[str] = {v for v in values if v}
        self.threads: list[threading.Thread] = []

    def add(self, value: str | None) -> None:
        if value:
            self.values.add(value.removeprefix("Bearer "))

    def browser(self, verify: bool | str = True) -> Callable[[str], None]:
        def run(url: str) -> None:
            final = follow_sign_in(url, verify)
            code = dict(p.split("=", 1) for p in final.split("?", 1)[1].split("&")).get("code")
            self.add(code)

        def open_browser(url: str) -> None:
            thread = threading.Thread(target=run, args=(url,), daemon=True)
            thread.start()
            self.threads.append(thread)

        return open_browser

    def assert_absent(self, text: str, what: str) -> None:
        for value in self.values:
            assert value not in text, f"a secret value leaked into {what}"


def test_sandbox_session_at_debug(
    harness: TokenHarness, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)  # root: d365conn, urllib3 and everything else
    user = harness.tokens.user
    secrets = Collector(harness.client_secret, user.password)
    texts: list[str] = []

    # Client credentials, 401, invalidate, renewal.
    cc = token_source_for(build_config(harness.connection_string()))
    first = cc.authorization()
    secrets.add(first)
    harness.admin(expire_access_tokens=True)
    assert first is not None
    cc.invalidate(first)
    secrets.add(cc.authorization())
    texts += [repr(cc), repr(cc.info()), repr(cc.client)]

    # Interactive login (PKCE), then the RefreshToken grant with rotation into a cache file.
    harness.admin(require_pkce=True, strict_rotation=True)
    config = build_config(
        harness.connection_string(RedirectURI="http://localhost", TokenCachePath=str(tmp_path / "t.json"))
    )
    login_source = OAuthTokenSource(config, "AuthorizationCode")
    response = login_source.login(open_browser=secrets.browser(), timeout=20)
    for thread in secrets.threads:
        thread.join(10)
    secrets.add(response.access_token)
    secrets.add(response.refresh_token)
    texts += [repr(response), repr(config), repr(login_source)]
    rotated: list[str] = []
    rt_config = build_config(harness.connection_string(RefreshToken=response.refresh_token or ""))
    rt = token_source_for(rt_config, on_refresh_token=rotated.append)
    secrets.add(rt.authorization())
    for value in rotated:
        secrets.add(value)

    # Password grant.
    harness.tokens.store.grant_consent(harness.client_id, frozenset({"user_impersonation"}))
    pw = token_source_for(
        build_config(harness.connection_string(LogonID=user.username, Password=user.password))
    )
    secrets.add(pw.authorization())

    # Failures: wrong secret, refused refresh token, unreachable issuer.
    for text in (
        harness.connection_string(ClientSecret="wrong-secret-value-0123"),
        harness.connection_string(RefreshToken=response.refresh_token or "", WSTimeout="119"),  # refused
        harness.connection_string(TokenURI="http://127.0.0.1:9/t/oauth2/v2.0/token"),
    ):
        secrets.add("wrong-secret-value-0123")
        with pytest.raises(Error) as info:
            token_source_for(build_config(text)).authorization()
        texts += [str(info.value), repr(info.value)]

    requests.get(harness.service_url + "WhoAmI", timeout=5)  # unrelated traffic in the same log
    assert len(secrets.values) >= 8
    secrets.assert_absent(caplog.text, "the DEBUG log")
    for text in texts:
        secrets.assert_absent(text, "an exception text or repr")
    assert "token request" in caplog.text and "token response" in caplog.text  # the log did run


@pytest.mark.interop
def test_msal_session_at_debug(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    caplog.set_level(logging.DEBUG)
    with oidc_server(tmp_path) as oidc:
        secrets = Collector(CLIENT_SECRET)
        cc = token_source_for(build_config(oidc.connection_string()))
        secrets.add(cc.authorization())
        config = build_config(
            oidc.connection_string(
                Scope=f"{RESOURCE}/user_impersonation offline_access",
                RedirectURI="http://127.0.0.1/callback",
                TokenCachePath=str(tmp_path / "m.json"),
            )
        )
        source = OAuthTokenSource(config, "AuthorizationCode")
        response = source.login(open_browser=secrets.browser(str(oidc.ca_path)), timeout=20)
        for thread in secrets.threads:
            thread.join(10)
        secrets.add(response.access_token)
        secrets.add(response.refresh_token)
        rotated: list[str] = []
        rt = token_source_for(
            build_config(
                oidc.connection_string(
                    Scope=f"{RESOURCE}/user_impersonation offline_access",
                    RefreshToken=response.refresh_token or "",
                )
            ),
            on_refresh_token=rotated.append,
        )
        secrets.add(rt.authorization())
        for value in rotated:
            secrets.add(value)
        assert "msal" in caplog.text.lower()
        secrets.assert_absent(caplog.text, "the DEBUG log (MSAL path)")
        secrets.assert_absent(repr(source) + repr(source.client) + repr(response), "a repr")
