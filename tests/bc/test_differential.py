# ruff: noqa: E501  (a table of queries: one query per line)
"""Differential reads on Business Central: d365conn.connect() against a reference engine.

The reference is DuckDB loaded from the BC sandbox by the differential suite's own tiny client
(``tests/differential/odata_reader.py``: plain ``requests``, ``$metadata`` for types, ``$select`` and
``@odata.nextLink`` to the end) -- none of the driver's code -- and the comparison is the same
(``tests/differential/compare.py``, ``runner.py``). Business Central compares strings binary here
(the capability row's ``case_insensitive=False``), so the reference keeps DuckDB's binary collation.
Enum properties travel as their member names and are text on both sides.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from differential.odata_reader import ODataReader
from differential.queries import FromReference, Q
from differential.reference import SQL_TYPES, ReferenceEngine, read_plain_table
from differential.runner import differences, pushdown_problems

import d365conn
from d365conn.sandbox.bc import BCSandbox
from tests.bc.conftest import USA

#: entity set -> entity type (the reference reads these tables of CRONUS USA)
TABLES = {
    "customers": "customer",
    "vendors": "vendor",
    "items": "item",
    "salesOrders": "salesOrder",
    "salesOrderLines": "salesOrderLine",
    "generalLedgerEntries": "generalLedgerEntry",
    "accounts": "account",
}

CU = "SELECT number, displayName"
QUERIES: list[Q] = [
    # -- filters pushed as Business Central takes them ------------------------------------------------
    Q("eq_city", f"{CU} FROM customers WHERE city = 'Miami'", remote=True, pushed=("city eq 'Miami'",)),
    Q("eq_is_binary", f"{CU} FROM customers WHERE city = 'miami'", remote=True),
    Q("ne_and", f"{CU} FROM customers WHERE city <> 'Miami' AND country = 'US'", remote=True),
    Q(
        "decimal_gt",
        f"{CU}, balanceDue FROM customers WHERE balanceDue > 25000",
        remote=True,
        pushed=("balanceDue gt 25000",),
    ),
    Q(
        "decimal_range",
        f"{CU}, creditLimit FROM customers WHERE creditLimit >= 1000 AND creditLimit < 20000",
        remote=True,
    ),
    Q("bool_eq", f"{CU} FROM customers WHERE taxLiable = 1", ref=f"{CU} FROM customers WHERE taxLiable"),
    Q(
        "enum_eq",
        f"{CU}, blocked FROM customers WHERE blocked = 'Ship'",
        remote=True,
        pushed=("blocked eq 'Ship'",),
    ),
    Q("enum_blank", f"{CU} FROM customers WHERE blocked = '_x0020_' AND type = 'Person'", remote=True),
    Q("in_one_field", f"{CU}, city FROM customers WHERE city IN ('Miami', 'London', 'Toronto')", remote=True),
    Q("not_in", f"{CU} FROM customers WHERE country NOT IN ('US', 'GB')"),
    Q(
        "like_prefix",
        f"{CU} FROM customers WHERE displayName LIKE 'Adatum%'",
        remote=True,
        pushed=("startswith(displayName,'Adatum')",),
    ),
    Q("like_contains", f"{CU} FROM customers WHERE displayName LIKE '%Ski%'", remote=True),
    Q("like_suffix", f"{CU} FROM customers WHERE email LIKE '%.example'", remote=True),
    Q(
        "lower_eq",
        f"{CU} FROM customers WHERE LOWER(city) = 'gdańsk'",
        remote=True,
        pushed=("tolower(city)",),
    ),
    Q("upper_eq", f"{CU} FROM customers WHERE UPPER(country) = 'CH'", remote=True),
    Q("substring_pushed", f"{CU} FROM customers WHERE SUBSTRING(number, 2, 3) = '101'", remote=True, pushed=("substring(number,1,3) eq '101'",)),
    Q("substring_to_end", f"{CU} FROM customers WHERE SUBSTRING(displayName, 8) = 'Winery'", remote=True, pushed=("substring(displayName,7)",)),
    Q("substring_from_zero_local", f"{CU} FROM customers WHERE SUBSTRING(number, 0, 3) = 'C1'", remote=False),
    Q(
        "or_same_field",
        f"{CU} FROM customers WHERE salespersonCode = 'JR' OR salespersonCode = 'PS'",
        remote=True,
    ),
    # OR across fields: one request per branch (with the other pushed conditions), unioned by key locally
    Q(
        "or_across_fields",
        f"{CU} FROM customers WHERE city = 'Miami' OR balanceDue > 48000",
        remote=False,
        pushed=("$filter=city eq 'Miami'", "$filter=balanceDue gt 48000"),
    ),
    Q(
        "or_across_under_and",
        f"{CU} FROM customers WHERE country = 'US' AND (city = 'Miami' OR taxLiable = 1)",
        ref=f"{CU} FROM customers WHERE country = 'US' AND (city = 'Miami' OR taxLiable)",
        remote=False,
        pushed=("$filter=country eq 'US' and city eq 'Miami'", "$filter=country eq 'US' and taxLiable eq true"),
    ),
    Q(
        "or_across_overlapping_branches_count",
        "SELECT COUNT(*) FROM customers WHERE balanceDue > 10000 OR creditLimit < 50000 OR salespersonCode = 'JR'",
        remote=False,
        pushed=("$filter=balanceDue gt 10000", "$filter=salespersonCode eq 'JR'"),
    ),
    Q(
        "or_across_and_groups",
        f"{CU} FROM customers WHERE (city = 'Miami' AND balanceDue > 1000) OR salespersonCode IN ('JR', 'PS')",
        remote=False,
        pushed=("$filter=city eq 'Miami' and balanceDue gt 1000",),
    ),
    Q(
        "or_across_with_null_branch",
        f"{CU}, phoneNumber FROM customers WHERE phoneNumber IS NULL OR city = 'Miami' OR phoneNumber = ''",
        remote=False,
    ),
    Q(
        "or_across_grouped",
        "SELECT city, COUNT(*) AS n FROM customers WHERE city = 'Miami' OR taxLiable = 1 GROUP BY city",
        ref="SELECT city, COUNT(*) AS n FROM customers WHERE city = 'Miami' OR taxLiable GROUP BY city",
        remote=False,
    ),
    Q(
        "or_across_duplicate_values_kept",  # many rows share a city: the key keeps them apart in UNION
        "SELECT city FROM customers WHERE city = 'Miami' OR salespersonCode = 'JR'",
        remote=False,
        pushed=("$filter=city eq 'Miami'", "$filter=salespersonCode eq 'JR'"),
    ),
    Q(
        "or_across_in_join",
        "SELECT c.number, o.number FROM customers c JOIN salesOrders o ON o.customerId = c.id "
        "WHERE c.city = 'Miami' OR c.balanceDue > 48000",
        remote=False,
        pushed=("$filter=city eq 'Miami'", "$filter=balanceDue gt 48000"),
    ),
    Q(
        "or_across_unpushable_branch_local",
        f"{CU} FROM customers WHERE city = 'Miami' OR LENGTH(displayName) > 20",
        remote=False,
    ),
    Q("not_eq", f"{CU} FROM customers WHERE NOT (city = 'Miami')"),
    Q("empty_string", f"{CU} FROM customers WHERE phoneNumber = ''", remote=True),
    Q(
        "date_ge",
        "SELECT number, orderDate FROM salesOrders WHERE orderDate >= '2025-10-01'",
        ref="SELECT number, orderDate FROM salesOrders WHERE orderDate >= DATE '2025-10-01'",
        remote=True,
    ),
    Q(
        "datetime_lt",
        "SELECT number FROM customers WHERE lastModifiedDateTime < '2025-03-01T00:00:00Z'",
        ref="SELECT number FROM customers WHERE lastModifiedDateTime < TIMESTAMPTZ '2025-03-01 00:00:00+00'",
    ),
    Q(
        "guid_param",
        "SELECT number FROM salesOrders WHERE customerId = ?",
        params=(FromReference("SELECT id FROM customers WHERE number = 'C10000'"),),
        remote=True,
    ),
    Q(
        "int_range",
        "SELECT entryNumber, debitAmount FROM generalLedgerEntries WHERE entryNumber BETWEEN 100 AND 160",
        remote=True,
    ),
    # -- order, limits, distinct ----------------------------------------------------------------------
    Q(
        "order_limit",
        f"{CU} FROM customers ORDER BY number DESC LIMIT 7",
        order="ordered",
        remote=True,
        pushed=("$top=7",),
    ),
    Q(
        "order_offset",
        f"{CU} FROM customers ORDER BY number OFFSET 20 ROWS FETCH NEXT 10 ROWS ONLY",
        ref=f"{CU} FROM customers ORDER BY number LIMIT 10 OFFSET 20",
        order="ordered",
    ),
    Q("order_ties", "SELECT city, number FROM customers ORDER BY city", order=(0,)),
    Q("distinct", "SELECT DISTINCT country FROM customers"),
    Q(
        "top_n",
        "SELECT TOP 3 number FROM items ORDER BY unitPrice DESC, number",
        ref="SELECT number FROM items ORDER BY unitPrice DESC, number LIMIT 3",
        order="ordered",
    ),
    # -- aggregates (local over pushed scans: no $apply on Business Central) -------------------------------
    Q("count_all", "SELECT COUNT(*) FROM generalLedgerEntries", remote=True),
    Q("count_filtered", "SELECT COUNT(*) FROM customers WHERE country = 'US'"),
    Q(
        "group_sum",
        "SELECT accountNumber, SUM(debitAmount), SUM(creditAmount), COUNT(*) FROM generalLedgerEntries GROUP BY accountNumber",
        remote=False,
    ),
    Q("group_having", "SELECT city, COUNT(*) AS n FROM customers GROUP BY city HAVING COUNT(*) > 30"),
    Q("avg_min_max", "SELECT MIN(unitPrice), MAX(unitPrice), AVG(unitCost) FROM items"),
    Q("group_enum", "SELECT status, COUNT(*), SUM(totalAmountExcludingTax) FROM salesOrders GROUP BY status"),
    Q(
        "group_by_date",
        "SELECT postingDate, SUM(debitAmount) FROM generalLedgerEntries WHERE postingDate < '2025-01-10' GROUP BY postingDate",
        ref="SELECT postingDate, SUM(debitAmount) FROM generalLedgerEntries WHERE postingDate < DATE '2025-01-10' GROUP BY postingDate",
    ),
    # -- joins and subqueries (local) -------------------------------------------------------------------
    Q(
        "join_orders_customers",
        "SELECT o.number, c.displayName, o.totalAmountExcludingTax FROM salesOrders o JOIN customers c ON o.customerId = c.id WHERE c.city = 'London'",
    ),
    Q(
        "join_lines_items",
        "SELECT l.sequence, i.number, l.quantity * i.unitPrice FROM salesOrderLines l JOIN items i ON l.itemId = i.id WHERE i.type = 'Service'",
    ),
    Q(
        "order_totals_match_lines",
        "SELECT o.number, o.totalAmountExcludingTax, SUM(l.amountExcludingTax) FROM salesOrders o JOIN salesOrderLines l ON l.documentId = o.id GROUP BY o.number, o.totalAmountExcludingTax",
    ),
    Q(
        "in_subquery",
        "SELECT number FROM customers WHERE id IN (SELECT customerId FROM salesOrders WHERE status = 'Draft')",
    ),
    Q(
        "left_join_null",
        "SELECT c.number FROM customers c LEFT JOIN salesOrders o ON o.customerId = c.id WHERE o.id IS NULL",
    ),
    Q(
        "gl_by_account",
        "SELECT a.displayName, COUNT(*) FROM generalLedgerEntries g JOIN accounts a ON g.accountId = a.id GROUP BY a.displayName",
    ),
]


def _types(reader: ODataReader) -> dict[str, dict[str, str]]:
    """Entity type -> {property: Edm type}; enum properties are text, streams/collections left out."""
    found: dict[str, dict[str, str]] = {}
    for entity, props in reader.property_types().items():
        kept = {}
        for name, edm in props.items():
            if edm.startswith("Microsoft.NAV."):
                kept[name] = "Edm.String"
            elif edm in SQL_TYPES:
                kept[name] = edm
        found[entity] = kept
    return found


@pytest.fixture(scope="module")
def bc_reference(bc_sandbox: BCSandbox, usa_id: str) -> Iterator[ReferenceEngine]:
    reader = ODataReader(
        bc_sandbox.service_url, token_uri=bc_sandbox.token_uri, client_id=bc_sandbox.client_id,
        client_secret=bc_sandbox.client_secret, scope=bc_sandbox.scope, page_size=None, annotations=False,
    )  # fmt: skip
    try:
        types = _types(reader)
        tables = [
            read_plain_table(reader, name, f"companies({usa_id})/{name}", types[entity])
            for name, entity in TABLES.items()
        ]
    finally:
        reader.close()
    engine = ReferenceEngine(tables, case_insensitive=False)
    yield engine
    engine.close()


def test_the_reference_holds_the_generated_data(bc_reference: ReferenceEngine) -> None:
    assert bc_reference.query("SELECT COUNT(*) FROM customers") == [(300,)]
    assert bc_reference.query("SELECT COUNT(*) FROM generalLedgerEntries") == [(20_500,)]
    assert len({q.id for q in QUERIES}) == len(QUERIES) >= 40


@pytest.mark.parametrize("q", QUERIES, ids=[q.id for q in QUERIES])
def test_query_matches_reference(q: Q, usa: d365conn.Connection, bc_reference: ReferenceEngine) -> None:
    assert usa.company == USA
    report = differences(q, usa, bc_reference)
    assert report is None, report


@pytest.mark.parametrize("q", [q for q in QUERIES if q.remote is not None or q.pushed], ids=lambda q: q.id)
def test_pushdown(q: Q, usa: d365conn.Connection, bc_reference: ReferenceEngine) -> None:
    problems = pushdown_problems(q, usa, bc_reference)
    assert not problems, "\n".join(problems)
