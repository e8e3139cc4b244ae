"""Micro benchmark: where the time of ``cursor.fetch_arrow_table()`` goes.

A full read of ``account`` from a sandbox in a child process, timed in three parts (medians):

1. ``fetchall()`` -- HTTP pages, JSON parsing and typed decoding into Python tuples (the driver);
2. tuples -> Arrow (``d365conn.arrow``'s column-wise ``pa.array`` per column) on those rows;
   then ``fetch_arrow_table()`` end to end, on the columnar path (pages decoded straight into
   Arrow columns by ``d365conn.values.columnar``) and forced onto the tuple path;
3. for comparison, a columnar decode that skips tuples: the raw page rows (dicts) straight into
   ``pa.Table.from_pylist`` and Arrow casts (strings -> timestamps, numbers -> decimals). This is
   roughly what a columnar hook in the values room could do.

Run: ``python benchmarks/bench_arrow.py [--rows 20000] [--runs 3] [--columns all|narrow]``. Prints.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import requests

import d365conn
from d365conn.arrow import _BatchBuilder, arrow_schema
from d365conn.sandbox import Sandbox

NARROW = "accountid, name, revenue, createdon, numberofemployees, donotemail, address1_latitude"


def median(runs: int, fn: Callable[[], Any]) -> float:
    fn()  # warm-up: pyarrow imports pandas on its first conversion from Python objects (~1 s, once)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--columns", choices=("all", "narrow"), default="narrow")
    args = parser.parse_args()
    select = "*" if args.columns == "all" else NARROW
    sql = f"SELECT {select} FROM account"
    with (
        Sandbox(rows=args.rows, process=True) as sb,
        d365conn.connect(sb.connection_string + "PageSize=5000;") as conn,
    ):
        cur = conn.cursor()
        cur.execute(sql)
        description = cur.description or ()
        rows = cur.fetchall()

        def fetch() -> None:
            cur.execute(sql)
            cur.fetchall()

        def to_arrow() -> None:
            _BatchBuilder(description).build(rows)

        def whole() -> None:
            cur.execute(sql)
            cur.fetch_arrow_table()

        def whole_tuples() -> None:
            cur.execute(sql)
            cur._take_arrow = lambda *args: None  # type: ignore[method-assign]  # force the tuple path
            try:
                cur.fetch_arrow_table()
            finally:
                del cur._take_arrow

        # The columnar comparison: raw page dicts as the service sent them, then Arrow casts.
        token = conn.service.token_source.authorization()
        props = [d[0] for d in description] if select != "*" else None
        url = sb.service_url + "accounts" + (f"?$select={','.join(props)}" if props else "")
        headers = {"Authorization": token, "Accept": "application/json", "Prefer": "odata.maxpagesize=5000"}
        pages: list[list[dict[str, Any]]] = []
        next_url: str | None = url
        while next_url:
            body = requests.get(next_url, headers=headers, timeout=60).json()
            pages.append(body["value"])
            next_url = body.get("@odata.nextLink")
        schema = arrow_schema(description)

        def columnar() -> None:
            for page in pages:
                table = pa.Table.from_pylist(page)
                for field in schema:
                    column = table[field.name] if field.name in table.column_names else None
                    if (
                        column is not None
                        and pa.types.is_string(column.type)
                        and pa.types.is_timestamp(field.type)
                    ):
                        pc.cast(pc.strptime(column, "%Y-%m-%dT%H:%M:%SZ", "us"), field.type)

        t_fetch, t_arrow, t_whole, t_tuples, t_col = (
            median(args.runs, f) for f in (fetch, to_arrow, whole, whole_tuples, columnar)
        )
    n = len(rows)
    print(f"{n} rows x {len(description)} columns ({args.columns}), medians of {args.runs} runs")
    print(f"  fetchall() (HTTP + JSON + typed tuples)   {t_fetch:7.3f} s  {n / t_fetch:10,.0f} rows/s")
    print(
        f"  tuples -> Arrow (d365conn.arrow)          {t_arrow:7.3f} s  ({t_arrow / t_fetch:.0%} of fetchall)"
    )
    print(f"  fetch_arrow_table() end to end (columnar) {t_whole:7.3f} s  {n / t_whole:10,.0f} rows/s")
    print(f"  fetch_arrow_table() via the tuple path    {t_tuples:7.3f} s  {n / t_tuples:10,.0f} rows/s")
    print(f"  columnar from page dicts (no tuples)      {t_col:7.3f} s  (excludes HTTP and JSON parsing)")


if __name__ == "__main__":
    main()
