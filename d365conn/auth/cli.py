"""``d365conn login`` and ``d365conn test``: the command-line side of authentication.

Owns: the interactive sign-in (authorization URL -> browser or printed URL -> loopback redirect ->
code exchange -> tokens stored in TokenCachePath -> a ready connection string with ``RefreshToken=``,
secrets masked unless ``--show-secrets``) and the connection check (a token, then WhoAmI on
Dataverse or the companies of Business Central; prints the grant, identity and expiry, never a
token). The console script registers these with :func:`add_login_arguments` / :func:`run_login`
and :func:`add_test_arguments` / :func:`run_test`.

Exit codes: 0 success; 1 the sign-in or the service failed; 2 bad connection options.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from ..config import CONNECTION_STRING_ENV, build_config, parse_connection_string
from ..exceptions import ConfigurationError, Error
from . import grants, token_source_for
from .base import TokenInfo
from .http import AuthSession, unreachable
from .source import OAuthTokenSource

DEFAULT_CACHE = Path("~/.d365conn/tokens.json")


def _connection_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "connection_string",
        nargs="?",
        help=f'the connection string, e.g. "ServiceURL=...;ClientID=...;TenantID=..." '
        f"(default: ${CONNECTION_STRING_ENV})",
    )


def _text(args: argparse.Namespace) -> str:
    text = getattr(args, "connection_string", None) or getattr(args, "connection", None)
    text = text or os.environ.get(CONNECTION_STRING_ENV)
    if not text:
        raise ConfigurationError(f"no connection string: pass one, or set ${CONNECTION_STRING_ENV}")
    return str(text)


def _when(info: TokenInfo) -> str:
    if info.expires_at is None:
        return "unknown (the token does not say; it is renewed when the service refuses it)"
    left = info.expires_at.timestamp() - time.time()
    return f"{info.expires_at:%Y-%m-%d %H:%M:%S} UTC (in {max(0, int(left // 60))} min)"


def _failed(command: str, exc: Error) -> int:
    """Report ``exc`` on standard error; exit 2 for bad options, 1 for anything else."""
    print(f"d365conn {command}: {exc}", file=sys.stderr)
    return 2 if isinstance(exc, ConfigurationError) else 1


# --- d365conn login ------------------------------------------------------------------------------


def add_login_arguments(parser: argparse.ArgumentParser) -> None:
    _connection_argument(parser)
    parser.add_argument(
        "--no-browser", action="store_true", help="print the sign-in URL instead of opening a browser"
    )
    parser.add_argument(
        "--show-secrets",
        action="store_true",
        help="print the connection string with tokens and secrets in clear",
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds to wait for the sign-in (default 300)"
    )
    # Embedders and tests may set a callable that plays the browser: open_browser(url).
    parser.set_defaults(open_browser=None)


def run_login(args: argparse.Namespace) -> int:
    try:
        text = _text(args)
        config = build_config(text)
        if config.token_cache_path is None:
            config = config.replace(token_cache_path=DEFAULT_CACHE.expanduser())
        config = config.replace(authentication_method=grants.AUTHORIZATION_CODE)
        source = OAuthTokenSource(config, grants.AUTHORIZATION_CODE)
        opener: Callable[[str], object] | None = getattr(args, "open_browser", None)
        if opener is None and not args.no_browser:
            opener = webbrowser.open

        def show_url(url: str) -> None:
            lead = (
                "Open this URL in a browser to sign in:" if args.no_browser else "Opening the sign-in page:"
            )
            print(f"{lead}\n  {url}\nWaiting for the sign-in...", file=sys.stderr, flush=True)

        response = source.login(open_browser=opener, timeout=args.timeout, on_url=show_url)
    except Error as exc:
        return _failed("login", exc)
    info = source.info()
    print(f"Signed in as {info.identity or 'an unnamed identity'}; access token expires {_when(info)}")
    print(f"Tokens stored in {config.token_cache_path} (mode 0600).")
    changes: dict[str, Any] = {"TokenCachePath": str(config.token_cache_path)}
    if response.refresh_token:
        changes.update(AuthenticationMethod=grants.REFRESH_TOKEN, RefreshToken=response.refresh_token)
    else:
        changes["AuthenticationMethod"] = grants.AUTHORIZATION_CODE
        print(
            "warning: the issuer returned no refresh token (is offline_access in Scope?); "
            "the cached access token works until it expires",
            file=sys.stderr,
        )
    options = parse_connection_string(text).merged(changes)
    note = "" if args.show_secrets else " (secrets masked; --show-secrets prints them)"
    print(f"Connection string{note}:")
    print(options.to_connection_string(reveal_secrets=bool(args.show_secrets)))
    if not args.show_secrets:
        print(
            "With TokenCachePath set, the masked RefreshToken pair may be left out: "
            "the newest token is read from the cache."
        )
    return 0


# --- d365conn test -------------------------------------------------------------------------------


def add_test_arguments(parser: argparse.ArgumentParser) -> None:
    _connection_argument(parser)


def _kind(service_url: str, service_type: str) -> str:
    if service_type != "auto":
        return service_type
    parts = urlsplit(service_url)
    if "/api/data/" in parts.path.lower():
        return "dataverse"
    if "businesscentral.dynamics.com" in (parts.hostname or "") or "/odatav4/" in parts.path.lower():
        return "businesscentral"
    return "odata"


def _probe(config: Any) -> tuple[str, str]:
    """(URL to GET, what it is) for the service kind."""
    root = config.service_root
    kind = _kind(config.service_url, config.service_type)
    if kind == "dataverse":
        return root + "WhoAmI", "Dataverse WhoAmI"
    if kind == "businesscentral":
        if "/odatav4/" in urlsplit(root).path.lower():
            return root + "Company", "Business Central companies (ODataV4)"
        return root + "companies", "Business Central companies"
    return root, "OData service document"


def _describe(kind: str, body: Any) -> str:
    if not isinstance(body, dict):
        return "answered"
    if kind.startswith("Dataverse"):
        return ", ".join(f"{k}={body.get(k)}" for k in ("UserId", "BusinessUnitId", "OrganizationId"))
    rows = body.get("value")
    if isinstance(rows, list):
        names = [
            str(r.get("name") or r.get("Name") or r.get("displayName") or "?")
            for r in rows
            if isinstance(r, dict)
        ]
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        return f"{len(rows)} found" + (f": {shown}" if kind.startswith("Business") else "")
    return "answered"


def run_test(args: argparse.Namespace) -> int:
    try:
        config = build_config(_text(args))
        source = token_source_for(config)
        grant = grants.select_grant(config)
        authorization = source.authorization()
        url, what = _probe(config)
        session = AuthSession(config)
        headers = {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"}
        response: requests.Response | None = None
        for _attempt in range(2):
            sent = dict(headers)
            if authorization:
                sent["Authorization"] = authorization
            try:
                response = session.get(url, headers=sent)
            except requests.RequestException as exc:
                raise unreachable(exc, url, "service") from None
            if response.status_code != 401 or not authorization:
                break
            source.invalidate(authorization)  # one renewal, as the transport does
            authorization = source.authorization()
    except Error as exc:
        return _failed("test", exc)
    info = source.info()
    print(f"Grant:     {grant}")
    print(f"Identity:  {info.identity or '(not stated by the token)'}")
    print(f"Expires:   {_when(info) if authorization else 'no token (AuthenticationMethod=None)'}")
    if response is None:  # pragma: no cover - the loop always runs once
        return 1
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200:
        error = body.get("error") if isinstance(body, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        print(
            f"Service:   {what} failed: HTTP {response.status_code} {message or response.reason}",
            file=sys.stderr,
        )
        return 1
    print(f"Service:   {what}: {_describe(what, body)}")
    print(f"Checked:   {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M:%S} UTC -- OK")
    return 0
