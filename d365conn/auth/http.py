"""The HTTP plumbing of authentication: one requests session per token source, built from Config.

Owns: applying TLS verification (CACertificate / VerifyServerCertificate) and the proxy options
-- read from ``Config.tls_verify`` and ``Config.proxy_url``, which the transport uses too -- timeouts and
the rule that environment variables (``REQUESTS_CA_BUNDLE``, ``HTTPS_PROXY``) never silently override
the connection string -- ``trust_env`` is off and ``verify`` is passed on every request -- plus the
translation of transport failures into :class:`IssuerUnreachableError`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests

from ..config import Config
from ..exceptions import IssuerUnreachableError


def proxies_for(config: Config) -> dict[str, str]:
    """``proxies`` for requests: ``Config.proxy_url`` (the one the service requests use) for both schemes."""
    url = config.proxy_url
    return {"http": url, "https": url} if url else {}


class AuthSession(requests.Session):
    """A session whose every request uses the Config's TLS, proxy and timeout settings.

    MSAL receives it as ``http_client``, so MSAL's requests obey the same settings.
    """

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.trust_env = False
        self.verify = config.tls_verify
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
