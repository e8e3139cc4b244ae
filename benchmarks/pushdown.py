"""Case 7 of issue 9: pushdown efficiency -- bytes the service sent versus bytes the answers need.

For each of 30 fixed queries the transport's ``bytes_received`` (response bodies after
decompression, every request of the statement, metadata excluded by warming the catalog first)
is compared with the *needed bytes*: the answer itself written as JSON the way the service writes
rows -- one object per result row, keyed by the result's column names, values as JSON (numbers
bare; strings, GUIDs and dates as strings; no envelope, no annotations, no ``@odata.etag``):
``len(json.dumps(rows, separators=(",", ":")))``. A ratio of 1.0 means nothing was sent that the
answer did not contain; the envelope, etags and key columns Dataverse always adds are overhead.
Queries whose answer is empty are skipped (needed bytes would be 2). Figures: total ratio over the
suite and the worst query.

A third figure separates what the connector controls from what Dataverse always sends: every row
carries ``@odata.etag`` and the table's primary key (asked for or not), and every response an
``@odata.context`` URL; a money column brings its row's ``_transactioncurrencyid_value``. Those
bytes, counted in the response bodies themselves, are subtracted from what was received; the rest
over the needed bytes is the connector's own overhead (columns it fetched but the answer did not
need, rows filtered or joined locally, lookups' annotations).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from typing import Any

import requests

import d365conn
from benchmarks.common import Figure
from d365conn.sandbox import Sandbox

QUERIES = [
    "SELECT name FROM account",
    "SELECT name, revenue FROM account WHERE revenue > 1000000",
    "SELECT accountid, name FROM account WHERE statecode = 0",
    "SELECT TOP 10 name FROM account ORDER BY name",
    "SELECT TOP 100 name, createdon FROM account ORDER BY createdon DESC",
    "SELECT name FROM account WHERE name LIKE 'A%'",
    "SELECT name, address1_city FROM account WHERE address1_city = 'Seattle'",
    "SELECT COUNT(*) AS n FROM account",
    "SELECT statecode, COUNT(*) AS n FROM account GROUP BY statecode",
    "SELECT industrycode, SUM(revenue) AS total FROM account GROUP BY industrycode",
    "SELECT MAX(revenue) AS top_revenue, MIN(revenue) AS low_revenue FROM account",
    "SELECT name FROM account WHERE numberofemployees BETWEEN 100 AND 500",
    "SELECT name FROM account WHERE industrycode IN (1, 2, 3)",
    "SELECT name, telephone1 FROM account WHERE telephone1 IS NOT NULL AND donotphone = 0",
    "SELECT name FROM account WHERE createdon >= '2024-01-01'",
    "SELECT DISTINCT address1_country FROM account",
    "SELECT fullname FROM contact",
    "SELECT fullname, emailaddress1 FROM contact WHERE lastname = 'Smith'",
    "SELECT TOP 50 fullname FROM contact ORDER BY lastname, firstname",
    "SELECT COUNT(*) AS n FROM contact WHERE statecode = 0",
    "SELECT a.name, c.fullname FROM account a JOIN contact c ON a.primarycontactid = c.contactid",
    "SELECT name, primarycontactidname FROM account WHERE primarycontactid IS NOT NULL",
    "SELECT name, industrycodename FROM account WHERE industrycode = 1",
    "SELECT name FROM opportunity",
    "SELECT name, estimatedvalue FROM opportunity WHERE estimatedvalue > 50000",
    "SELECT statecode, AVG(estimatedvalue) AS avg_value FROM opportunity GROUP BY statecode",
    "SELECT name FROM account WHERE revenue > 500000 ORDER BY revenue DESC",
    "SELECT TOP 5 name, revenue FROM account WHERE revenue IS NOT NULL ORDER BY revenue DESC",
    "SELECT name FROM account WHERE upper(name) = 'CONTOSO'",
    "SELECT address1_city, COUNT(*) AS n FROM account GROUP BY address1_city HAVING COUNT(*) > 5",
]


def jsonable(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float(value)  # bare number; the digits are what the service sends
    if isinstance(value, (dt.datetime, dt.date, dt.time, uuid.UUID)):
        if isinstance(value, dt.datetime):
            return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def needed_bytes(names: list[str], rows: list[tuple[Any, ...]]) -> int:
    objects = [{n: jsonable(v) for n, v in zip(names, row, strict=True)} for row in rows]
    return len(json.dumps(objects, separators=(",", ":"), ensure_ascii=False).encode())


#: Primary keys of the tables the suite reads: Dataverse returns them on every row.
PRIMARY_KEYS = ("accountid", "contactid", "opportunityid")


def _pair(name: str, value: Any) -> int:
    """Bytes of one ``"name":value,`` member as the service writes it (compact JSON)."""
    # json.dumps of a one-member object: its braces stand for the comma between members.
    return len(json.dumps({name: value}, separators=(",", ":"), ensure_ascii=False).encode()) - 1


def service_mandated_bytes(body: bytes, answer_columns: list[str]) -> int:
    """Bytes of a response body that Dataverse sends whatever the query: the ``@odata.context`` URL,
    every row's (and expanded row's) ``@odata.etag``, the primary key when the answer does not
    include it, and the ``_transactioncurrencyid_value`` that comes with any money column."""
    try:
        document = json.loads(body)
    except ValueError:
        return 0
    if not isinstance(document, dict):
        return 0
    wanted = {c.lower() for c in answer_columns}
    total = _pair("@odata.context", document["@odata.context"]) if "@odata.context" in document else 0
    rows = document.get("value")
    return total + sum(_row_mandated(row, wanted) for row in rows) if isinstance(rows, list) else total


def _row_mandated(row: Any, wanted: set[str]) -> int:
    """A row's etag, key and currency id, and those of the related rows expanded into it."""
    if not isinstance(row, dict):
        return 0
    total = 0
    for name, value in row.items():
        if name in ("@odata.etag", "_transactioncurrencyid_value", *PRIMARY_KEYS):
            if name not in wanted and name.strip("_").removesuffix("_value") not in wanted:
                total += _pair(name, value)
        elif isinstance(value, dict):  # a single-valued $expand
            total += _row_mandated(value, wanted)
        elif isinstance(value, list):  # a collection-valued $expand
            total += sum(_row_mandated(item, wanted) for item in value)
    return total


def case7(rows: int) -> list[Figure]:
    per_query: list[dict[str, Any]] = []
    total_received = total_needed = total_mandated = 0
    with Sandbox(rows=rows, process=True) as sb, d365conn.connect(sb.connection_string) as conn:
        cur = conn.cursor()
        transport = conn.service.transport
        responses: list[requests.Response] = []
        # The transport reads each body whole and keeps it on the response: collect them to count
        # what in them the service always sends.
        transport.session.hooks["response"].append(lambda r, *args, **kwargs: responses.append(r))
        for sql in QUERIES:
            try:
                cur.execute(sql)  # warm: catalog metadata for the tables is fetched once, not counted
                cur.fetchall()
                before = transport.bytes_received
                responses.clear()
                cur.execute(sql)
                result = cur.fetchall()
                received = transport.bytes_received - before
            except d365conn.Error as problem:
                per_query.append({"sql": sql, "error": f"{type(problem).__name__}: {problem}"[:200]})
                continue
            names = [d[0] for d in cur.description or ()]
            need = needed_bytes(names, result)
            mandated = sum(service_mandated_bytes(r.content, names) for r in responses)
            if not result:
                per_query.append({"sql": sql, "rows": 0, "received": received, "skipped": "empty answer"})
                continue
            total_received += received
            total_needed += need
            total_mandated += mandated
            per_query.append(
                {
                    "sql": sql,
                    "rows": len(result),
                    "received": received,
                    "needed": need,
                    "ratio": round(received / need, 2),
                    "service_mandated": mandated,
                    "ratio_without_mandated": round((received - mandated) / need, 2),
                }
            )
    measured = [q for q in per_query if "ratio" in q]
    worst = max(measured, key=lambda q: q["ratio"])
    ratio = total_received / total_needed
    errors = [q for q in per_query if "error" in q]
    return [
        Figure(
            "7",
            f"pushdown: bytes received / needed, {len(measured)} queries",
            ratio,
            "x",
            target="<= 1.1x",
            met=ratio <= 1.1,
            note=f"{total_received:,} B received for {total_needed:,} B of answers; "
            f"{len(errors)} queries failed",
            extra={"queries": per_query},
        ),
        Figure("7", "pushdown: worst query", worst["ratio"], "x", note=worst["sql"]),
        Figure(
            "7",
            "pushdown: as above, less what Dataverse always sends",
            (total_received - total_mandated) / total_needed,
            "x",
            note=f"{total_mandated:,} B of the received bytes are @odata.context, @odata.etag, primary "
            "keys and money columns' currency ids that the service adds to every response and row",
        ),
    ]
