"""Every grant end to end against the sandbox token service, over a real socket."""

from __future__ import annotations

import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from d365conn.auth import OAuthTokenSource, token_source_for
from d365conn.auth.cache import TokenCacheFile
from d365conn.auth.claims import peek_claims
from d365conn.config import build_config
from d365conn.exceptions import (
    AuthenticationError,
    InteractionRequiredError,
    InvalidClientError,
    TokenEndpointError,
    TokenExpiredError,
)
from tests.auth.harness import TokenHarness


def whoami(h: TokenHarness, authorization: str | None) -> requests.Response:
    headers = {"Authorization": authorization} if authorization else {}
    return requests.get(h.service_url + "WhoAmI", headers=headers, timeout=10)


def user_refresh_token(h: TokenHarness, browser: Callable[..., Callable[[str], None]], tmp_path: Path) -> str:
    """A refresh token of the sandbox user, obtained through the interactive login."""
    config = build_config(
        h.connection_string(
            ClientSecret="", RedirectURI="http://localhost", TokenCachePath=str(tmp_path / "login.json")
        )
    )
    source = OAuthTokenSource(config, "AuthorizationCode")
    response = source.login(open_browser=browser(), timeout=20)
    assert response.refresh_token
    return response.refresh_token


@pytest.mark.parametrize(
    ("endpoint", "client_auth"), [("v2", "Body"), ("v2", "Basic"), ("v1", "Body"), ("v1", "Basic")]
)
def test_client_credentials_v1_v2_body_basic(harness: TokenHarness, endpoint: str, client_auth: str) -> None:
    uri = harness.token_url if endpoint == "v2" else harness.v1_token_url
    config = build_config(harness.connection_string(TokenURI=uri, ClientAuthentication=client_auth))
    source = token_source_for(config)
    authorization = source.authorization()
    assert authorization and authorization.startswith("Bearer ")
    assert whoami(harness, authorization).status_code == 200
    info = source.info()
    assert info.grant == "ClientCredentials" and info.expires_at is not None
    assert harness.tokens.stats()["token_requests"]["by_endpoint"] == {endpoint: 1}
    # A second call reuses the token: still one request.
    assert source.authorization() == authorization
    assert harness.token_requests() == 1


def test_token_uri_with_method_first(harness: TokenHarness) -> None:
    config = build_config(harness.connection_string(TokenURI=f"POST {harness.token_url}"))
    assert whoami(harness, token_source_for(config).authorization()).status_code == 200


def test_one_shared_source_per_credentials(harness: TokenHarness) -> None:
    first = token_source_for(build_config(harness.connection_string(WSFetchSize="100")))
    second = token_source_for(build_config(harness.connection_string(WSFetchSize="5000")))
    other = token_source_for(build_config(harness.connection_string(ClientSecret="another-secret-value")))
    assert first is second
    assert other is not first


def test_authorization_code_login_with_pkce(
    harness: TokenHarness, browser: Callable[..., Callable[[str], None]], tmp_path: Path
) -> None:
    harness.admin(require_pkce=True)
    cache = tmp_path / "tokens.json"
    config = build_config(
        harness.connection_string(
            RedirectURI="http://localhost",
            TokenCachePath=str(cache),
            AuthenticationMethod="AuthorizationCode",
        )
    )
    source = OAuthTokenSource(config, "AuthorizationCode")
    response = source.login(open_browser=browser(), timeout=20)
    assert response.refresh_token
    assert whoami(harness, source.authorization()).status_code == 200
    assert harness.token_requests("authorization_code") == 1
    assert source.info().identity == harness.tokens.user.username
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600


def test_refresh_token_rotation_kept_in_callback_and_cache(
    harness: TokenHarness, browser: Callable[..., Callable[[str], None]], tmp_path: Path
) -> None:
    first_rt = user_refresh_token(harness, browser, tmp_path)
    harness.admin(strict_rotation=True, token_lifetime=3600)
    cache = tmp_path / "rt-cache.json"
    seen: list[str] = []
    config = build_config(harness.connection_string(RefreshToken=first_rt, TokenCachePath=str(cache)))
    source = token_source_for(config, on_refresh_token=seen.append)
    authorization = source.authorization()
    assert authorization is not None and whoami(harness, authorization).status_code == 200
    assert len(seen) == 1 and seen[0] != first_rt  # rotated, and the new one handed over
    # Force a second refresh: under strict rotation only the newest token works, so this proves it is used.
    source.invalidate(authorization)
    assert whoami(harness, source.authorization()).status_code == 200
    assert len(seen) == 2
    record = TokenCacheFile(cache).record(next(iter(TokenCacheFile(cache).read()["d365conn"])))
    assert record is not None and record["refresh_token"] == seen[-1]
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600


def test_next_run_starts_from_the_newest_cached_token(
    harness: TokenHarness, browser: Callable[..., Callable[[str], None]], tmp_path: Path
) -> None:
    from d365conn.auth import clear_token_sources

    first_rt = user_refresh_token(harness, browser, tmp_path)
    harness.admin(strict_rotation=True, token_lifetime=1)
    cache = tmp_path / "runs.json"
    text = harness.connection_string(RefreshToken=first_rt, TokenCachePath=str(cache))
    token_source_for(build_config(text)).authorization()  # run 1: rotates first_rt away
    clear_token_sources()  # "a new process" with the same connection string
    time.sleep(1.1)  # the cached access token has expired: run 2 must refresh
    source = token_source_for(build_config(text))
    assert whoami(harness, source.authorization()).status_code == 200  # first_rt alone would be refused now


def test_user_password_grant_v1_and_v2(harness: TokenHarness) -> None:
    harness.tokens.store.grant_consent(harness.client_id, frozenset({"user_impersonation"}))
    user = harness.tokens.user
    for uri in (harness.token_url, harness.v1_token_url):
        config = build_config(
            harness.connection_string(TokenURI=uri, LogonID=user.username, Password=user.password)
        )
        source = token_source_for(config)
        assert whoami(harness, source.authorization()).status_code == 200
        assert source.info().identity == user.username


def test_access_token_used_as_given_then_renewed(harness: TokenHarness) -> None:
    token = harness.tokens.mint_access_token(lifetime=2)
    config = build_config(harness.connection_string(AccessToken=token))
    source = token_source_for(config)
    assert source.authorization() == f"Bearer {token}"
    assert harness.token_requests() == 0  # used as given
    exp = peek_claims(token)["exp"]  # type: ignore[index]
    time.sleep(max(0.0, exp - time.time()) + 0.05)
    renewed = source.authorization()  # expired: renewed through the client credentials at hand
    assert renewed != f"Bearer {token}" and whoami(harness, renewed).status_code == 200
    assert harness.token_requests("client_credentials") == 1


def test_expired_access_token_that_nothing_can_renew(harness: TokenHarness) -> None:
    token = harness.tokens.mint_access_token(lifetime=-10)
    config = build_config(f"ServiceURL={harness.service_url};AccessToken={token}")
    with pytest.raises(TokenExpiredError) as info:
        token_source_for(config).authorization()
    assert "expired at" in str(info.value) and "RefreshToken" in str(info.value)
    assert token not in str(info.value)


def test_refused_access_token_that_nothing_can_renew(harness: TokenHarness) -> None:
    token = "opaque-token-the-service-does-not-know-0123456789"  # not a JWT: no exp to read, so 401 decides
    source = token_source_for(build_config(f"ServiceURL={harness.service_url};AccessToken={token}"))
    authorization = source.authorization()
    assert authorization is not None and whoami(harness, authorization).status_code == 401
    with pytest.raises(TokenExpiredError) as info:
        source.invalidate(authorization)
    assert info.value.status == 401 and token not in str(info.value)


def test_401_invalidate_renews_once(harness: TokenHarness) -> None:
    source = token_source_for(build_config(harness.connection_string()))
    old = source.authorization()
    assert old is not None
    harness.admin(expire_access_tokens=True)
    assert whoami(harness, old).status_code == 401
    source.invalidate(old)
    source.invalidate(old)  # a second thread reporting the same token changes nothing
    new = source.authorization()
    assert new != old and whoami(harness, new).status_code == 200
    assert harness.token_requests() == 2


def test_single_flight_refresh_eight_threads(harness: TokenHarness) -> None:
    harness.admin(token_lifetime=2)
    source = token_source_for(build_config(harness.connection_string(TokenRefreshMargin="300")))
    first = source.authorization()
    time.sleep(1.05)  # margin is capped at half the lifetime: the token is now due for renewal
    before = harness.token_requests()
    barrier = threading.Barrier(8)
    results: list[str | None] = []

    def worker() -> None:
        barrier.wait()
        results.append(source.authorization())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert harness.token_requests() - before == 1
    assert len(set(results)) == 1 and results[0] != first


def test_single_flight_after_401_eight_threads(harness: TokenHarness) -> None:
    source = token_source_for(build_config(harness.connection_string()))
    old = source.authorization()
    assert old is not None
    harness.admin(expire_access_tokens=True)
    barrier = threading.Barrier(8)
    results: list[str | None] = []

    def worker() -> None:
        barrier.wait()
        source.invalidate(old)
        results.append(source.authorization())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert harness.token_requests() == 2
    assert len(set(results)) == 1 and whoami(harness, results[0]).status_code == 200


def test_none_grant_sends_nothing(harness: TokenHarness) -> None:
    source = token_source_for(build_config(f"ServiceURL={harness.service_url}"))
    assert source.authorization() is None
    assert source.info().grant == "None"


def test_errors_carry_aadsts_and_hint(harness: TokenHarness) -> None:
    with pytest.raises(InvalidClientError) as bad_secret:
        token_source_for(
            build_config(harness.connection_string(ClientSecret="wrong-secret-0123"))
        ).authorization()
    assert bad_secret.value.aadsts == 7000215 and bad_secret.value.code == "invalid_client"
    assert "Secret ID" in str(bad_secret.value) and "wrong-secret-0123" not in str(bad_secret.value)

    wrong_tenant = harness.token_url.replace(harness.tenant, "contoso.onmicrosoft.com")
    with pytest.raises(TokenEndpointError) as tenant:
        token_source_for(build_config(harness.connection_string(TokenURI=wrong_tenant))).authorization()
    assert tenant.value.aadsts == 90002 and "TenantID" in str(tenant.value)


def test_idle_refresh_token_says_run_login(
    harness: TokenHarness, browser: Callable[..., Callable[[str], None]], tmp_path: Path
) -> None:
    rt = user_refresh_token(harness, browser, tmp_path)
    harness.admin(refresh_token_max_idle=0)
    time.sleep(0.05)
    with pytest.raises(InteractionRequiredError) as info:
        token_source_for(build_config(harness.connection_string(RefreshToken=rt))).authorization()
    assert info.value.aadsts == 700082 and "d365conn login" in str(info.value)
    assert rt not in str(info.value) and rt not in repr(info.value)


def test_interactive_login_at_connect_time(
    harness: TokenHarness,
    browser: Callable[..., Callable[[str], None]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = build_config(
        harness.connection_string(
            ClientSecret="",
            InteractiveLogin="true",
            RedirectURI="http://localhost",
            TokenCachePath=str(tmp_path / "i.json"),
        )
    )
    source = token_source_for(config)
    assert isinstance(source, OAuthTokenSource) and source.grant == "AuthorizationCode"
    source.open_browser = browser()
    assert whoami(harness, source.authorization()).status_code == 200
    assert "sign in at" in capsys.readouterr().err


def test_authorization_code_without_tokens_says_run_login(harness: TokenHarness, tmp_path: Path) -> None:
    config = build_config(harness.connection_string(ClientSecret="", TokenCachePath=str(tmp_path / "e.json")))
    with pytest.raises(AuthenticationError, match="no refresh token yet") as info:
        token_source_for(config).authorization()
    assert "d365conn login" in str(info.value)


def test_tenant_discovered_from_the_services_challenge(harness: TokenHarness) -> None:
    config = build_config(harness.connection_string(TokenURI=""))
    source = token_source_for(config)
    assert whoami(harness, source.authorization()).status_code == 200
    assert isinstance(source, OAuthTokenSource) and source.endpoints.token_uri == harness.token_url
