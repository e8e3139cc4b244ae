"""Where tokens come from and what to ask for: token/authorize URLs, Entra v1/v2, scopes, resource.

Owns: deriving TokenURI and AuthURI from TenantID (or an OpenID Authority), telling Entra v2
(``/oauth2/v2.0/token``, ``scope=``) from v1 (``/oauth2/token``, ``resource=``) and from any other
issuer, the default scope for the service (``<origin>/.default`` app-only,
``<origin>/user_impersonation offline_access`` delegated, Business Central's own resource), the
https-or-loopback rule, and whether MSAL or the plain OAuth 2.0 client talks to the issuer.
Nothing here does I/O except :func:`discover`, which reads an issuer's OpenID metadata.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from ..config import Config
from ..exceptions import ConfigurationError, InsecureIssuerError

Style = Literal["v2", "v1", "generic"]

#: Microsoft Entra authority hosts: public cloud, US government, China (21Vianet), legacy Germany.
ENTRA_HOSTS = frozenset(
    {
        "login.microsoftonline.com",
        "login.microsoft.com",
        "login.windows.net",
        "login.microsoftonline.us",
        "login.chinacloudapi.cn",
        "login.partner.microsoftonline.cn",
        "login.microsoftonline.de",
    }
)
BUSINESS_CENTRAL_RESOURCE = "https://api.businesscentral.dynamics.com"
DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"
#: Scopes MSAL adds itself and refuses to be given.
OIDC_RESERVED = frozenset({"openid", "profile", "offline_access"})


@dataclass(frozen=True)
class Endpoints:
    """The resolved token and authorization endpoints and what to ask them for."""

    token_uri: str
    auth_uri: str | None
    style: Style
    entra: bool  # the issuer is a Microsoft Entra authority host
    authority: str | None  # MSAL's authority (Entra) or OpenID issuer (others)
    app_scopes: tuple[str, ...]
    delegated_scopes: tuple[str, ...]
    resource: str | None  # sent as resource= (v1, or when given explicitly)


def is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_secure(url: str, option: str) -> None:
    """https everywhere; plain http only on loopback (the sandbox, a local IdP)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and is_loopback(url):
        return
    if parts.scheme == "http":
        raise InsecureIssuerError(
            f"{option} {url!r} is plain http on a host that is not loopback; secrets and tokens would "
            "cross the network unencrypted",
            hint=f"use the issuer's https URL in {option} (plain http works only on localhost/127.0.0.1)",
        )
    raise ConfigurationError(f"{option} must be an absolute https URL, got {url!r}")


def service_origin(service_url: str) -> str:
    parts = urlsplit(service_url)
    return f"{parts.scheme}://{parts.netloc}"


def default_audience(service_url: str) -> str:
    """The resource the service's tokens are for: Business Central's API, else the service origin."""
    host = (urlsplit(service_url).hostname or "").lower()
    if host == "businesscentral.dynamics.com" or host.endswith(".businesscentral.dynamics.com"):
        return BUSINESS_CENTRAL_RESOURCE
    return service_origin(service_url)


def is_entra_url(url: str) -> bool:
    return (urlsplit(url).hostname or "").lower() in ENTRA_HOSTS


def token_style(token_uri: str) -> Style:
    path = urlsplit(token_uri).path.rstrip("/")
    if path.endswith("/oauth2/v2.0/token"):
        return "v2"
    if path.endswith("/oauth2/token"):
        return "v1"
    return "generic"


def _derived_auth_uri(token_uri: str) -> str | None:
    # Entra (v1 and v2), AD FS and the sandbox all put authorize next to token.
    parts = urlsplit(token_uri)
    if parts.path.rstrip("/").endswith("/token"):
        base = token_uri.split("?", 1)[0].rstrip("/")
        return base[: -len("token")] + "authorize"
    return None


def _entra_authority(token_uri: str) -> str | None:
    parts = urlsplit(token_uri)
    segments = [s for s in parts.path.split("/") if s]
    if (parts.hostname or "").lower() in ENTRA_HOSTS and segments:
        return f"https://{parts.netloc}/{segments[0]}"
    return None


def resolve(config: Config, grant: str, discovered: dict[str, Any] | None = None) -> Endpoints:
    """The endpoints for ``config``; ``discovered`` is the Authority's OpenID metadata, if fetched."""
    token_uri = config.token_uri
    auth_uri = config.auth_uri
    if config.token_method != "POST":
        raise ConfigurationError(
            "TokenURI: the token endpoint takes POST only (RFC 6749 3.2); "
            "a GET would put secrets into URLs and logs"
        )
    if discovered:
        token_uri = token_uri or _str(discovered.get("token_endpoint"))
        auth_uri = auth_uri or _str(discovered.get("authorization_endpoint"))
    if not token_uri and config.tenant_id:
        token_uri = f"{DEFAULT_AUTHORITY_HOST}/{config.tenant_id}/oauth2/v2.0/token"
    if not token_uri and config.authority and _entra_authority(config.authority.rstrip("/") + "/x"):
        token_uri = config.authority.rstrip("/") + "/oauth2/v2.0/token"
    if not token_uri:
        raise ConfigurationError(f"{grant} grant needs TokenURI or TenantID (or Authority, an OpenID issuer)")
    check_secure(token_uri, "TokenURI")
    style = token_style(token_uri)
    auth_uri = auth_uri or _derived_auth_uri(token_uri)
    if auth_uri:
        check_secure(auth_uri, "AuthURI")
    entra_authority = _entra_authority(token_uri)
    authority = entra_authority if entra_authority and style == "v2" else config.authority
    if config.authority:
        check_secure(config.authority, "Authority")
    audience = default_audience(config.service_url)
    app_scopes: tuple[str, ...]
    delegated: tuple[str, ...]
    if config.scope:
        app_scopes = delegated = tuple(config.scope.split())
    elif config.resource and style != "v1":
        base = config.resource.rstrip("/")
        app_scopes, delegated = (f"{base}/.default",), (f"{base}/user_impersonation", "offline_access")
    else:
        app_scopes = (f"{audience}/.default",)
        delegated = (f"{audience}/user_impersonation", "offline_access")
    resource = config.resource
    if style == "v1" and not resource:
        # Entra v1 wants the resource itself; Dataverse's is written with a trailing slash.
        resource = audience if audience == BUSINESS_CENTRAL_RESOURCE else audience + "/"
    return Endpoints(
        token_uri=token_uri,
        auth_uri=auth_uri,
        style=style,
        entra=entra_authority is not None,
        authority=authority,
        app_scopes=app_scopes,
        delegated_scopes=delegated,
        resource=resource,
    )


def use_msal(config: Config, endpoints: Endpoints) -> bool:
    """MSAL for Entra v2 authorities (or when asked), the plain client for everything else."""
    if config.oauth_client == "Plain":
        return False
    reasons = []
    if endpoints.style == "v1":
        reasons.append("MSAL speaks only the v2 endpoints (this TokenURI is Entra v1)")
    if config.client_authentication == "Basic":
        reasons.append("MSAL sends the client secret in the form body, not HTTP Basic")
    if not endpoints.token_uri.startswith("https://"):
        reasons.append("MSAL accepts only https issuers")
    if not endpoints.entra and not config.authority:
        reasons.append("MSAL needs Authority=<issuer URL> for a non-Microsoft issuer")
    if config.oauth_client == "MSAL":
        if reasons:
            raise ConfigurationError("OAuthClient=MSAL cannot be used here: " + "; ".join(reasons))
        return True
    return endpoints.entra and not reasons


_CHALLENGE_URI = re.compile(r'authorization_uri\s*=\s*"?([^",\s]+)"?', re.IGNORECASE)


def token_uri_from_challenge(header: str, service_url: str) -> str | None:
    """The v2 token endpoint named by a service's ``WWW-Authenticate: Bearer authorization_uri=...``.

    Dataverse answers an unauthenticated request with the tenant's authorize URL. It is trusted only
    when it points at a Microsoft Entra host or at the service's own host (the sandbox), so a service
    cannot send our client secret to an arbitrary issuer.
    """
    match = _CHALLENGE_URI.search(header or "")
    if not match:
        return None
    parts = urlsplit(match.group(1))
    host = (parts.hostname or "").lower()
    if host not in ENTRA_HOSTS and host != (urlsplit(service_url).hostname or "").lower():
        return None
    segments = [s for s in parts.path.split("/") if s]
    if not segments or segments[0] in ("oauth2", "common", "organizations", "consumers"):
        return None
    return f"{parts.scheme}://{parts.netloc}/{segments[0]}/oauth2/v2.0/token"


def oidc_scope_list(scopes: tuple[str, ...]) -> list[str]:
    """Scopes without the OpenID ones MSAL adds itself (it refuses to be given them)."""
    return [s for s in scopes if s not in OIDC_RESERVED]


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
