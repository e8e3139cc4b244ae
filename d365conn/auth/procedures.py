"""The OAuth procedures other products offer to SQL-only tools, for ``cursor.callproc``.

Owns: ``GetOAuthAuthorizationURL``, ``GetOAuthAccessToken`` and ``RefreshOAuthAccessToken``, with
the inputs and result columns of CData's procedures of the same names (appRules offers the same
steps): get the URL to sign in at, exchange the code the browser came back with (``AuthMode=WEB``,
``Verifier=<code>``) or run the whole loopback login here (``AuthMode=APP``), and refresh. The PKCE
verifier of a pending login stays in this process, keyed by its ``State``. Tokens obtained are also
stored in TokenCachePath, so a connection with the same credentials continues with them.
Result rows hold tokens -- that is what these procedures are for -- but nothing here logs them.
"""

from __future__ import annotations

import threading
import time
import webbrowser
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ..config import Config
from ..exceptions import ProgrammingError
from . import credentials_key, grants
from .oauth2 import AuthCodeFlow, TokenResponse
from .source import OAuthTokenSource

#: name -> (input parameters in positional order, result columns)
PROCEDURES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "GetOAuthAuthorizationURL": (("CallbackURL", "Scope", "State"), ("URL", "State")),
    "GetOAuthAccessToken": (
        ("AuthMode", "Verifier", "CallbackURL", "State", "Scope"),
        ("OAuthAccessToken", "OAuthRefreshToken", "ExpiresIn"),
    ),
    "RefreshOAuthAccessToken": (
        ("OAuthRefreshToken",),
        ("OAuthAccessToken", "OAuthRefreshToken", "ExpiresIn"),
    ),
}
_PENDING_LIFETIME = 900.0  # an authorization code lives ~10 minutes; the pending login a little longer
_pending: dict[str, tuple[float, str, OAuthTokenSource, AuthCodeFlow]] = {}
_pending_lock = threading.Lock()


def _canonical(name: str) -> str:
    for known in PROCEDURES:
        if known.casefold() == name.strip().casefold():
            return known
    raise ProgrammingError(f"unknown procedure {name!r}; d365conn offers {', '.join(PROCEDURES)}")


def _arguments(name: str, params: Sequence[Any] | Mapping[str, Any]) -> dict[str, str]:
    inputs = PROCEDURES[name][0]
    values: dict[str, str] = {}
    if isinstance(params, Mapping):
        by_fold = {p.casefold(): p for p in inputs}
        for key, value in params.items():
            canonical = by_fold.get(str(key).strip().lstrip("@").casefold())
            if canonical is None:
                raise ProgrammingError(
                    f"{name} has no parameter {key!r}; its parameters are {', '.join(inputs)}"
                )
            if value is not None and str(value) != "":
                values[canonical] = str(value)
    else:
        if len(params) > len(inputs):
            raise ProgrammingError(f"{name} takes at most {len(inputs)} parameters ({', '.join(inputs)})")
        for param, value in zip(inputs, params, strict=False):
            if value is not None and str(value) != "":
                values[param] = str(value)
    return values


def _source(config: Config, args: Mapping[str, str], grant: str) -> OAuthTokenSource:
    changes: dict[str, Any] = {}
    if "Scope" in args:
        changes["scope"] = args["Scope"]
    if "CallbackURL" in args:
        changes["redirect_uri"] = args["CallbackURL"]
    return OAuthTokenSource(config.replace(**changes) if changes else config, grant)


def _row(response: TokenResponse) -> tuple[Any, ...]:
    lifetime = response.lifetime
    return (response.access_token, response.refresh_token, "-1" if lifetime is None else str(int(lifetime)))


def call_procedure(
    config: Config, name: str, params: Sequence[Any] | Mapping[str, Any]
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run one OAuth procedure; returns (column names, rows)."""
    proc = _canonical(name)
    args = _arguments(proc, params)
    columns = list(PROCEDURES[proc][1])
    if proc == "GetOAuthAuthorizationURL":
        return columns, [_authorization_url(config, args)]
    if proc == "GetOAuthAccessToken":
        return columns, [_row(_access_token(config, args))]
    refresh_token = args.get("OAuthRefreshToken") or config.refresh_token
    if not refresh_token:
        raise ProgrammingError(
            "RefreshOAuthAccessToken needs OAuthRefreshToken (or RefreshToken in the connection)"
        )
    source = OAuthTokenSource(config.replace(refresh_token=refresh_token), grants.REFRESH_TOKEN)
    return columns, [_row(source.redeem_refresh_token(refresh_token))]


def _authorization_url(config: Config, args: Mapping[str, str]) -> tuple[Any, ...]:
    source = _source(config, args, grants.AUTHORIZATION_CODE)
    redirect_uri = args.get("CallbackURL") or config.redirect_uri
    if not redirect_uri:
        raise ProgrammingError(
            "GetOAuthAuthorizationURL needs CallbackURL (or RedirectURI in the connection)"
        )
    flow = source.begin_auth_code(redirect_uri, args.get("State"))
    now = time.time()
    with _pending_lock:
        for state in [s for s, entry in _pending.items() if now - entry[0] > _PENDING_LIFETIME]:
            del _pending[state]
        _pending[flow.state] = (now, credentials_key(config, grants.AUTHORIZATION_CODE), source, flow)
    return (flow.auth_uri, flow.state)


def _access_token(config: Config, args: Mapping[str, str]) -> TokenResponse:
    verifier = args.get("Verifier")
    mode = (args.get("AuthMode") or ("WEB" if verifier else "APP")).upper()
    if mode == "APP":
        source = _source(config, args, grants.AUTHORIZATION_CODE)
        return source.login(open_browser=webbrowser.open)
    if mode != "WEB":
        raise ProgrammingError(f"AuthMode must be APP or WEB, got {mode!r}")
    if not verifier:
        raise ProgrammingError(
            "GetOAuthAccessToken with AuthMode=WEB needs Verifier (the code the browser returned)"
        )
    params: dict[str, str] = {"code": verifier}
    if "code=" in verifier:  # the whole redirect URL was pasted
        params = dict(parse_qsl(urlsplit(verifier).query))
    state = args.get("State") or params.get("state")
    key = credentials_key(config, grants.AUTHORIZATION_CODE)
    with _pending_lock:
        if state is None:
            mine = [s for s, entry in _pending.items() if entry[1] == key]
            state = mine[-1] if len(mine) == 1 else None
        entry = _pending.pop(state, None) if state else None
    if entry is None or entry[1] != key:
        raise ProgrammingError(
            "GetOAuthAccessToken: no pending sign-in for this State in this process; "
            "call GetOAuthAuthorizationURL first (and pass its State)"
        )
    _, _, source, flow = entry
    params.setdefault("state", flow.state)
    response = source.finish_auth_code(flow, params)
    source.adopt_login(response)
    return response
