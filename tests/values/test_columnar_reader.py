"""Arrow's JSON reader tier of the columnar decoder: identical to the tuple path, value for value.

Every page is decoded both ways -- ``ColumnarDecoder`` and the tuple path (``PageDecoder`` then the
tuple -> batch builder) -- and the batches must be equal, schema included. Pages the reader must
leave alone (a value it would read differently) must still come out equal, through another tier.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import msgspec
import pyarrow as pa
import pytest

import d365conn
from d365conn.arrow import _BatchBuilder
from d365conn.planner.plan import OutputColumn
from d365conn.values.columnar import ColumnarDecoder, SwitchableDecoder
from d365conn.values.jsonpage import PageDecoder, RowsJSON, split_envelope

COLUMNS = (
    OutputColumn("id", "Edm.Guid", ("id",)),
    OutputColumn("name", "Edm.String", ("name",)),
    OutputColumn("money", "Edm.Decimal", ("money",), precision=19, scale=4),
    OutputColumn("wide", "Edm.Decimal", ("wide",), precision=38, scale=10),
    OutputColumn("rate", "Edm.Double", ("rate",)),
    OutputColumn("when", "Edm.DateTimeOffset", ("when",)),
    OutputColumn("day", "Edm.Date", ("day",)),
    OutputColumn("n16", "Edm.Int16", ("n16",)),
    OutputColumn("n32", "Edm.Int32", ("n32",)),
    OutputColumn("n64", "Edm.Int64", ("n64",)),
    OutputColumn("flag", "Edm.Boolean", ("flag",)),
)

TRICKY: list[dict[str, Any]] = [
    {
        "@odata.etag": 'W/"1"',
        "id": "6f9619ff-8b86-d011-b42d-00cf4fc964ff",
        "name": "日本語 é 😀",
        "money": Decimal("123456789012345.1234"),
        "wide": Decimal("1234567890123456789012345678.0123456789"),
        "rate": 1e308,
        "when": "2024-06-12T14:13:25.123456Z",
        "day": "2024-02-29",
        "n16": -32768,
        "n32": 2147483647,
        "n64": 9223372036854775807,
        "flag": True,
    },
    {
        "id": "00000000-0000-0000-0000-000000000000",
        "name": '"quoted" back\\slash\nnew line\ttab \u0000 nul / slash \u2028',
        "money": Decimal("-0.0"),
        "wide": Decimal("-0.0000000001"),
        "rate": 5e-324,
        "when": "2024-06-12T14:13:25.5+05:30",
        "day": "0001-01-01",
        "n16": 32767,
        "n32": -2147483648,
        "n64": -9223372036854775808,
        "flag": False,
        "extra": {"nested": [1, {"deep": None}]},
        "name@OData.Community.Display.V1.FormattedValue": "ignored",
    },
    {
        "id": "FFFFFFFF-0000-4000-8000-ABCDEFABCDEF",  # upper case: the tuple path writes lower case
        "name": "",
        "money": Decimal("0.1"),
        "wide": Decimal("1E-10"),
        "rate": 0.1,
        "when": "2024-12-31T23:30:00-01:00",  # the next year in UTC
        "day": "9999-12-31",
        "n16": 0,
        "n32": 0,
        "n64": 0,
        "flag": None,
    },
    {col.path[0]: None for col in COLUMNS},
    {},  # every key missing: NULL everywhere
    {"when": "9999-12-31T23:59:59.999999Z", "money": 12, "rate": -1.5e-300, "day": "1970-01-01"},
]


def _description() -> list[tuple[Any, ...]]:
    return [(c.name, c.edm_type, None, None, c.precision, c.scale, True) for c in COLUMNS]


def _encode(rows: list[dict[str, Any]], *, pretty: bool = False) -> bytes:
    body = msgspec.json.Encoder(decimal_format="number").encode(
        {"@odata.context": "https://x/$metadata#t", "value": rows, "@odata.nextLink": "https://x/?p=2"}
    )
    return msgspec.json.format(body, indent=2) if pretty else body


def same(got: pa.RecordBatch, want: pa.RecordBatch) -> bool:
    """Equal schema and values, value by value in Python -- NaN equals NaN, -0.0 differs from 0.0."""
    return got.schema == want.schema and repr(got.to_pylist()) == repr(want.to_pylist())


def _both(body: bytes) -> tuple[pa.RecordBatch, pa.RecordBatch, ColumnarDecoder]:
    builder = _BatchBuilder(_description())
    rows = split_envelope(body).rows
    want = builder.build(PageDecoder(COLUMNS).decode(rows))
    decoder = ColumnarDecoder(COLUMNS, builder.schema, builder.build)
    return decoder.decode(rows), want, decoder


def test_tricky_values_are_read_by_arrow_exactly_as_by_the_tuple_path() -> None:
    got, want, decoder = _both(_encode(TRICKY))
    assert decoder.reader_pages == 1 and decoder.fallback_pages == 0
    assert same(got, want)
    assert got.column(2)[0].as_py() == Decimal("123456789012345.1234")
    assert got.column(3)[0].as_py() == Decimal("1234567890123456789012345678.0123456789")
    assert got.column(0)[2].as_py() == "ffffffff-0000-4000-8000-abcdefabcdef"
    assert got.column(9)[1].as_py() == -(2**63)
    assert all(got.column(i).null_count >= 2 for i in range(got.num_columns))


def test_a_pretty_printed_page_with_newlines() -> None:
    body = _encode(TRICKY, pretty=True)
    assert body.count(b"\n") > 50
    got, want, decoder = _both(body)
    assert decoder.reader_pages == 1 and same(got, want)


def test_raw_array_bytes_are_read_too() -> None:
    builder = _BatchBuilder(_description())
    array = msgspec.json.Encoder(decimal_format="number").encode(TRICKY)
    decoder = ColumnarDecoder(COLUMNS, builder.schema, builder.build)
    assert same(decoder.decode(array), builder.build(PageDecoder(COLUMNS).decode(array)))
    assert decoder.reader_pages == 1


def test_empty_page() -> None:
    builder = _BatchBuilder(_description())
    decoder = ColumnarDecoder(COLUMNS, builder.schema, builder.build)
    got = decoder.decode(split_envelope(_encode([])).rows)
    assert got.num_rows == 0 and got.schema == builder.schema and decoder.reader_pages == 1


@pytest.mark.parametrize(
    ("key", "text"),
    [
        ("rate", "-0"),  # Arrow reads the integer -0 as -0.0; the tuple path as 0.0
        ("rate", "-0.0"),  # a real negative zero: the tuple path keeps it
        ("when", '"2024-01-01T00:00:00.1234567Z"'),  # 7 fraction digits: rounded by the tuple path
        ("when", '"2024-06-12T14:13Z"'),  # no seconds
        ("when", '"2024-06-12T14Z"'),  # Arrow would read this; the tuple path refuses it
        ("when", '"2024-06-12T14:13:25"'),  # no offset: UTC for the tuple path
        ("when", '"2024-06-12 14:13:25Z"'),
        ("when", '"2024-06-12T14:13:25z"'),
        ("when", '"0000-01-01T00:00:00Z"'),  # year 0: Arrow has it, Python does not
        ("when", '"0001-01-01T00:30:00+01:00"'),
        ("when", '"2024-06-30T23:59:60Z"'),
        ("day", '"0000-01-01"'),
        ("day", '"2024-02-30"'),
        ("day", '"2024-6-01"'),
        ("id", '"6f9619ff8b86d011b42d00cf4fc964ff"'),  # no hyphens: uuid.UUID reads it
        ("id", '"{6F9619FF-8B86-D011-B42D-00CF4FC964FF}"'),
        ("n64", '"12345"'),  # Int64 as a string (IEEE754Compatible)
        ("n64", "9223372036854775808"),
        ("n32", "1.0"),
        ("n16", "32768"),
        ("money", '"12.5"'),  # a decimal as a string (IEEE754Compatible): both read 12.5 exactly
        ("money", "1.23456"),  # more digits than the scale: the tuple path's DataError
        ("money", '"NaN"'),
        ("wide", "1e400"),
        ("rate", '"NaN"'),
        ("rate", "1e400"),
        ("name", "5"),
        ("flag", '"true"'),
        ("flag", "1"),
    ],
)
def test_values_the_reader_leaves_alone_come_out_alike(key: str, text: str) -> None:
    page = [{k: v for k, v in row.items() if k != key} for row in TRICKY[:1]] + TRICKY[1:3]
    body = _encode(page).replace(b'"value":[{', b'"value":[{"%s":%s,' % (key.encode(), text.encode()), 1)
    builder = _BatchBuilder(_description())
    rows = split_envelope(body).rows
    decoder = ColumnarDecoder(COLUMNS, builder.schema, builder.build)
    try:
        want = builder.build(PageDecoder(COLUMNS).decode(rows))
    except d365conn.DataError as err:
        with pytest.raises(d365conn.DataError) as raised:
            decoder.decode(rows)
        assert str(raised.value) == str(err)
        return
    got = decoder.decode(rows)
    taken = (key, text) in {("money", '"12.5"')}  # read alike by Arrow and Python
    assert decoder.reader_pages == taken, "the reader must not take this page"
    assert same(got, want)


def test_escapes_in_the_wire_text() -> None:
    escaped = rb'"pair \ud83d\ude00 \u00e9 \"q\" \\ \/ \b\f\n\r\t \u0000"'
    first = {k: v for k, v in TRICKY[0].items() if k != "name"}
    body = _encode([first, TRICKY[1]]).replace(b'"value":[{', b'"value":[{"name":' + escaped + b",", 1)
    got, want, decoder = _both(body)
    assert decoder.reader_pages == 1 and same(got, want)
    assert got.column(1)[0].as_py() == 'pair \U0001f600 \u00e9 "q" \\ / \b\f\n\r\t \x00'


def test_duplicate_keys_and_null_rows() -> None:
    body = _encode(TRICKY[:2]).replace(b'"value":[{', b'"value":[{"n32":1,', 1)
    got, want, decoder = _both(body)
    assert decoder.reader_pages == 0 and same(got, want)
    builder = _BatchBuilder(_description())
    rows = split_envelope(_encode([TRICKY[0], None])).rows  # type: ignore[list-item]
    with pytest.raises(d365conn.DataError) as tuple_error:
        PageDecoder(COLUMNS).decode(rows)
    with pytest.raises(d365conn.DataError) as columnar_error:
        ColumnarDecoder(COLUMNS, builder.schema, builder.build).decode(rows)
    assert str(columnar_error.value) == str(tuple_error.value)


def test_many_rows_across_pages() -> None:
    builder = _BatchBuilder(_description())
    decoder = ColumnarDecoder(COLUMNS, builder.schema, builder.build)
    tuples = PageDecoder(COLUMNS)
    for page in range(3):
        rows = [
            {
                "id": str(uuid.UUID(int=page * 1000 + i)),
                "name": f"row {i} {'x' * (i % 17)}",
                "money": Decimal(f"{i * 7}.{i % 10000:04d}"),
                "wide": Decimal(f"-{i}{'9' * (i % 20)}.{i:010d}"),
                "rate": i / 7,
                "when": f"20{10 + i % 15}-0{1 + i % 9}-1{i % 10}T0{i % 10}:3{i % 6}:00.{i:06d}+0{i % 10}:00",
                "day": f"19{50 + i % 50}-1{i % 3}-2{i % 9}",
                "n64": -(2**62) + i,
                "flag": i % 3 == 0 if i % 4 else None,
            }
            for i in range(1, 700)
        ]
        body = _encode(rows)
        got = decoder.decode(split_envelope(body).rows)
        assert same(got, builder.build(tuples.decode(split_envelope(body).rows)))
    assert decoder.reader_pages == 3


def test_expanded_and_binary_columns_keep_other_tiers() -> None:
    nested = (OutputColumn("contact", "Edm.String", ("primarycontactid", "fullname")),)
    binary = (OutputColumn("blob", "Edm.Binary", ("blob",)), OutputColumn("n", "Edm.Int32", ("n",)))
    for columns, body in (
        (nested, b'{"value":[{"primarycontactid":{"fullname":"B"}},{"primarycontactid":null}]}'),
        (binary, b'{"value":[{"blob":"AAEC","n":1},{"blob":null,"n":null}]}'),
    ):
        builder = _BatchBuilder([(c.name, c.edm_type, None, None, None, None, True) for c in columns])
        decoder = ColumnarDecoder(columns, builder.schema, builder.build)
        rows = split_envelope(body).rows
        assert same(decoder.decode(rows), builder.build(PageDecoder(columns).decode(rows)))
        assert decoder.reader_pages == 0


def test_the_envelope_keeps_a_view_not_a_copy() -> None:
    body = _encode(TRICKY)
    rows = split_envelope(body).rows
    assert isinstance(rows, RowsJSON) and rows.document is body
    assert isinstance(rows.array, memoryview) and rows.array.readonly
    assert json.loads(bytes(rows)) == json.loads(body)["value"] and len(rows) == len(bytes(rows))


def test_first_page_is_decoded_again_from_its_json_when_kept() -> None:
    builder = _BatchBuilder(_description())
    body = _encode(TRICKY)
    for keep in (True, False):
        switch = SwitchableDecoder(COLUMNS, keep_first=keep)
        first = switch.decode(split_envelope(body).rows)
        assert isinstance(first, list)
        switch.to_arrow(builder.schema, builder.build)
        batch = switch.first_batch(first)
        assert same(batch, builder.build(first))
        assert switch.arrow is not None and switch.arrow.reader_pages == (1 if keep else 0)
    switch = SwitchableDecoder(COLUMNS, keep_first=True)
    first = switch.decode(split_envelope(body).rows)
    switch.tuples_taken()  # the rows went out as tuples: the JSON is dropped
    switch.to_arrow(builder.schema, builder.build)
    assert same(switch.first_batch(first), builder.build(first))  # type: ignore[arg-type]
    assert switch.arrow is not None and switch.arrow.reader_pages == 0


def test_doubles_round_like_python() -> None:
    import random

    rng = random.Random(9)
    texts = [
        "2.2250738585072011e-308",  # the classic slow-path input
        "0.1000000000000000055511151231257827",
        "9007199254740993",  # 2**53 + 1, an integer that rounds
        "1.7976931348623157e308",
        "4.9406564584124654e-324",
        "123456789012345678901234567890",
        "1e-7",
        "-2.5E+10",
    ]
    texts += [repr(rng.uniform(-1e6, 1e6)) for _ in range(300)]
    for _ in range(300):  # 36 significant digits: more than a double holds
        texts.append(f"{rng.randrange(10**17)}.{rng.randrange(10**19):019d}e{rng.randrange(-300, 300)}")
    values = ",".join(f'{{"rate":{text},"n32":{i}}}' for i, text in enumerate(texts))
    body = ('{"value":[' + values + "]}").encode()
    got, want, decoder = _both(body)
    assert decoder.reader_pages == 1 and same(got, want)
    assert got.column(4).to_pylist() == [float(text) for text in texts]


def test_a_tier_that_keeps_refusing_is_not_tried_again() -> None:
    builder = _BatchBuilder(_description())
    decoder = ColumnarDecoder(COLUMNS, builder.schema, builder.build)
    as_string = _encode(TRICKY[:3]).replace(b'"n64":9223372036854775807', b'"n64":"9223372036854775807"')
    for _ in range(4):
        assert same(decoder.decode(split_envelope(as_string).rows), builder.build(
            PageDecoder(COLUMNS).decode(split_envelope(as_string).rows)))
    assert decoder.fallback_pages == 4 and decoder._reader is None and decoder._decode is None
    assert same(decoder.decode(split_envelope(_encode(TRICKY)).rows), _both(_encode(TRICKY))[1])
    assert decoder.reader_pages == 0  # the tuple path serves the rest of the scan, alike
    fresh = ColumnarDecoder(COLUMNS, builder.schema, builder.build)
    for body in (as_string, _encode(TRICKY), as_string, as_string, _encode(TRICKY)):
        fresh.decode(split_envelope(body).rows)
    assert fresh.reader_pages == 2  # a refusal now and then does not switch the reader off
