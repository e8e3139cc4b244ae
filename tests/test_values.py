"""Edm converters, row decoders and page decoding: table-driven, plus real captured rows.

Every page-level case runs twice -- the msgspec fast path and the json reference path -- and the
two must agree exactly, including on which values are refused.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from d365conn.exceptions import DataError
from d365conn.planner.plan import OutputColumn
from d365conn.transport import encode_json
from d365conn.values import (
    HAVE_MSGSPEC,
    ConversionFailure,
    MalformedJSON,
    PageDecoder,
    converter_for,
    loads_exact,
    make_row_decoder,
    normalize_edm_type,
    split_envelope,
)

FIXTURES = Path(__file__).resolve().parent / "captured" / "dataverse"
UTC = dt.timezone.utc
PATHS = [pytest.param(False, id="reference")] + ([pytest.param(True, id="msgspec")] if HAVE_MSGSPEC else [])

# (edm type, JSON text of the value, expected Python value) -- the value as it appears in a page.
GOOD: list[tuple[str, str, Any]] = [
    ("Edm.Guid", '"92dc7147-a78a-4bd6-b2d8-a4ee1a5b9da2"', uuid.UUID("92dc7147-a78a-4bd6-b2d8-a4ee1a5b9da2")),
    ("Edm.Guid", '"92DC7147-A78A-4BD6-B2D8-A4EE1A5B9DA2"', uuid.UUID("92dc7147-a78a-4bd6-b2d8-a4ee1a5b9da2")),
    ("Edm.String", '"Sample Account"', "Sample Account"),
    ("Edm.String", '""', ""),
    ("Edm.String", '"\\u00e9t\\u00e9 \\ud83d\\ude00 O\'Bryan"', "été 😀 O'Bryan"),
    ("Edm.Int32", "2147483647", 2147483647),
    ("Edm.Int32", "-2147483648", -2147483648),
    ("Edm.Int16", "-32768", -32768),
    ("Edm.Byte", "255", 255),
    ("Edm.SByte", "-128", -128),
    ("Edm.Int64", "9223372036854775807", 9223372036854775807),
    ("Edm.Int64", "-9223372036854775808", -9223372036854775808),
    ("Edm.Int64", '"9223372036854775807"', 9223372036854775807),  # IEEE754Compatible=true
    ("Edm.Int32", "-0", 0),
    ("Edm.Decimal", "5000000.0000000000", Decimal("5000000.0000000000")),
    ("Edm.Decimal", "-1234567890123456789.123456789012345", Decimal("-1234567890123456789.123456789012345")),
    ("Edm.Decimal", "0.1", Decimal("0.1")),
    ("Edm.Decimal", "-0", Decimal("0")),
    ("Edm.Decimal", "-0.0", Decimal("-0.0")),
    ("Edm.Decimal", "1E+2", Decimal("1E+2")),
    ("Edm.Decimal", "100", Decimal(100)),
    ("Edm.Decimal", '"12.50"', Decimal("12.50")),  # IEEE754Compatible=true
    ("Money", "1.000000000000", Decimal("1.000000000000")),
    ("Edm.Double", "47.63", 47.63),
    ("Edm.Double", "1", 1.0),
    ("Edm.Double", "-0.0", -0.0),
    ("Edm.Double", "1.7976931348623157e308", 1.7976931348623157e308),
    ("Edm.Double", '"INF"', math.inf),
    ("Edm.Double", '"-INF"', -math.inf),
    ("Edm.Single", "3.5", 3.5),
    ("Edm.Boolean", "true", True),
    ("Edm.Boolean", "false", False),
    ("Edm.DateTimeOffset", '"2024-06-12T14:13:25Z"', dt.datetime(2024, 6, 12, 14, 13, 25, tzinfo=UTC)),
    ("Edm.DateTimeOffset", '"2024-06-12T14:13:25.1234567Z"',
     dt.datetime(2024, 6, 12, 14, 13, 25, 123457, tzinfo=UTC)),
    ("Edm.DateTimeOffset", '"2024-06-12T14:13:25.5+02:00"',
     dt.datetime(2024, 6, 12, 12, 13, 25, 500000, tzinfo=UTC)),
    ("Edm.DateTimeOffset", '"2024-06-12T23:30:00-05:30"', dt.datetime(2024, 6, 13, 5, 0, tzinfo=UTC)),
    ("Edm.DateTimeOffset", '"2024-12-31T23:59:59.9999996Z"', dt.datetime(2025, 1, 1, tzinfo=UTC)),
    ("Edm.DateTimeOffset", '"2024-06-12T14:13:25"', dt.datetime(2024, 6, 12, 14, 13, 25, tzinfo=UTC)),
    ("Edm.DateTimeOffset", '"2024-06-12T14:13Z"', dt.datetime(2024, 6, 12, 14, 13, tzinfo=UTC)),
    ("Edm.Date", '"2024-02-29"', dt.date(2024, 2, 29)),
    ("Edm.Date", '"0001-01-01"', dt.date(1, 1, 1)),
    ("Edm.TimeOfDay", '"14:13:25.1234567"', dt.time(14, 13, 25, 123456)),
    ("Edm.Duration", '"P1DT2H3M4.5S"', dt.timedelta(days=1, hours=2, minutes=3, seconds=4.5)),
    ("Edm.Duration", '"-PT1H"', dt.timedelta(hours=-1)),
    ("Edm.Binary", '"aGVsbG8="', b"hello"),
    ("Edm.Binary", '"_-8"', b"\xff\xef"),  # base64url, unpadded
    ("Edm.Binary", '""', b""),
    ("Edm.Untyped", '{"a": 1.5}', {"a": Decimal("1.5")}),
    ("Edm.String", "null", None),
    ("Edm.Int64", "null", None),
    ("Edm.Decimal", "null", None),
    ("Edm.DateTimeOffset", "null", None),
    ("Edm.Guid", "null", None),
    ("Edm.Binary", "null", None),
]  # fmt: skip

# (edm type, JSON text of a value that does not fit, words the message must contain)
BAD: list[tuple[str, str, str]] = [
    ("Edm.Guid", '"not-a-guid"', "GUID"),
    ("Edm.Guid", "42", "GUID"),
    ("Edm.String", "42", "string"),
    ("Edm.String", "true", "string"),
    ("Edm.Int32", "2147483648", "out of range"),
    ("Edm.Int16", "40000", "out of range"),
    ("Edm.Byte", "-1", "out of range"),
    ("Edm.Int64", "9223372036854775808", "out of range"),
    ("Edm.Int32", "1.5", "whole number"),
    ("Edm.Int32", '"abc"', "whole number"),
    ("Edm.Int32", "true", "whole number"),
    ("Edm.Decimal", '"abc"', "decimal"),
    ("Edm.Decimal", "true", "decimal"),
    ("Edm.Decimal", '"NaN"', "decimal"),
    ("Edm.Decimal", '"-Infinity"', "decimal"),
    ("Edm.Double", '"abc"', "floating"),
    ("Edm.Double", "false", "floating"),
    ("Edm.Boolean", "1", "true or false"),
    ("Edm.Boolean", '"true"', "true or false"),
    ("Edm.DateTimeOffset", '"yesterday"', "date-time"),
    ("Edm.DateTimeOffset", '"2024-02-30T00:00:00Z"', "date-time"),
    ("Edm.DateTimeOffset", "1718201605", "date-time"),
    ("Edm.Date", '"2024-02-30"', "date"),
    ("Edm.Date", '"2024-06-12T00:00:00Z"', "date"),
    ("Edm.TimeOfDay", '"25:00:00"', "time of day"),
    ("Edm.Duration", '"PT"', "duration"),
    ("Edm.Binary", '"***"', "base64"),
]


@pytest.mark.parametrize(("edm", "text", "expected"), GOOD)
@pytest.mark.parametrize("fast", PATHS)
def test_good_values(edm: str, text: str, expected: Any, fast: bool) -> None:
    column = OutputColumn("c", edm, ("c",))
    body = f'{{"value": [{{"c": {text}}}]}}'.encode()
    decoder = PageDecoder([column], table="t", use_fast=fast)
    [(value,)] = decoder.decode(split_envelope(body, use_fast=fast).rows)
    assert value == expected and type(value) is type(expected)
    if isinstance(expected, float) and expected == 0:
        assert math.copysign(1, value) == math.copysign(1, expected)  # -0.0 keeps its sign
    if isinstance(expected, dt.datetime):
        assert value.tzinfo is UTC


@pytest.mark.parametrize(("edm", "text", "words"), BAD)
@pytest.mark.parametrize("fast", PATHS)
def test_bad_values_name_table_column_and_row(edm: str, text: str, words: str, fast: bool) -> None:
    columns = [OutputColumn("ok", "Edm.Int32", ("ok",)), OutputColumn("revenue", edm, ("v",))]
    body = f'{{"value": [{{"ok": 1, "v": null}}, {{"ok": 2, "v": {text}}}]}}'.encode()
    decoder = PageDecoder(columns, table="account", use_fast=fast)
    with pytest.raises(DataError) as info:
        decoder.decode(split_envelope(body, use_fast=fast).rows, first_row=5001)
    message = str(info.value)
    assert "table 'account'" in message and "column 'revenue'" in message and "row 5002" in message
    assert words in message


def test_nan_double_is_accepted() -> None:
    assert math.isnan(converter_for("Edm.Double")("NaN"))


def test_float_is_never_taken_for_a_decimal() -> None:
    with pytest.raises(ConversionFailure, match="exact"):
        converter_for("Edm.Decimal")(0.1)


def test_edm_type_spellings() -> None:
    assert normalize_edm_type("edm.int32") == "Edm.Int32"
    assert normalize_edm_type("Int64") == "Edm.Int64"
    assert normalize_edm_type("Money") == "Edm.Decimal"
    assert normalize_edm_type("Edm.DateTime") == "Edm.DateTimeOffset"
    assert normalize_edm_type("Collection(Edm.String)") == "Collection(Edm.String)"
    assert converter_for("Collection(Edm.String)")(["a"]) == ["a"]


def _account_columns() -> list[OutputColumn]:
    return [
        OutputColumn("accountid", "Edm.Guid", ("accountid",)),
        OutputColumn("name", "Edm.String", ("name",)),
        OutputColumn("revenue", "Edm.Decimal", ("revenue",)),
        OutputColumn("revenue_base", "Edm.Decimal", ("revenue_base",)),
        OutputColumn("exchangerate", "Edm.Decimal", ("exchangerate",)),
        OutputColumn("address1_latitude", "Edm.Double", ("address1_latitude",)),
        OutputColumn("merged", "Edm.Boolean", ("merged",)),
        OutputColumn("followemail", "Edm.Boolean", ("followemail",)),
        OutputColumn("territorycode", "Edm.Int32", ("territorycode",)),
        OutputColumn("versionnumber", "Edm.Int64", ("versionnumber",)),
        OutputColumn("createdon", "Edm.DateTimeOffset", ("createdon",)),
        OutputColumn("ownerid", "Edm.Guid", ("_ownerid_value",)),
        OutputColumn("telephone1", "Edm.String", ("telephone1",)),
        OutputColumn("creditlimit", "Edm.Decimal", ("creditlimit",)),
        OutputColumn("numberofemployees", "Edm.Int32", ("numberofemployees",)),
        OutputColumn("entityimage", "Edm.Binary", ("entityimage",)),
        OutputColumn("missing", "Edm.String", ("no_such_key",)),
    ]


ACCOUNT_EXPECTED = (
    uuid.UUID("00000000-0000-0000-0000-000000000020"),
    "Sample Account",
    Decimal("5000000.0000000000"),
    Decimal("5000000.0000000000"),
    Decimal("1.000000000000"),
    47.63,
    False,
    True,
    1,
    2264380,
    dt.datetime(2024, 6, 12, 14, 13, 25, tzinfo=UTC),
    uuid.UUID("c76fee97-961f-ef11-840b-000d3abf969a"),
    None,
    None,
    None,
    None,
    None,
)


@pytest.mark.parametrize("fast", PATHS)
def test_real_account_record(fast: bool) -> None:
    body = (FIXTURES / "account_record.json").read_bytes()
    envelope = split_envelope(body, use_fast=fast)  # a single entity: one row
    rows = PageDecoder(_account_columns(), table="account", use_fast=fast).decode(envelope.rows)
    assert rows == [ACCOUNT_EXPECTED]
    assert str(rows[0][2]) == "5000000.0000000000"  # scale kept: exact text, not a float


@pytest.mark.parametrize("fast", PATHS)
def test_real_contact_record(fast: bool) -> None:
    record = json.loads((FIXTURES / "contact_record.json").read_text())
    date_columns = [k for k, v in record.items() if k.endswith("birthdate")]
    assert date_columns and isinstance(record["birthdate"], str)
    columns = [
        OutputColumn("contactid", "Edm.Guid", ("contactid",)),
        OutputColumn("birthdate", "Edm.Date", ("birthdate",)),
        OutputColumn("fullname", "Edm.String", ("fullname",)),
        OutputColumn("createdon", "Edm.DateTimeOffset", ("createdon",)),
    ]
    body = b'{"value": [' + (FIXTURES / "contact_record.json").read_bytes() + b"]}"
    [row] = PageDecoder(columns, table="contact", use_fast=fast).decode(
        split_envelope(body, use_fast=fast).rows
    )
    assert row[0] == uuid.UUID(record["contactid"])
    assert row[1] == dt.date.fromisoformat(record["birthdate"])
    assert row[2] == record["fullname"]
    assert row[3].tzinfo is UTC


def test_real_filtered_collection_envelope() -> None:
    body = (FIXTURES / "contacts_filtered_collection.json").read_bytes()
    document = json.loads(body)
    for fast in (False, True) if HAVE_MSGSPEC else (False,):
        envelope = split_envelope(body, use_fast=fast)
        rows = envelope.rows if isinstance(envelope.rows, list) else loads_exact(envelope.rows)
        assert len(rows) == len(document["value"])
        assert envelope.next_link == document.get("@odata.nextLink")


def test_row_decoder_on_dicts_with_expanded_paths() -> None:
    columns = [
        OutputColumn("name", "Edm.String", ("name",)),
        OutputColumn("contact", "Edm.String", ("primarycontactid", "fullname")),
        OutputColumn("manager", "Edm.String", ("primarycontactid", "parentcustomerid_account", "name")),
        OutputColumn("revenue", "Edm.Decimal", ("revenue",)),
    ]
    decode = make_row_decoder(columns, table="account")
    row = {"name": "A", "primarycontactid": {"fullname": "B", "parentcustomerid_account": {"name": "C"}}}
    assert decode({**row, "revenue": Decimal("1.5")}) == ("A", "B", "C", Decimal("1.5"))
    assert decode({"name": "A", "primarycontactid": None, "revenue": 2}) == ("A", None, None, Decimal(2))
    assert decode({"name": "A", "primarycontactid": {"fullname": "B"}}) == ("A", "B", None, None)
    with pytest.raises(DataError, match=r"column 'contact'.*expected an object"):
        decode({"name": "A", "primarycontactid": [1, 2]})
    assert decode.decode_rows([{"name": "x"}, {"name": "y"}]) == [
        ("x", None, None, None),
        ("y", None, None, None),
    ]


@pytest.mark.parametrize("fast", PATHS)
def test_expanded_paths_in_pages(fast: bool) -> None:
    columns = [
        OutputColumn("id", "Edm.Guid", ("accountid",)),
        OutputColumn("contact", "Edm.String", ("primarycontactid", "fullname")),
        OutputColumn("born", "Edm.Date", ("primarycontactid", "birthdate")),
        OutputColumn("deep", "Edm.Int32", ("primarycontactid", "owner", "n")),
        OutputColumn("id again", "Edm.Guid", ("accountid",)),
    ]
    rows = [
        {
            "accountid": str(uuid.UUID(int=1)),
            "primarycontactid": {"fullname": "B", "birthdate": "2000-01-01"},
        },
        {"accountid": str(uuid.UUID(int=2)), "primarycontactid": None},
        {"accountid": str(uuid.UUID(int=3)), "primarycontactid": {"owner": {"n": 7}}},
    ]
    body = json.dumps({"value": rows}).encode()
    result = PageDecoder(columns, use_fast=fast).decode(split_envelope(body, use_fast=fast).rows)
    u = uuid.UUID
    assert result == [
        (u(int=1), "B", dt.date(2000, 1, 1), None, u(int=1)),
        (u(int=2), None, None, None, u(int=2)),
        (u(int=3), None, None, 7, u(int=3)),
    ]


def test_a_key_used_as_value_and_object_still_decodes() -> None:
    columns = [
        OutputColumn("raw", "Edm.Untyped", ("primarycontactid",)),
        OutputColumn("name", "Edm.String", ("primarycontactid", "fullname")),
    ]
    decoder = PageDecoder(columns)
    assert not decoder.fast  # cannot be typed as a struct; the reference path serves it
    body = b'{"value": [{"primarycontactid": {"fullname": "B"}}]}'
    assert decoder.decode(split_envelope(body).rows) == [({"fullname": "B"}, "B")]


@pytest.mark.parametrize("fast", PATHS)
def test_envelope_parts(fast: bool) -> None:
    body = b'{"@odata.context":"x","@odata.count":42,"value":[{"a":1}],"@odata.nextLink":"https://n/?$skiptoken=1"}'
    envelope = split_envelope(body, use_fast=fast)
    assert envelope.count == 42 and envelope.next_link == "https://n/?$skiptoken=1"
    rows = envelope.rows if isinstance(envelope.rows, list) else loads_exact(envelope.rows)
    assert rows == [{"a": 1}]
    bare = split_envelope(b'[{"a": 1.10}]', use_fast=fast)
    assert bare.rows == [{"a": Decimal("1.10")}] and bare.next_link is None


@pytest.mark.parametrize("fast", PATHS)
@pytest.mark.parametrize("body", [b'{"value": [{"a": 1}', b"", b"<html>", b'{"value": [1,]}'])
def test_malformed_bodies(fast: bool, body: bytes) -> None:
    with pytest.raises(MalformedJSON):
        split_envelope(body, use_fast=fast)


def test_loads_exact_keeps_decimals() -> None:
    assert loads_exact(b'{"a": 0.1, "b": 3, "c": [1e-7]}') == {
        "a": Decimal("0.1"),
        "b": 3,
        "c": [Decimal("1e-7")],
    }


@pytest.mark.parametrize("fast", PATHS)
def test_round_trip_through_the_write_encoder(fast: bool) -> None:
    values = {
        "d": Decimal("-98765432109876543210.0123456789"),
        "g": uuid.UUID(int=99),
        "t": dt.datetime(2030, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        "b": b"\x00\x01\xfe",
    }
    columns = [
        OutputColumn("d", "Edm.Decimal", ("d",)),
        OutputColumn("g", "Edm.Guid", ("g",)),
        OutputColumn("t", "Edm.DateTimeOffset", ("t",)),
        OutputColumn("b", "Edm.Binary", ("b",)),
    ]
    body = b'{"value": [' + encode_json(values) + b"]}"
    assert PageDecoder(columns, use_fast=fast).decode(split_envelope(body, use_fast=fast).rows) == [
        tuple(values.values())
    ]


@pytest.mark.parametrize("fast", PATHS)
def test_a_generated_page_of_real_rows(fast: bool) -> None:
    columns = _account_columns()
    template = json.loads((FIXTURES / "account_record.json").read_text(), parse_float=Decimal)
    rows, expected = [], []
    for i in range(500):
        row = dict(template)
        row["accountid"] = str(uuid.UUID(int=i))
        row["revenue"] = Decimal(f"{i}.{i:04d}") if i % 7 else None
        row["versionnumber"] = 2**62 + i
        row["createdon"] = f"2024-06-{1 + i % 28:02d}T{i % 24:02d}:13:25.{i:03d}Z"
        row["telephone1"] = None if i % 3 else f"+1 555 {i:04d}"
        rows.append(row)
        changed = {
            0: uuid.UUID(int=i),
            2: row["revenue"],
            9: 2**62 + i,
            10: dt.datetime(2024, 6, 1 + i % 28, i % 24, 13, 25, i * 1000, tzinfo=UTC),
            12: row["telephone1"],
        }
        expected.append(tuple(changed.get(k, v) for k, v in enumerate(ACCOUNT_EXPECTED)))
    body = b'{"value": [' + b",".join(encode_json(r) for r in rows) + b"]}"
    decoder = PageDecoder(columns, use_fast=fast)
    assert decoder.fast is fast
    assert decoder.decode(split_envelope(body, use_fast=fast).rows) == expected


def test_gc_pause_nests_and_restores() -> None:
    import gc

    from d365conn.values.jsonpage import gc_paused

    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # a collector the application switched off stays off
    finally:
        gc.enable()


@pytest.mark.parametrize(
    ("edm", "text"),
    [
        ("Edm.DateTimeOffset", "2024-+6-12T14:13:25Z"),
        ("Edm.DateTimeOffset", "2024-06-12T14:13:2 Z"),
        ("Edm.Date", "2024-+2-01"),
        ("Edm.Date", "２０２４-02-01"),
        ("Edm.Int64", "١٢"),
    ],
)
def test_lookalike_digits_and_signs_are_refused(edm: str, text: str) -> None:
    with pytest.raises(ConversionFailure):
        converter_for(edm)(text)


def test_loads_exact_without_msgspec(monkeypatch: pytest.MonkeyPatch) -> None:
    from d365conn.values import jsonpage

    monkeypatch.setattr(jsonpage, "_EXACT", None)  # as on a machine without msgspec
    assert loads_exact(b'{"a": [0.10, 2, "x"]}') == {"a": [Decimal("0.10"), 2, "x"]}
    with pytest.raises(MalformedJSON):
        loads_exact(b'{"a": ')
