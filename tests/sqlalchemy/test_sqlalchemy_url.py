"""SQLAlchemy URLs -> d365conn connection strings (no service needed)."""

from __future__ import annotations

from urllib.parse import quote

import pytest
import sqlalchemy as sa

from d365conn import build_config, parse_connection_string
from d365conn.exceptions import ConfigurationError
from d365conn.sqlalchemy import D365Dialect, connection_string_from_url


def options(url: str) -> dict[str, str]:
    return dict(parse_connection_string(connection_string_from_url(sa.make_url(url))))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "d365conn://contoso.crm.dynamics.com/api/data/v9.2/?ClientID=abc&TenantID=contoso.onmicrosoft.com",
            {
                "ServiceURL": "https://contoso.crm.dynamics.com/api/data/v9.2/",
                "ClientID": "abc",
                "TenantID": "contoso.onmicrosoft.com",
            },
        ),
        (
            "d365conn://contoso.crm4.dynamics.com",
            {"ServiceURL": "https://contoso.crm4.dynamics.com/api/data/v9.2/"},
        ),
        (
            "d365conn+https://contoso.crm.dynamics.com/api/data/v9.1/",
            {"ServiceURL": "https://contoso.crm.dynamics.com/api/data/v9.1/"},
        ),
        (
            "d365conn+http://127.0.0.1:8080/api/data/v9.2/",
            {"ServiceURL": "http://127.0.0.1:8080/api/data/v9.2/"},
        ),
        (
            "d365conn://app-id:s%3Bcr%40t@contoso.crm.dynamics.com/",
            {
                "ServiceURL": "https://contoso.crm.dynamics.com/api/data/v9.2/",
                "ClientID": "app-id",
                "ClientSecret": "s;cr@t",
            },
        ),
        (
            "d365conn://api.businesscentral.dynamics.com/v2.0/t1/Production/api/v2.0/?AuthenticationMethod=ClientCredentials",
            {
                "ServiceURL": "https://api.businesscentral.dynamics.com/v2.0/t1/Production/api/v2.0/",
                "AuthenticationMethod": "ClientCredentials",
            },
        ),
    ],
)
def test_url_forms(url: str, expected: dict[str, str]) -> None:
    got = options(url)
    for key, value in expected.items():
        assert got[key] == value


def test_env_references_are_expanded_by_the_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("D365_TEST_SECRET", "from-env")
    url = sa.make_url("d365conn://x.crm.dynamics.com/?ClientID=a&ClientSecret=${D365_TEST_SECRET}&TenantID=t")
    assert build_config(connection_string_from_url(url)).client_secret == "from-env"


def test_whole_connection_string_and_overrides() -> None:
    cs = "ServiceURL=https://a.crm.dynamics.com/api/data/v9.2/;ClientID=one;PageSize=100;"
    got = options(f"d365conn:///?ConnectionString={quote(cs, safe='')}&PageSize=50")
    assert got["ServiceURL"] == "https://a.crm.dynamics.com/api/data/v9.2/"
    assert got["ClientID"] == "one" and got["WSFetchSize"] == "50"
    # An alias in the query replaces the canonical key of the base string.
    got = options(f"d365conn:///?ConnectionString={cs}&URL=https://b.crm.dynamics.com/api/data/v9.2/")
    assert got["ServiceURL"] == "https://b.crm.dynamics.com/api/data/v9.2/"


def test_empty_url_uses_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "D365CONN_CONNECTION_STRING", "ServiceURL=https://env.crm.dynamics.com/api/data/v9.2/;"
    )
    assert options("d365conn://")["ServiceURL"] == "https://env.crm.dynamics.com/api/data/v9.2/"
    monkeypatch.delenv("D365CONN_CONNECTION_STRING")
    with pytest.raises(ConfigurationError, match="names no service"):
        options("d365conn://")


def test_bad_urls_say_what_is_wrong() -> None:
    with pytest.raises(ConfigurationError, match="d365conn\\+http://"):
        options("d365conn+ftp://x/")
    with pytest.raises(ConfigurationError, match="did you mean 'ClientSecret'"):
        options("d365conn://x.crm.dynamics.com/?ClientSecrt=1")


def test_create_connect_args_gives_one_connection_string() -> None:
    args, kwargs = D365Dialect().create_connect_args(sa.make_url("d365conn://x.crm.dynamics.com/?ClientID=a"))
    assert kwargs == {} and len(args) == 1
    assert str(args[0]).startswith("ServiceURL=https://x.crm.dynamics.com/api/data/v9.2/;")
