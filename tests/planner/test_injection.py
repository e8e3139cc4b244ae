"""Injection: hostile text in literals, parameters and identifiers never changes a request's meaning.

Each payload goes through SQL string literals, ``?`` parameters, ``:name`` parameters, the plan
cache, LIKE patterns and IN lists. The request URL is decoded back with ``urllib.parse`` and must
hold exactly the intended options, with the filter's literal intact (quotes doubled once, nothing
else). In identifiers the payloads must end as "unknown column/table" errors, never in a URL.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

import pytest

from d365conn.exceptions import ProgrammingError
from d365conn.planner import Plan, PlanCache, capabilities_for, plan_statement
from tests.planner.catalogs import DATAVERSE, ODATA

ROOT = "https://org.crm.dynamics.com/api/data/v9.2/"
DV = capabilities_for("dataverse")
OD = capabilities_for("odata")

PAYLOADS = [
    "O'Brian",
    "''",
    "'",
    "a' or 1 eq 1 or name eq 'b",
    "x') or true or ('",
    "') or contains(name,'",
    "x eq null or",
    "' eq null or name ne '",
    "a&$filter=revenue gt 0",
    "a&b",
    "$top=1",
    "#fragment",
    "a#b&c=d",
    "?x=1",
    "100%",
    "%25%26%23",
    "a/b/../c",
    "line1\nline2",
    "tab\there",
    "cr\r\nlf",
    "nul\x00byte",
    "Müller ÄÖÜ ß",
    "日本語テキスト",
    "emoji 😀",
    "right-to-left \u202e",
    "a+b c",
    "semi;colon",
    "=equals=",
    "@p1",
    "[brackets]",
    '"double"',
    "back\\slash",
    "comma, separated",
    "$filter",
    ") or true",
    "eq null or",
    "--comment",
    "/* block */",
    "%",
    "_",
]


def _options(plan: Plan) -> list[tuple[str, str]]:
    assert len(plan.scans) == 1
    url = plan.scans[0].query.url(ROOT)
    parts = urlsplit(url)
    assert parts.fragment == ""  # a '#' in a value must be encoded, never end the URL
    assert " " not in url and "\n" not in url and "\r" not in url
    return parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True)


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@pytest.mark.parametrize("payload", PAYLOADS)
def test_literal_in_sql(payload: str) -> None:
    plan = plan_statement(
        f"SELECT name FROM account WHERE name = {_sql_literal(payload)}", None, DATAVERSE, DV
    )
    assert _options(plan) == [("$select", "name"), ("$filter", f"name eq {_quoted(payload)}")]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_positional_parameter(payload: str) -> None:
    plan = plan_statement(
        "SELECT name FROM account WHERE name = ? AND revenue > ?", [payload, 5], DATAVERSE, DV
    )
    assert _options(plan) == [
        ("$select", "name"),
        ("$filter", f"name eq {_quoted(payload)} and revenue gt 5"),
    ]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_named_parameter_through_the_cache(payload: str) -> None:
    cache = PlanCache()
    sql = "SELECT fullname FROM contact WHERE lastname = :last"
    first = cache.plan(sql, {"last": "Smith"}, DATAVERSE, DV)
    assert _options(first)[1] == ("$filter", "lastname eq 'Smith'")
    plan = cache.plan(sql, {"last": payload}, DATAVERSE, DV)
    assert _options(plan) == [("$select", "fullname"), ("$filter", f"lastname eq {_quoted(payload)}")]
    assert cache.hits == 1


@pytest.mark.parametrize("payload", PAYLOADS)
def test_like_pattern_on_plain_odata(payload: str) -> None:
    # Plain OData reads the value literally: the % and _ of the payload must have been escaped.
    escaped = payload.replace("!", "!!").replace("%", "!%").replace("_", "!_").replace("[", "![")
    sql = f"SELECT title FROM Books WHERE title LIKE {_sql_literal('%' + escaped + '%')} ESCAPE '!'"
    plan = plan_statement(sql, None, ODATA, OD)
    assert _options(plan) == [("$select", "title"), ("$filter", f"contains(title,{_quoted(payload)})")]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_like_pattern_on_dataverse_brackets_wildcards(payload: str) -> None:
    # Dataverse reads % _ [ as wildcards inside contains(): literal ones are bracketed.
    plan = plan_statement(
        "SELECT name FROM account WHERE name LIKE ? ESCAPE '!'",
        ["%" + payload.replace("!", "!!").replace("%", "!%").replace("_", "!_").replace("[", "![") + "%"],
        DATAVERSE,
        DV,
    )
    expected = "".join(f"[{c}]" if c in "%_[" else c for c in payload)
    assert _options(plan) == [("$select", "name"), ("$filter", f"contains(name,{_quoted(expected)})")]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_in_list_values(payload: str) -> None:
    plan = plan_statement(
        "SELECT fullname FROM contact WHERE lastname IN (?, ?)", [payload, "x"], DATAVERSE, DV
    )
    options = _options(plan)
    assert options[0] == ("$select", "fullname")
    name, value = options[1]
    assert name == "$filter"
    if "'" in payload:
        assert value == f"(lastname eq {_quoted(payload)} or lastname eq 'x')"
    else:
        prefix = "Microsoft.Dynamics.CRM.In(PropertyName='lastname',PropertyValues="
        assert value.startswith(prefix) and value.endswith(")")
        assert json.loads(value[len(prefix) : -1]) == [payload, "x"]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_identifiers_are_never_sent(payload: str) -> None:
    quoted = '"' + payload.replace('"', '""') + '"'
    with pytest.raises(ProgrammingError):
        plan_statement(f"SELECT {quoted} FROM account", None, DATAVERSE, DV)
    with pytest.raises(ProgrammingError):
        plan_statement(f"SELECT name FROM {quoted}", None, DATAVERSE, DV)


@pytest.mark.parametrize(
    "payload",
    [
        "00000000-0000-0000-0000-000000000001) or (accountid ne null",
        "00000000-0000-0000-0000-000000000001&$top=1",
        "not a guid",
        "'00000000-0000-0000-0000-000000000001'",
    ],
)
def test_guid_parameters_must_be_guids(payload: str) -> None:
    with pytest.raises(ProgrammingError, match="not a valid GUID"):
        plan_statement("SELECT name FROM account WHERE accountid = ?", [payload], DATAVERSE, DV)
    cache = PlanCache()
    sql = "SELECT name FROM account WHERE primarycontactid = ?"
    cache.plan(sql, ["00000000-0000-0000-0000-000000000002"], DATAVERSE, DV)
    with pytest.raises(ProgrammingError, match="not a valid GUID"):
        cache.plan(sql, [payload], DATAVERSE, DV)


@pytest.mark.parametrize("payload", ["5 or 1 eq 1", "1; DROP", "1e400", "NaN"])
def test_number_parameters_must_be_numbers(payload: str) -> None:
    plan = plan_statement("SELECT name FROM account WHERE revenue > ?", [payload], DATAVERSE, DV)
    # A string compared with a number is not pushed: it stays a typed literal in the local SQL.
    assert plan.scans[0].query.filter is None
    assert plan.local_sql is not None and "'" + payload.replace("'", "''") + "'" in plan.local_sql
