"""The connection strings printed in the products our users come from parse exactly.

The strings are read out of ../shared/reference/prior-art (copied here so the suite does not depend
on files outside the repository) and must come back byte for byte.
"""

from __future__ import annotations

from d365conn import build_config, parse_connection_string

# DataDirect ODBC for Dynamics 365, refresh-token grant (prior-art/002), as printed, line breaks included.
DATADIRECT_REFRESH = """DRIVER=DataDirect 8.0 Microsoft Dynamics 365;ServiceURL=https://mywebinstance.api.crm.dynamics.com/api/data/v9.1/;
ClientID=29453d6f-6789-25gh-gd8g-44tk3c527831;ClientSecret=12a3=bCD/EfGh4Ijk+Lm5P67qR8s=//TuV+WXy1Zabcd;
TokenURI=https://login.microsoftonline.com/common/oauth2/v2.0/token;
RefreshToken=12a3=bCD/EfGh4Ijk+Lgd8g-44tk3c527831;"""

# DataDirect's NTLM example (on-premises), which we parse but refuse to connect with.
DATADIRECT_NTLM = """DRIVER=DataDirect 8.0 Microsoft Dynamics 365;ServiceURL=http://myonpreminstance.sso3.dynamics365.net/api/data/v9.1;
AuthenticationMethod=6;NTLMDomain=sso3;User=jsmith;Password=secret;"""

# Data Studio (prior-art/003): client credentials with TokenURI=POST ... and a v2 scope.
DATA_STUDIO_CC = (
    "ServiceURL=https://mywebinstance.api.crm.dynamics.com/api/data/v9.1/;ClientID=29453d6f-6789-25gh;"
    "ClientSecret=12a3=bCD/EfGh4Ijk+Lm5P67qR8s=//TuV+WXy1Zabcd;"
    "TokenURI=POST https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token;"
    "Scope=https://mywebinstance.api.crm.dynamics.com/user_impersonation offline_access;"
)

# SmartConnect (prior-art/004): a Business Central ODataV4 service URL with the tenant GUID.
SMARTCONNECT_BC = (
    "ServiceURL=https://api.businesscentral.dynamics.com/v2.0/8e3f1c4a-1111-2222-3333-444455556666/Production/ODataV4/;"
    "ClientID=abc;ClientSecret=s3cr=t;TenantID=8e3f1c4a-1111-2222-3333-444455556666;"
    "Scope=https://api.businesscentral.dynamics.com/.default;Company=CRONUS USA, Inc.;"
)


def test_datadirect_refresh_token_string() -> None:
    opts = parse_connection_string(DATADIRECT_REFRESH)
    assert dict(opts) == {
        "Driver": "DataDirect 8.0 Microsoft Dynamics 365",
        "ServiceURL": "https://mywebinstance.api.crm.dynamics.com/api/data/v9.1/",
        "ClientID": "29453d6f-6789-25gh-gd8g-44tk3c527831",
        "ClientSecret": "12a3=bCD/EfGh4Ijk+Lm5P67qR8s=//TuV+WXy1Zabcd",
        "TokenURI": "https://login.microsoftonline.com/common/oauth2/v2.0/token",
        "RefreshToken": "12a3=bCD/EfGh4Ijk+Lgd8g-44tk3c527831",
    }
    cfg = build_config(DATADIRECT_REFRESH)
    assert cfg.client_secret == "12a3=bCD/EfGh4Ijk+Lm5P67qR8s=//TuV+WXy1Zabcd"
    assert cfg.refresh_token == "12a3=bCD/EfGh4Ijk+Lgd8g-44tk3c527831"


def test_data_studio_client_credentials_string() -> None:
    cfg = build_config(DATA_STUDIO_CC)
    assert cfg.token_method == "POST"
    assert cfg.token_uri == "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    assert cfg.scope == "https://mywebinstance.api.crm.dynamics.com/user_impersonation offline_access"
    assert cfg.client_secret == "12a3=bCD/EfGh4Ijk+Lm5P67qR8s=//TuV+WXy1Zabcd"


def test_smartconnect_business_central_string() -> None:
    cfg = build_config(SMARTCONNECT_BC)
    assert cfg.service_url.endswith("/Production/ODataV4/")
    assert cfg.company == "CRONUS USA, Inc."
    assert cfg.client_secret == "s3cr=t"


def test_ntlm_string_parses_but_names_what_is_unsupported() -> None:
    import pytest

    from d365conn import NotSupportedError

    with pytest.raises(Exception) as info:
        parse_connection_string(DATADIRECT_NTLM)
    # NTLMDomain is not an option of ours: the error names it, not the password.
    assert "NTLMDomain" in str(info.value) and "secret" not in str(info.value)
    opts = parse_connection_string(DATADIRECT_NTLM.replace("NTLMDomain=sso3;", ""))
    assert opts["LogonID"] == "jsmith"
    with pytest.raises(NotSupportedError, match="NTLM"):
        build_config(DATADIRECT_NTLM.replace("NTLMDomain=sso3;", ""))
