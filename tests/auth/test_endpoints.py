"""Token/authorize URLs, Entra v1 vs v2, default scopes, the https rule, MSAL or plain client."""

from __future__ import annotations

import pytest

from d365conn.auth import claims, endpoints
from d365conn.config import build_config
from d365conn.exceptions import ConfigurationError, InsecureIssuerError

DV = "ServiceURL=https://org.crm.dynamics.com/api/data/v9.2/;ClientID=a;ClientSecret=s"
BC = "ServiceURL=https://api.businesscentral.dynamics.com/v2.0/t/Production/api/v2.0/;ClientID=a;ClientSecret=s"


def resolve(text: str, grant: str = "ClientCredentials") -> endpoints.Endpoints:
    return endpoints.resolve(build_config(text), grant)


def test_tenant_derives_v2_entra_endpoints_and_scopes() -> None:
    ep = resolve(f"{DV};TenantID=contoso.onmicrosoft.com")
    assert ep.token_uri == "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    assert ep.auth_uri == "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize"
    assert (
        ep.style == "v2"
        and ep.entra
        and ep.authority == "https://login.microsoftonline.com/contoso.onmicrosoft.com"
    )
    assert ep.app_scopes == ("https://org.crm.dynamics.com/.default",)
    assert ep.delegated_scopes == ("https://org.crm.dynamics.com/user_impersonation", "offline_access")
    assert ep.resource is None
    assert endpoints.use_msal(build_config(f"{DV};TenantID=x"), ep)


def test_v1_endpoint_uses_resource_and_the_plain_client() -> None:
    text = f"{DV};TokenURI=https://login.microsoftonline.com/t/oauth2/token"
    ep = resolve(text)
    assert ep.style == "v1" and ep.resource == "https://org.crm.dynamics.com/"
    assert ep.auth_uri == "https://login.microsoftonline.com/t/oauth2/authorize"
    assert not endpoints.use_msal(build_config(text), ep)
    with pytest.raises(ConfigurationError, match="only the v2"):
        endpoints.use_msal(build_config(text + ";OAuthClient=MSAL"), ep)


def test_business_central_scope_and_resource() -> None:
    assert resolve(f"{BC};TenantID=t").app_scopes == ("https://api.businesscentral.dynamics.com/.default",)
    v1 = resolve(f"{BC};TokenURI=https://login.microsoftonline.com/t/oauth2/token")
    assert v1.resource == "https://api.businesscentral.dynamics.com"


def test_explicit_scope_and_resource_win() -> None:
    ep = resolve(f"{DV};TenantID=t;Scope=api://x/read offline_access", "RefreshToken")
    assert ep.delegated_scopes == ("api://x/read", "offline_access") and ep.app_scopes == ep.delegated_scopes
    ep = resolve(f"{DV};TenantID=t;Resource=https://other.crm.dynamics.com")
    assert ep.app_scopes == ("https://other.crm.dynamics.com/.default",)
    ep = resolve(
        f"{DV};TokenURI=https://login.microsoftonline.com/t/oauth2/token;Resource=https://r.example/"
    )
    assert ep.resource == "https://r.example/"


def test_sovereign_cloud_and_method_first() -> None:
    ep = resolve(f"{DV};TokenURI=POST https://login.microsoftonline.us/t/oauth2/v2.0/token")
    assert ep.entra and ep.authority == "https://login.microsoftonline.us/t"
    with pytest.raises(ConfigurationError, match="POST only"):
        resolve(f"{DV};TokenURI=GET https://login.microsoftonline.com/t/oauth2/v2.0/token")


def test_other_issuers_use_the_plain_client_and_basic_forces_it() -> None:
    adfs = f"{DV};TokenURI=https://adfs.contoso.com/adfs/oauth2/token"
    assert not endpoints.use_msal(build_config(adfs), resolve(adfs))
    basic = f"{DV};TenantID=t;ClientAuthentication=Basic"
    assert not endpoints.use_msal(build_config(basic), resolve(basic))
    generic = f"{DV};TokenURI=https://idp.example/token"
    with pytest.raises(ConfigurationError, match="needs Authority"):
        endpoints.use_msal(build_config(generic + ";OAuthClient=MSAL"), resolve(generic))
    assert resolve(generic).auth_uri == "https://idp.example/authorize"


def test_https_required_off_loopback() -> None:
    with pytest.raises(InsecureIssuerError, match="plain http on a host that is not loopback"):
        resolve(f"{DV};TokenURI=http://idp.example/oauth2/v2.0/token")
    for host in ("127.0.0.1:8080", "localhost", "[::1]:9000"):
        assert resolve(f"{DV};TokenURI=http://{host}/t/oauth2/v2.0/token").style == "v2"


def test_no_endpoint_names_the_grant() -> None:
    with pytest.raises(ConfigurationError, match="ClientCredentials grant needs TokenURI or TenantID"):
        resolve(DV)


def test_claims_are_read_without_trust() -> None:
    import base64
    import json

    body = base64.urlsafe_b64encode(
        json.dumps({"exp": 1700000000, "upn": "u@x", "scp": "a b"}).encode()
    ).decode()
    token = f"eyJhbGciOiJub25lIn0.{body.rstrip('=')}.sig"
    found = claims.peek_claims(token)
    assert claims.expiry(found) == 1700000000 and claims.identity(found) == "u@x"
    assert claims.scopes(found) == ("a", "b")
    assert claims.peek_claims("opaque-token") is None and claims.identity(None) is None


def test_token_uri_from_a_services_challenge() -> None:
    service = "https://org.crm.dynamics.com/api/data/v9.2/"
    header = (
        "Bearer authorization_uri=https://login.microsoftonline.com/1234-abcd/oauth2/authorize, resource_id=x"
    )
    assert endpoints.token_uri_from_challenge(header, service) == (
        "https://login.microsoftonline.com/1234-abcd/oauth2/v2.0/token"
    )
    evil = "Bearer authorization_uri=https://evil.example/1234/oauth2/authorize"
    assert endpoints.token_uri_from_challenge(evil, service) is None  # would receive our secret: refused
    assert endpoints.token_uri_from_challenge("Bearer realm=x", service) is None
