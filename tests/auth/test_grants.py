"""Grant selection rules (docs/authentication.md) and the "X grant needs Y" messages."""

from __future__ import annotations

import pytest

from d365conn.auth import grants
from d365conn.config import build_config
from d365conn.exceptions import ConfigurationError

URL = "ServiceURL=https://org.crm.dynamics.com/api/data/v9.2/;TenantID=contoso.onmicrosoft.com"


@pytest.mark.parametrize(
    ("extra", "grant"),
    [
        ("ClientID=a;ClientSecret=s", "ClientCredentials"),
        ("ClientID=a;ClientAssertion=eyJx", "ClientCredentials"),
        ("ClientID=a;RefreshToken=r", "RefreshToken"),
        ("ClientID=a;ClientSecret=s;RefreshToken=r", "RefreshToken"),
        ("AccessToken=t", "AccessToken"),
        ("AccessToken=t;ClientID=a;RefreshToken=r", "AccessToken"),
        ("ClientID=a;LogonID=u;Password=p", "UserPassword"),
        ("ClientID=a", "AuthorizationCode"),
        ("", "None"),
        ("ClientID=a;ClientSecret=s;AuthenticationMethod=AuthorizationCode", "AuthorizationCode"),
        ("AuthScheme=AzureServicePrincipal;ClientID=a;ClientSecret=s", "ClientCredentials"),
        ("AuthenticationMethod=OAuth2;ClientID=a;RefreshToken=r", "RefreshToken"),
    ],
)
def test_selection(extra: str, grant: str) -> None:
    assert grants.select_grant(build_config(f"{URL};{extra}")) == grant


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("AuthenticationMethod=RefreshToken;RefreshToken=r", "RefreshToken grant needs ClientID"),
        ("AuthenticationMethod=RefreshToken;ClientID=a", "RefreshToken grant needs RefreshToken"),
        ("AuthenticationMethod=ClientCredentials;ClientID=a", "ClientCredentials grant needs ClientSecret"),
        ("AuthenticationMethod=ClientCredentials;ClientSecret=s", "ClientCredentials grant needs ClientID"),
        ("AuthenticationMethod=UserPassword;ClientID=a;LogonID=u", "UserPassword grant needs Password"),
        ("AuthenticationMethod=AccessToken", "AccessToken grant needs AccessToken"),
        ("AuthenticationMethod=AuthorizationCode", "AuthorizationCode grant needs ClientID"),
        ("ClientID=a;ClientCertificate=/no/such/cert.pem", "is not a readable file"),
    ],
)
def test_missing_options_name_the_grant(extra: str, message: str) -> None:
    config = build_config(f"{URL};{extra}")
    with pytest.raises(ConfigurationError, match=message):
        grants.check_options(config, grants.select_grant(config))


def test_renewal_of_an_access_token() -> None:
    assert (
        grants.renewal_grant(build_config(f"{URL};AccessToken=t;ClientID=a;RefreshToken=r")) == "RefreshToken"
    )
    assert (
        grants.renewal_grant(build_config(f"{URL};AccessToken=t;ClientID=a;ClientSecret=s"))
        == "ClientCredentials"
    )
    assert grants.renewal_grant(build_config(f"{URL};AccessToken=t")) is None
