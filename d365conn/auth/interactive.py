"""The interactive half of the AuthorizationCode grant: a one-shot listener on the loopback RedirectURI.

Owns: binding the RedirectURI on loopback (a free port when it names none, as RFC 8252 allows for
``http://localhost``), waiting for the browser to come back with ``code`` and ``state`` (or
``error``), checking the state, and handing the parameters to the OAuth client for the exchange.
The listener never logs the request line: it carries the authorization code.
"""

from __future__ import annotations

import html
import logging
import socket
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from ..exceptions import AuthenticationError, ConfigurationError
from .endpoints import is_loopback
from .errors import error_from_redirect
from .oauth2 import TokenResponse

if TYPE_CHECKING:
    from .source import OAuthTokenSource

log = logging.getLogger("d365conn.auth")

_PAGE = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>d365conn</title></head>"
    "<body style='font-family:sans-serif'><h2>{title}</h2><p>{text}</p></body></html>"
)


class _Server(HTTPServer):
    expected_path: str
    result: dict[str, str] | None = None

    def __init__(self, address: tuple[str, int], family: int) -> None:
        self.address_family = family
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path.rstrip("/") != self.server.expected_path.rstrip("/"):
            self.send_error(404)
            return
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        if "code" not in params and "error" not in params:
            self.send_error(400, "no code or error in the redirect")
            return
        self.server.result = params
        if "error" in params:
            title, text = "Sign-in failed", html.escape(params.get("error_description") or params["error"])
        else:
            title, text = "Signed in", "d365conn received the sign-in. You can close this window."
        body = _PAGE.format(title=title, text=text).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return  # the request line holds the authorization code: never log it


class LoopbackListener:
    """Listens on the RedirectURI; ``redirect_uri`` is the exact URI to send (port filled in)."""

    def __init__(self, redirect_uri: str | None) -> None:
        uri = redirect_uri or "http://localhost"
        parts = urlsplit(uri)
        if parts.scheme != "http" or not is_loopback(uri):
            raise ConfigurationError(
                f"RedirectURI {uri!r} cannot receive the sign-in here: the login listens on loopback only, "
                "so RedirectURI must be http://localhost[:port][/path] (or 127.0.0.1), "
                "registered on the app"
            )
        host = parts.hostname or "localhost"
        bind = "127.0.0.1" if host == "localhost" else host
        family = socket.AF_INET6 if ":" in bind else socket.AF_INET
        try:
            self._server = _Server((bind, parts.port or 0), family)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot listen on RedirectURI {uri!r}: {exc.strerror}; "
                "name another port, or none (a free one is chosen)"
            ) from None
        self._server.expected_path = parts.path or "/"
        self._server.timeout = 0.2
        port = self._server.server_address[1]
        shown_host = f"[{host}]" if ":" in host else host
        self.redirect_uri = f"http://{shown_host}:{port}{parts.path}"

    def wait(self, timeout: float) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while self._server.result is None:
            if time.monotonic() >= deadline:
                raise AuthenticationError(
                    f"no sign-in arrived at {self.redirect_uri} within {int(timeout)} s",
                    hint="open the printed URL in a browser on this machine and complete the sign-in",
                )
            self._server.handle_request()
        return self._server.result

    def close(self) -> None:
        self._server.server_close()


def run_loopback_login(
    source: OAuthTokenSource,
    *,
    open_browser: Callable[[str], object] | None,
    timeout: float,
    on_url: Callable[[str], object] | None = None,
) -> TokenResponse:
    """Authorize URL -> browser -> loopback redirect -> code exchange (with PKCE)."""
    listener = LoopbackListener(source._config.redirect_uri)
    try:
        flow = source.begin_auth_code(listener.redirect_uri)
        log.debug("login: waiting for the sign-in on %s", listener.redirect_uri)
        if on_url is not None:
            on_url(flow.auth_uri)
        if open_browser is not None:
            open_browser(flow.auth_uri)
        params = listener.wait(timeout)
    finally:
        listener.close()
    if "error" in params:
        raise error_from_redirect(
            params, endpoint=source.endpoints.auth_uri or "authorize", redact=source.redactor
        )
    if params.get("state") != flow.state:
        raise AuthenticationError(
            "the sign-in came back with a state that this login did not send (a stale or forged redirect)",
            hint="start the login again",
        )
    return source.finish_auth_code(flow, params)
