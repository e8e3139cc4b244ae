"""GetOAuthAuthorizationURL / GetOAuthAccessToken / RefreshOAuthAccessToken against the sandbox."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from d365conn.auth.procedures import call_procedure
from d365conn.config import build_config
from d365conn.exceptions import ProgrammingError
from tests.auth.conftest import follow_sign_in
from tests.auth.harness import TokenHarness


def test_web_flow_then_refresh(harness: TokenHarness, tmp_path: Path) -> None:
    cache = tmp_path / "procs.json"
    config = build_config(harness.connection_string(TokenCachePath=str(cache)))
    columns, rows = call_procedure(
        config,
        "GetOAuthAuthorizationURL",
        {"CallbackURL": "http://127.0.0.1:8765/callback", "State": "my-state-1"},
    )
    assert columns == ["URL", "State"]
    url, state = rows[0]
    assert state == "my-state-1" and "code_challenge_method=S256" in url and "/oauth2/v2.0/authorize?" in url

    final = follow_sign_in(url, deliver=False)  # the user signs in; the tool reads the code off the redirect
    params = dict(parse_qsl(urlsplit(final).query))
    assert params["state"] == "my-state-1"

    columns, rows = call_procedure(
        config, "getoauthaccesstoken", {"@AuthMode": "WEB", "Verifier": params["code"], "State": state}
    )
    assert columns == ["OAuthAccessToken", "OAuthRefreshToken", "ExpiresIn"]
    access_token, refresh_token, expires_in = rows[0]
    assert int(expires_in) > 3000 and refresh_token
    who = requests.get(
        harness.service_url + "WhoAmI", headers={"Authorization": f"Bearer {access_token}"}, timeout=5
    )
    assert who.status_code == 200
    assert cache.exists()  # a connection with these credentials continues from the cache

    columns, rows = call_procedure(config, "RefreshOAuthAccessToken", [refresh_token])
    assert columns == ["OAuthAccessToken", "OAuthRefreshToken", "ExpiresIn"]
    assert rows[0][0] != access_token and rows[0][1]


def test_pasted_redirect_url_is_accepted(harness: TokenHarness) -> None:
    config = build_config(harness.connection_string(RedirectURI="http://localhost:8766/cb"))
    _, rows = call_procedure(config, "GetOAuthAuthorizationURL", [])
    final = follow_sign_in(rows[0][0], deliver=False)
    _, tokens = call_procedure(config, "GetOAuthAccessToken", ["WEB", final])
    assert tokens[0][0] and tokens[0][1]


def test_procedure_errors(harness: TokenHarness) -> None:
    config = build_config(harness.connection_string())
    with pytest.raises(ProgrammingError, match="unknown procedure"):
        call_procedure(config, "GetOAuthSecrets", [])
    with pytest.raises(ProgrammingError, match="at most 1"):
        call_procedure(config, "RefreshOAuthAccessToken", ["a", "b"])
    with pytest.raises(ProgrammingError, match="no parameter 'Bogus'"):
        call_procedure(config, "GetOAuthAuthorizationURL", {"Bogus": 1})
    with pytest.raises(ProgrammingError, match="needs CallbackURL"):
        call_procedure(config, "GetOAuthAuthorizationURL", [])
    with pytest.raises(ProgrammingError, match="no pending sign-in"):
        call_procedure(config, "GetOAuthAccessToken", {"AuthMode": "WEB", "Verifier": "abc", "State": "nope"})
    with pytest.raises(ProgrammingError, match="needs OAuthRefreshToken"):
        call_procedure(config, "RefreshOAuthAccessToken", [])
