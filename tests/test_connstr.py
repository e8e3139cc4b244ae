"""The connection-string grammar: d365conn.connstr."""

from __future__ import annotations

import pytest

from d365conn.connstr import join_pairs, quote_value, split_pairs
from d365conn.exceptions import ConfigurationError, ProgrammingError

SECRET = "12a3=bCD/EfGh4Ijk+Lm5P67qR8s=//TuV+WXy1Zabcd"

CASES = [
    ("a=1;b=2", [("a", "1"), ("b", "2")]),
    ("a=1;b=2;", [("a", "1"), ("b", "2")]),
    ("  a = 1 ;  b=2 ;;  ", [("a", "1"), ("b", "2")]),
    (f"ClientSecret={SECRET};", [("ClientSecret", SECRET)]),
    (f"ClientSecret={SECRET}", [("ClientSecret", SECRET)]),
    ("k={a;b};x=1", [("k", "a;b"), ("x", "1")]),
    ("k={ spaced };", [("k", " spaced ")]),
    ("k={x}}y};", [("k", "x}y")]),
    ("k={}", [("k", "")]),
    ("k=", [("k", "")]),
    (
        "TokenURI=POST https://login.microsoftonline.com/t/oauth2/v2.0/token;",
        [("TokenURI", "POST https://login.microsoftonline.com/t/oauth2/v2.0/token")],
    ),
    (
        "DRIVER={DataDirect 8.0 Microsoft Dynamics 365};ServiceURL=https://x/api/data/v9.1/",
        [("DRIVER", "DataDirect 8.0 Microsoft Dynamics 365"), ("ServiceURL", "https://x/api/data/v9.1/")],
    ),
    ("a=x=y=z", [("a", "x=y=z")]),
    ("a=ünïcødé€;", [("a", "ünïcødé€")]),
    ("a=1;\nb=2;\r\n", [("a", "1"), ("b", "2")]),
    ("", []),
    (" ; ; ", []),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_split_pairs(text: str, expected: list[tuple[str, str]]) -> None:
    assert split_pairs(text) == expected


BAD = [
    ("novalue", "position 0"),
    ("a=1;garbage;b=2", "position 4"),
    ("=1", "empty key"),
    ("a={unclosed", "never closes"),
    ("a={x}trailing;", "unexpected text"),
    ("a=1;A=2", "given twice"),
    ("{a}=1", "braces"),
]


@pytest.mark.parametrize(("text", "fragment"), BAD)
def test_malformed_strings_say_where(text: str, fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=fragment) as info:
        split_pairs(text)
    assert isinstance(info.value, ProgrammingError)


def test_error_text_never_quotes_a_value() -> None:
    with pytest.raises(ConfigurationError) as info:
        split_pairs(f"ClientSecret={{{SECRET}")
    assert SECRET not in str(info.value)


@pytest.mark.parametrize("value", ["plain", "a;b", " edge ", "br}ace", "{x}", "", SECRET, "x}}y"])
def test_quote_round_trip(value: str) -> None:
    assert split_pairs(f"k={quote_value(value)}") == [("k", value)]
    assert split_pairs(join_pairs([("k", value), ("z", "1")])) == [("k", value), ("z", "1")]
