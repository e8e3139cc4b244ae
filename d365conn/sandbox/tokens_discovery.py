"""Discovery documents of the sandbox token service.

Owns: the OpenID Connect configuration documents (v2 at ``/<tenant>/v2.0/.well-known/...``, v1 at
``/<tenant>/.well-known/...``) in the shape Entra publishes them, the JSON Web Key Set, and the
two helper endpoints MSAL Python calls: instance discovery (``/common/discovery/instance``) and
user-realm discovery (``/common/userrealm/<user>``, asked before a password grant). Only endpoints
the sandbox really serves are advertised: no device code, userinfo or Kerberos endpoints.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from d365conn.sandbox.tokens_config import TokenConfig

_CLAIMS = [
    "sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host",
    "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash",
    "c_hash", "email",
]  # fmt: skip
_AUTH_METHODS = ["client_secret_post", "private_key_jwt", "client_secret_basic"]
_CLOUD = {
    "cloud_instance_name": "microsoftonline.com",
    "cloud_graph_host_name": "graph.windows.net",
    "msgraph_host": "graph.microsoft.com",
}


def openid_configuration(config: TokenConfig, version: str, tenant_in_path: str) -> dict[str, Any]:
    """The discovery document for ``/<tenant_in_path>`` (``common`` keeps Entra's ``{tenantid}``)."""
    base = f"{config.issuer_base}/{tenant_in_path}"
    common = tenant_in_path.lower() in ("common", "organizations", "consumers")
    tenant_for_issuer = "{tenantid}" if common else config.tenant_id
    if version == "v2":
        return {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": _AUTH_METHODS,
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{config.issuer_base}/{tenant_for_issuer}/v2.0",
            "request_uri_parameter_supported": False,
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "claims_supported": _CLAIMS,
            "tenant_region_scope": "EU",
            **_CLOUD,
        }
    return {
        "token_endpoint": f"{base}/oauth2/token",
        "token_endpoint_auth_methods_supported": _AUTH_METHODS,
        "jwks_uri": f"{base}/discovery/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code"],
        "scopes_supported": ["openid"],
        "issuer": f"{config.issuer_base}/{tenant_for_issuer}/",
        "microsoft_multi_refresh_token": True,
        "authorization_endpoint": f"{base}/oauth2/authorize",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/oauth2/logout",
        "claims_supported": _CLAIMS,
        "tenant_region_scope": "EU",
        **_CLOUD,
    }


def instance_discovery(config: TokenConfig, authorization_endpoint: str) -> dict[str, Any]:
    """What ``/common/discovery/instance`` says about an authorize URL on this host."""
    host = urlsplit(config.issuer_base).netloc
    parts = urlsplit(authorization_endpoint).path.strip("/").split("/")
    tenant = parts[0] if parts and parts[0] else "common"
    return {
        "tenant_discovery_endpoint": f"{config.issuer_base}/{tenant}/v2.0/.well-known/openid-configuration",
        "api-version": "1.1",
        "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
    }


def user_realm(config: TokenConfig, username: str) -> dict[str, Any]:
    """``/common/userrealm/<user>``: the test user is a managed (cloud-only) account."""
    realm: dict[str, Any] = {
        "ver": "1.0",
        "account_type": "Unknown",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_audience_urn": "urn:federation:MicrosoftOnline",
    }
    if username.lower() == config.user.username.lower():
        realm.update({"account_type": "Managed", "domain_name": config.tenant_domain})
    return realm
