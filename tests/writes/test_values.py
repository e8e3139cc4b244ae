"""SQL values -> JSON values for each column kind: exact, checked, refused before any request."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from d365conn.exceptions import DataError
from d365conn.writes.values import json_value

from .catalog import HandCatalog

CAT = HandCatalog()
ACCOUNT = CAT.tables["account"]
CONTACT = CAT.tables["contact"]
GUID = uuid.UUID("1f2e3d4c-0000-4000-8000-0123456789ab")

CASES = [
    # (table, column, value, JSON value)
    (ACCOUNT, "revenue", Decimal("1234567.8912"), Decimal("1234567.8912")),
    (ACCOUNT, "revenue", 0.1, Decimal("0.1")),  # the float's shortest repr, not its binary expansion
    (ACCOUNT, "revenue", 12, Decimal(12)),
    (ACCOUNT, "revenue", "99.50", Decimal("99.50")),
    (ACCOUNT, "revenue", Decimal("1.50000"), Decimal("1.5")),  # trailing zeros beyond scale are not digits
    (ACCOUNT, "numberofemployees", 5, 5),
    (ACCOUNT, "numberofemployees", Decimal("7"), 7),
    (ACCOUNT, "creditonhold", True, True),
    (ACCOUNT, "creditonhold", 0, False),
    (ACCOUNT, "industrycode", 7, 7),
    (ACCOUNT, "industrycode", "consulting", 7),  # labels, case-insensitive
    (ACCOUNT, "industrycode", "3", 3),
    (ACCOUNT, "cdsify_multiselect", "One; Three", "1,3"),
    (ACCOUNT, "cdsify_multiselect", [2, "One"], "2,1"),
    (ACCOUNT, "cdsify_multiselect", "1,2", "1,2"),
    (ACCOUNT, "lastusedincampaign", dt.datetime(2024, 5, 1, 12, 30), "2024-05-01T12:30:00Z"),
    (ACCOUNT, "lastusedincampaign",
     dt.datetime(2024, 5, 1, 14, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))), "2024-05-01T12:30:00Z"),
    (ACCOUNT, "lastusedincampaign", dt.date(2024, 5, 1), "2024-05-01T00:00:00Z"),
    (CONTACT, "birthdate", dt.date(1990, 2, 3), "1990-02-03"),
    (CONTACT, "birthdate", "1990-02-03", "1990-02-03"),
    (CONTACT, "birthdate", dt.datetime(1990, 2, 3), "1990-02-03"),
    (ACCOUNT, "accountid", "{1F2E3D4C-0000-4000-8000-0123456789AB}", str(GUID)),
    (ACCOUNT, "accountid", GUID, str(GUID)),
    (ACCOUNT, "name", "O'Brien & Sons", "O'Brien & Sons"),
    (ACCOUNT, "name", None, None),
]  # fmt: skip


@pytest.mark.parametrize(("table", "column", "value", "expected"), CASES)
def test_conversion(table: object, column: str, value: object, expected: object) -> None:
    col = table.column(column)  # type: ignore[attr-defined]
    got = json_value(table, col, value)  # type: ignore[arg-type]
    assert got == expected
    assert type(got) is type(expected)


REFUSED = [
    (ACCOUNT, "revenue", Decimal("1.23456"), "at most 4 decimal places"),
    (ACCOUNT, "revenue", "abc", "not a number"),
    (ACCOUNT, "revenue", float("nan"), "not a number"),
    (ACCOUNT, "numberofemployees", 1.5, "whole number"),
    (ACCOUNT, "numberofemployees", 2**31, "range"),
    (ACCOUNT, "creditonhold", "yes", "true/false"),
    (ACCOUNT, "industrycode", 5, "one of the choice's values"),
    (ACCOUNT, "industrycode", "Farming", "labels: 'Accounting'"),
    (ACCOUNT, "name", "x" * 161, "at most 160"),
    (ACCOUNT, "name", 1.5, "not text"),
    (ACCOUNT, "accountid", "not-a-guid", "not a GUID"),
    (CONTACT, "birthdate", dt.datetime(1990, 2, 3, 10, 0), "time of day"),
    (CONTACT, "birthdate", "03/02/1990", "YYYY-MM-DD"),
    (ACCOUNT, "lastusedincampaign", "yesterday", "ISO 8601"),
]


@pytest.mark.parametrize(("table", "column", "value", "message"), REFUSED)
def test_refused(table: object, column: str, value: object, message: str) -> None:
    col = table.column(column)  # type: ignore[attr-defined]
    with pytest.raises(DataError, match=message.replace("(", r"\(")) as info:
        json_value(table, col, value)  # type: ignore[arg-type]
    assert column in str(info.value)
