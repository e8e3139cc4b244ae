"""Settings and identities of the sandbox token service.

Owns: the one registered application (client id, secret, redirect URIs), the one test user, the
tenant and the audience (the Web API origin), and the switches tests change while the sandbox
runs (token lifetime, refresh-token idle limit, auto-consent, strict rotation, PKCE). Plain
attribute writes are atomic in CPython, so a running server sees changes on its next request.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit

#: Entra's default idle lifetime of a refresh token: 90 days.
DEFAULT_REFRESH_MAX_IDLE = 90 * 24 * 3600.0
#: Entra's authorization codes live about ten minutes.
DEFAULT_CODE_LIFETIME = 600.0
#: Redirect URIs registered by default: loopback on any port (RFC 8252 section 7.3).
DEFAULT_REDIRECT_URIS = ("http://localhost", "http://127.0.0.1")
#: The only delegated permission Dataverse exposes.
USER_IMPERSONATION = "user_impersonation"
#: OpenID Connect scopes a v2 request may add; ``offline_access`` yields a refresh token.
OIDC_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})

_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})


@dataclass(frozen=True)
class TestUser:
    """The directory user the authorize page signs in and the password grant accepts."""

    __test__ = False  # not a pytest test class, despite the name

    username: str
    password: str = field(repr=False)
    oid: str
    display_name: str = "Sandbox User"
    given_name: str = "Sandbox"
    family_name: str = "User"


@dataclass
class TokenConfig:
    issuer_base: str
    tenant_id: str
    audience: str
    client_id: str
    client_secret: str = field(repr=False)
    token_lifetime: float
    tenant_domain: str = "sandbox.onmicrosoft.com"
    app_name: str = "d365conn sandbox client"
    #: The service principal's object id: the ``oid`` of app-only tokens.
    app_oid: str = field(default_factory=lambda: str(uuid.uuid4()))
    user: TestUser = field(
        default_factory=lambda: TestUser(
            "user@sandbox.onmicrosoft.com", "Sandbox-Passw0rd!", str(uuid.uuid4())
        )
    )
    redirect_uris: list[str] = field(default_factory=lambda: list(DEFAULT_REDIRECT_URIS))
    refresh_token_max_idle: float = DEFAULT_REFRESH_MAX_IDLE
    code_lifetime: float = DEFAULT_CODE_LIFETIME
    auto_consent: bool = True
    #: Off: like Entra, a used refresh token stays valid (a new one is still returned).
    #: On: each refresh token works once; a replay is ``invalid_grant``.
    strict_rotation: bool = False
    require_pkce: bool = False
    #: Entra's "Allow public client flows": delegated grants may omit the client secret.
    allow_public_client: bool = True

    def __post_init__(self) -> None:
        self.issuer_base = self.issuer_base.rstrip("/")

    # --- derived names -------------------------------------------------------------------------

    @property
    def authority(self) -> str:
        return f"{self.issuer_base}/{self.tenant_id}"

    @property
    def v2_issuer(self) -> str:
        return f"{self.authority}/v2.0"

    @property
    def v1_issuer(self) -> str:
        # Entra's v1 issuer is https://sts.windows.net/<tenant>/; the sandbox has one host only.
        return f"{self.authority}/"

    def is_known_tenant(self, tenant: str) -> bool:
        return tenant.lower() in (self.tenant_id.lower(), self.tenant_domain.lower())

    def is_audience(self, resource: str) -> bool:
        """True when ``resource`` names the Web API (with or without a trailing slash)."""
        return resource.rstrip("/").lower() == self.audience.rstrip("/").lower()

    def redirect_allowed(self, redirect_uri: str) -> bool:
        return any(_redirect_matches(registered, redirect_uri) for registered in self.redirect_uris)


def _redirect_matches(registered: str, candidate: str) -> bool:
    if registered == candidate:
        return True
    reg, cand = urlsplit(registered), urlsplit(candidate)
    if reg.scheme != "http" or cand.scheme != "http" or (reg.hostname or "") not in _LOOPBACK_HOSTS:
        return False
    # Loopback: any port, same host; a registered URI without a path accepts any path.
    if (reg.hostname or "").lower() != (cand.hostname or "").lower() or cand.username or cand.password:
        return False
    try:
        cand.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    return reg.path in ("", "/") or reg.path == cand.path
