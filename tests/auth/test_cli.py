"""``d365conn login`` and ``d365conn test`` against the sandbox token service, through their argparse."""

from __future__ import annotations

import argparse
import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from d365conn.auth.cli import add_login_arguments, add_test_arguments, run_login, run_test
from d365conn.config import build_config
from tests.auth.harness import TokenHarness


def parse(add: Callable[[argparse.ArgumentParser], None], *argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add(parser)
    return parser.parse_args(list(argv))


def test_login_prints_a_ready_connection_string(
    harness: TokenHarness,
    browser: Callable[..., Callable[[str], None]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cache = tmp_path / "cache" / "tokens.json"
    text = harness.connection_string(RedirectURI="http://localhost", TokenCachePath=str(cache))
    args = parse(add_login_arguments, text, "--no-browser", "--timeout", "20")
    args.open_browser = browser()  # plays the user in a browser
    assert run_login(args) == 0
    out, err = capsys.readouterr()
    assert "Open this URL in a browser" in err and "/oauth2/v2.0/authorize?" in err
    assert harness.tokens.user.username in out
    line = next(line for line in out.splitlines() if line.startswith("ServiceURL="))
    assert "RefreshToken=***" in line and "ClientSecret=***" in line and harness.client_secret not in out
    assert "AuthenticationMethod=RefreshToken" in line
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    record = next(iter(json.loads(cache.read_text())["d365conn"].values()))
    assert record["refresh_token"] not in out

    # The printed string (with the masked pair left out) connects through the cache.
    ready = ";".join(p for p in line.split(";") if not p.startswith(("RefreshToken=", "ClientSecret=")))
    ready += f";ClientSecret={harness.client_secret}"
    assert run_test(parse(add_test_arguments, ready)) == 0
    assert harness.whoami_calls == 1
    assert harness.token_requests() == 1  # the code exchange only: the cached access token was reused


def test_login_show_secrets_prints_the_refresh_token(
    harness: TokenHarness,
    browser: Callable[..., Callable[[str], None]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = harness.connection_string(RedirectURI="http://localhost", TokenCachePath=str(tmp_path / "t.json"))
    args = parse(add_login_arguments, text, "--no-browser", "--show-secrets", "--timeout", "20")
    args.open_browser = browser()
    assert run_login(args) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("ServiceURL="))
    refresh_token = next(p for p in line.split(";") if p.startswith("RefreshToken=")).split("=", 1)[1]
    assert refresh_token.startswith("1.")  # the sandbox's refresh tokens
    assert harness.client_secret in line
    # It works without the cache: a plain RefreshToken connection.
    config = build_config(line.replace(f";TokenCachePath={tmp_path / 't.json'}", ""))
    assert config.refresh_token == refresh_token


def test_test_command_prints_grant_identity_expiry_not_token(
    harness: TokenHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_test(parse(add_test_arguments, harness.connection_string())) == 0
    out = capsys.readouterr().out
    assert "Grant:     ClientCredentials" in out
    assert f"Identity:  {harness.client_id}" in out
    assert "Expires:" in out and "UTC" in out
    assert "UserId=00000000-0000-0000-0000-000000000002" in out
    assert "eyJ" not in out and harness.client_secret not in out


def test_test_command_reports_errors(harness: TokenHarness, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_test(parse(add_test_arguments, harness.connection_string(ClientSecret="bad-secret-0123"))) == 1
    err = capsys.readouterr().err
    assert "AADSTS7000215" in err and "bad-secret-0123" not in err
    assert (
        run_test(
            parse(
                add_test_arguments,
                "ServiceURL=https://x.crm.dynamics.com/api/data/v9.2/;AuthenticationMethod=RefreshToken",
            )
        )
        == 2
    )
    assert "RefreshToken grant needs ClientID" in capsys.readouterr().err
