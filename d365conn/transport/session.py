"""The HTTP session of one connection: keep-alive pool, headers, proxy and TLS settings.

Owns: turning the network part of a :class:`~d365conn.config.Config` into a ``requests.Session``
and the per-request keyword arguments that must accompany it. ``verify`` and ``proxies`` are
passed on every request rather than set on the session, because requests lets the environment
(``REQUESTS_CA_BUNDLE``, ``HTTPS_PROXY``) override session-level values but not explicit ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import requests
from requests.adapters import HTTPAdapter

from ..config import Config

#: Headers every OData request carries (the facts sheet: Dataverse insists on the OData ones).
BASE_HEADERS = {
    "Accept": "application/json",
    "OData-MaxVersion": "4.0",
    "OData-Version": "4.0",
    "Accept-Encoding": "gzip, deflate",
}

# Partitioned scans run several requests at once; keep the pool big enough that none of them
# opens and drops sockets, while staying far below the service's 52 concurrent requests.
_POOL_SIZE = 16


@dataclass(frozen=True)
class RequestSettings:
    """Keyword arguments for ``session.request`` fixed per connection (never logged: the proxy URL
    may carry a password)."""

    verify: bool | str
    proxies: dict[str, str] = field(default_factory=dict, repr=False)
    connect_timeout: float = 30.0
    read_timeout: float = 120.0


def user_agent(config: Config) -> str:
    """``d365conn/<version>``, plus `` (+<ApplicationName>)`` when the user named their app."""
    import d365conn  # the package is fully imported before any transport is built

    agent = f"d365conn/{getattr(d365conn, '__version__', '0')}"
    return f"{agent} (+{config.application_name})" if config.application_name else agent


def proxy_url(config: Config) -> str | None:
    """The proxy URL from ProxyHost/ProxyPort/ProxyUser/ProxyPassword, or None (``Config.proxy_url``)."""
    return config.proxy_url


def request_settings(config: Config) -> RequestSettings:
    """TLS verification (a CA file, the default bundle, or off) and proxies for every request."""
    proxy = config.proxy_url
    proxies = {"http": proxy, "https": proxy} if proxy else {}
    return RequestSettings(config.tls_verify, proxies, config.connect_timeout, config.read_timeout)


def build_session(config: Config) -> requests.Session:
    """One keep-alive session per connection, with the OData headers and our User-Agent."""
    session = requests.Session()
    session.headers.update(BASE_HEADERS)
    session.headers["User-Agent"] = user_agent(config)
    # Retries are ours (retry.py): urllib3 must not retry behind our back, or a POST could be sent twice.
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=_POOL_SIZE, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    # trust_env stays on: REQUESTS_CA_BUNDLE matters behind TLS-inspecting proxies, and the explicit
    # proxies and verify passed per request take precedence over the environment's anyway.
    return session


__all__ = ["BASE_HEADERS", "RequestSettings", "build_session", "proxy_url", "request_settings", "user_agent"]
