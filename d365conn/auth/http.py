"""The HTTP plumbing of authentication: one requests session per token source, built from Config.

Owns: TLS verification (CACertificate / VerifyServerCertificate), the proxy options, timeouts and
the rule that environment variables (``REQUESTS_CA_BUNDLE``, ``HTTPS_PROXY``) never silently override
the connection string -- ``trust_env`` is off and ``verify`` is passed on every request -- plus the
translation of transport failures into :class:`IssuerUnreachableError`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

import requests

from ..config import Config
from ..exceptions import IssuerUnreachableError


def verify_for(config: Config) -> bool | str:
    if not config.verify_server_certificate:
        return False
    if config.ca_certificate is not None:
        return str(config.ca_certificate)
    return True


def proxies_for(config: Config) -> dict[str, str]:
    if not config.proxy_host:
        return {}
    host = config.proxy_host
    if "://" not in host:
        host = "http://" + host
    parts = urlsplit(host)
    netloc = parts.hostname or ""
    port = config.proxy_port or parts.port
    if port:
        netloc = f"{netloc}:{port}"
    if config.proxy_user:
        auth = quote(config.proxy_user, safe="")
        if config.proxy_password:
            auth += ":" + quote(config.proxy_password, safe="")
        netloc = f"{auth}@{netloc}"
    url = f"{parts.scheme}://{netloc}"
    return {"http": url, "https": url}


class AuthSession(requests.Session):
    """A session whose every request uses the Config's TLS, proxy and timeout settings.

    MSAL receives it as ``http_client``, so MSAL's requests obey the same settings.
    """

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.trust_env = False
        self.verify = verify_for(config)
        self.proxies.update(proxies_for(config))
        self._timeout = (config.connect_timeout, config.read_timeout)
        agent = "d365conn-auth"
        if config.application_name:
            agent += f" ({config.application_name})"
        self.headers["User-Agent"] = agent

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        kwargs.setdefault("verify", self.verify)  # explicit, so REQUESTS_CA_BUNDLE cannot override it
        kwargs.setdefault("proxies", dict(self.proxies))
        return super().request(method, url, *args, **kwargs)

    def __repr__(self) -> str:
        return "AuthSession()"


def unreachable(
    exc: requests.RequestException, url: str, what: str = "token endpoint"
) -> IssuerUnreachableError:
    """The error for a request that never got an HTTP answer (secrets never in the text)."""
    host = urlsplit(url).netloc or url
    if isinstance(exc, requests.exceptions.SSLError):
        reason = "the TLS handshake failed (certificate not trusted?)"
        hint = "set CACertificate to the PEM bundle of the CA that signs the issuer's certificate"
    elif isinstance(exc, requests.exceptions.ProxyError):
        reason = "the proxy refused the connection"
        hint = "check ProxyHost, ProxyPort, ProxyUser and ProxyPassword"
    elif isinstance(exc, requests.exceptions.Timeout):
        reason = "it did not answer in time"
        hint = "check the network, or raise ConnectTimeout / WSTimeout"
    else:
        reason = "the connection failed"
        hint = "check TokenURI / TenantID / Authority, DNS and the network (ProxyHost if you need a proxy)"
    return IssuerUnreachableError(
        f"cannot reach the {what} at {host}: {reason} ({type(exc).__name__})", hint=hint
    )
