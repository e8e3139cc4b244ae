"""Options and typed config: d365conn.config, d365conn.options."""

from __future__ import annotations

from pathlib import Path

import pytest

import d365conn
from d365conn.config import Config, build_config, parse_connection_string
from d365conn.exceptions import ConfigurationError, NotSupportedError, ProgrammingError

SECRET = "12a3=bCD/EfGh4Ijk+Lm5P67qR8s=//TuV+WXy1Zabcd"
URL = "https://mywebinstance.api.crm.dynamics.com/api/data/v9.1/"


def test_lookup_is_case_insensitive_and_by_alias() -> None:
    opts = parse_connection_string(f"serviceurl={URL};OAUTHCLIENTSECRET={SECRET};azuretenant=contoso")
    assert opts["ServiceURL"] == URL
    assert opts["clientsecret"] == SECRET
    assert opts["OAuthClientSecret"] == SECRET
    assert opts["TenantID"] == "contoso"
    assert "AzureTenant" in opts and "Tenant" in opts
    assert list(opts) == ["ServiceURL", "ClientSecret", "TenantID"]


def test_unknown_key_names_the_nearest_known_key() -> None:
    with pytest.raises(
        ProgrammingError, match=r"unknown connection option 'ClientSecrt'.*did you mean 'ClientSecret'"
    ):
        parse_connection_string(f"ServiceURL={URL};ClientSecrt=x")
    with pytest.raises(ConfigurationError, match=r"connection-string\.md"):
        parse_connection_string("Zzzzqqq=1")


def test_alias_and_canonical_name_together_is_an_error() -> None:
    with pytest.raises(ConfigurationError, match="given twice"):
        parse_connection_string(f"ServiceURL={URL};OrganizationUrl={URL}")


def test_typed_values_and_defaults() -> None:
    cfg = build_config(
        f"ServiceURL={URL};WSTimeout=30;WSRetryCount=2;WSFetchSize=500;IncludeFormattedValues=no;"
        "TokenCachePath=~/cache.json;ProxyPort=8080;SQLDialect=Postgres;SchemaRefresh=ALWAYS"
    )
    assert cfg.read_timeout == 30.0 and cfg.retry_count == 2 and cfg.page_size == 500
    assert cfg.include_formatted_values is False
    assert cfg.token_cache_path == Path("~/cache.json").expanduser()
    assert cfg.proxy_port == 8080 and cfg.sql_dialect == "postgres" and cfg.schema_refresh == "always"
    assert cfg.connect_timeout == 30.0 and cfg.autocommit is True and cfg.client_authentication == "Body"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (f"ServiceURL={URL};WSTimeout=soon", "WSTimeout must be a number"),
        (f"ServiceURL={URL};WSRetryCount=1.5", "WSRetryCount must be a whole number"),
        (f"ServiceURL={URL};IncludeFormattedValues=maybe", "true or false"),
        (f"ServiceURL={URL};SchemaRefresh=sometimes", "must be one of reuse, version, always"),
        (f"ServiceURL={URL};AuthenticationMethod=Magic", "AuthenticationMethod 'Magic' is not known"),
        ("ClientID=x", "ServiceURL is required"),
        ("ServiceURL=contoso.crm.dynamics.com", "absolute http"),
        (f"ServiceURL={URL};TokenURI=PUT x y", "TokenURI must be a URL"),
        (f"ServiceURL={URL};WSFetchSize=-1", "must not be negative"),
    ],
)
def test_bad_values_are_programming_errors(text: str, fragment: str) -> None:
    with pytest.raises(ProgrammingError, match=fragment):
        build_config(text)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ClientCredentials", "ClientCredentials"),
        ("refresh_token", "RefreshToken"),
        ("AccessToken", "AccessToken"),
        ("AuthorizationCode", "AuthorizationCode"),
        ("UserPassword", "UserPassword"),
        ("None", "None"),
        ("OAuth2", None),
        ("24", None),
        ("AzureServicePrincipal", "ClientCredentials"),
        ("AzurePassword", "UserPassword"),
    ],
)
def test_authentication_method_names(value: str, expected: str | None) -> None:
    assert build_config(f"ServiceURL={URL};AuthenticationMethod={value}").authentication_method == expected


def test_ntlm_is_not_supported_with_a_reason() -> None:
    with pytest.raises(NotSupportedError, match="NTLM"):
        build_config(f"ServiceURL={URL};AuthenticationMethod=6")


def test_token_uri_with_method_first() -> None:
    cfg = build_config(
        f"ServiceURL={URL};TokenURI=POST https://login.microsoftonline.com/t/oauth2/v2.0/token"
    )
    assert cfg.token_method == "POST"
    assert cfg.token_uri == "https://login.microsoftonline.com/t/oauth2/v2.0/token"


def test_env_references(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("D365_TEST_SECRET", SECRET)
    cfg = build_config(f"ServiceURL={URL};ClientSecret=${{D365_TEST_SECRET}}")
    assert cfg.client_secret == SECRET
    with pytest.raises(ConfigurationError, match=r"\$\{D365_NOT_SET\}, which is not set"):
        build_config(f"ServiceURL={URL};ClientSecret=${{D365_NOT_SET}}")


def test_whole_connection_string_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(d365conn.CONNECTION_STRING_ENV, f"ServiceURL={URL};ClientID=abc")
    cfg = build_config()
    assert cfg.service_url == URL and cfg.client_id == "abc"


def test_keywords_override_the_string() -> None:
    cfg = build_config(
        f"ServiceURL={URL};ClientID=abc;WSFetchSize=10", clientid="xyz", PageSize=20, Company=None
    )
    assert cfg.client_id == "xyz" and cfg.page_size == 20


def test_secrets_never_show_in_repr_or_str() -> None:
    text = (
        f"ServiceURL={URL};ClientID=abc;ClientSecret={SECRET};RefreshToken=rt-{SECRET};"
        f"AccessToken=at-{SECRET};Password=pw-{SECRET};ProxyPassword=pp-{SECRET}"
    )
    opts = parse_connection_string(text)
    cfg = Config.from_options(opts)
    conn = d365conn.connect(text)
    for shown in (repr(opts), str(opts), repr(cfg), str(cfg), repr(conn), opts.to_connection_string()):
        assert SECRET not in shown
    assert opts.to_connection_string(reveal_secrets=True).count(SECRET) == 5
    conn.close()


def test_config_is_frozen() -> None:
    cfg = build_config(f"ServiceURL={URL}")
    with pytest.raises(AttributeError):
        cfg.service_url = "x"  # type: ignore[misc]
    assert cfg.replace(page_size=7).page_size == 7 and cfg.page_size == 0
