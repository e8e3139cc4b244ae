"""The comparator itself: it must catch type drift, order errors and wrong tie handling."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from differential.compare import compare_rows

UTC = timezone.utc


def test_equal_results_have_no_differences() -> None:
    rows = [
        (1, "a", Decimal("1.50"), uuid.UUID(int=1), datetime(2024, 1, 1, tzinfo=UTC), date(2024, 1, 1), None)
    ]
    same = [
        (
            1,
            "a",
            Decimal("1.5000"),
            uuid.UUID(int=1),
            datetime(2024, 1, 1, tzinfo=UTC),
            date(2024, 1, 1),
            None,
        )
    ]
    assert compare_rows(rows, same, "ordered") == []


def test_types_must_match_exactly() -> None:
    assert compare_rows([(1.5,)], [(Decimal("1.5"),)])  # float is not Decimal
    assert compare_rows([("00000000-0000-0000-0000-000000000001",)], [(uuid.UUID(int=1),)])
    assert compare_rows([(True,)], [(1,)])  # a bool is not an int
    assert compare_rows([(datetime(2024, 1, 1),)], [(datetime(2024, 1, 1, tzinfo=UTC),)])
    assert compare_rows([(date(2024, 1, 1),)], [(datetime(2024, 1, 1, tzinfo=UTC),)])
    assert compare_rows([(None,)], [(0,)])


def test_datetimes_must_be_in_utc() -> None:
    plus_one = timezone(timedelta(hours=1))
    moment = datetime(2024, 1, 1, 1, tzinfo=plus_one)
    assert compare_rows([(moment,)], [(moment.astimezone(UTC),)])


def test_floats_agree_within_a_relative_tolerance() -> None:
    assert compare_rows([(0.1 + 0.2,)], [(0.3,)]) == []
    assert compare_rows([(0.31,)], [(0.3,)])


def test_multiset_ignores_order_but_not_multiplicity() -> None:
    assert compare_rows([(2,), (1,), (1,)], [(1,), (2,), (1,)]) == []
    assert compare_rows([(2,), (1,), (2,)], [(1,), (2,), (1,)])
    assert compare_rows([(None,), (1,)], [(1,), (None,)]) == []


def test_ordered_checks_the_sequence() -> None:
    assert compare_rows([(1,), (2,)], [(2,), (1,)], "ordered")


def test_ordered_by_allows_any_order_among_ties_only() -> None:
    want = [(None, "x"), (1, "a"), (1, "b"), (2, "c")]
    assert compare_rows([(None, "x"), (1, "b"), (1, "a"), (2, "c")], want, (0,)) == []
    assert compare_rows([(1, "a"), (None, "x"), (1, "b"), (2, "c")], want, (0,))  # NULL placement matters
    assert compare_rows([(None, "x"), (1, "a"), (1, "c"), (2, "b")], want, (0,))  # rows moved across keys


def test_row_count_differences_name_the_rows() -> None:
    report = compare_rows([(1,)], [(1,), (2,)])
    assert report[0].startswith("row count 1")
    assert any("only in reference: (2,)" in line for line in report)
