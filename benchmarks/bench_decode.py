"""Micro benchmark: typed extraction through d365conn's transport versus a bare requests + json loop.

Issue 9, case 1, at the transport level: a full extract of ``account`` (34 columns of every common
Edm type) in 5,000-row pages from a sandbox running in a child process. Each figure is the median
of several runs; the ratio is (baseline time / our time), so above 1.0 means faster than the bare
loop -- which does no type conversion at all (decimals become floats, GUIDs and dates stay strings).

A second table times the decoding of one page in this process only (no network), to show where
the time goes.

Run: ``python benchmarks/bench_decode.py [--rows 200000] [--runs 5]``. Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import requests

import d365conn.values.jsonpage as jsonpage
from d365conn.config import Config
from d365conn.planner.plan import ODataQuery, OutputColumn, Scan
from d365conn.sandbox import Sandbox
from d365conn.transport import Transport, prefer_header, scan_batches, scan_rows
from d365conn.values import PageDecoder, gc_paused, loads_exact, make_row_decoder, split_envelope

COLUMNS = [
    "accountid",
    "name",
    "accountnumber",
    "revenue",
    "revenue_base",
    "exchangerate",
    "creditlimit",
    "address1_latitude",
    "address1_longitude",
    "numberofemployees",
    "versionnumber",
    "createdon",
    "modifiedon",
    "statecode",
    "statuscode",
    "industrycode",
    "customertypecode",
    "donotemail",
    "donotphone",
    "creditonhold",
    "merged",
    "_ownerid_value",
    "_primarycontactid_value",
    "_transactioncurrencyid_value",
    "_parentaccountid_value",
    "address1_city",
    "address1_country",
    "address1_line1",
    "address1_postalcode",
    "telephone1",
    "emailaddress1",
    "websiteurl",
    "description",
    "lastusedincampaign",
]
PAGE = 5000


class StaticToken:
    """A TokenSource over one token fetched up front (the benchmark measures reads, not auth)."""

    def __init__(self, token: str) -> None:
        self.value = f"Bearer {token}"

    def authorization(self) -> str | None:
        return self.value

    def invalidate(self, authorization: str) -> None:
        raise RuntimeError("the benchmark's token was refused")

    def info(self) -> Any:
        return None


def edm_types(service_url: str, headers: dict[str, str]) -> dict[str, str]:
    metadata = requests.get(service_url + "$metadata", headers=headers, timeout=60).text
    start = metadata.find('<EntityType Name="account"')
    end = metadata.find("</EntityType>", start)
    return dict(re.findall(r'<Property Name="([^"]+)" Type="([^"]+)"', metadata[start:end]))


def interleaved(cases: list[tuple[str, Callable[[], int]]], runs: int) -> list[tuple[str, float, float, int]]:
    """Median wall time and client CPU time (all threads of this process) per case.

    The runs go round-robin over the cases so that a busy spell on the (shared, noisy) machine hits
    every case alike. CPU time is the steadier figure when the machine is loaded: wall time then
    mostly measures how much CPU the sandbox process happened to get.
    """
    walls: dict[str, list[float]] = {name: [] for name, _ in cases}
    cpus: dict[str, list[float]] = {name: [] for name, _ in cases}
    rows: dict[str, int] = {}
    failed: set[str] = set()
    for _ in range(runs):
        for name, function in cases:
            if name in failed:
                continue
            started, cpu = time.perf_counter(), time.process_time()
            try:
                rows[name] = function()
            except Exception as problem:  # e.g. the cursor is not complete yet: report, go on
                print(f"{name}: failed: {type(problem).__name__}: {problem}")
                failed.add(name)
                continue
            walls[name].append(time.perf_counter() - started)
            cpus[name].append(time.process_time() - cpu)
    return [
        (name, statistics.median(walls[name]), statistics.median(cpus[name]), rows[name])
        for name, _ in cases
        if name not in failed
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data-dir", default=os.path.expanduser("~/.d365conn/bench"))
    args = parser.parse_args()

    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()} ({sys.platform}), "
          f"msgspec {'yes' if jsonpage.HAVE_MSGSPEC else 'no'}")  # fmt: skip
    print(f"starting a sandbox with {args.rows:,} accounts in a child process...", flush=True)
    with Sandbox(rows=args.rows, process=True, data_dir=args.data_dir) as sandbox:
        token = requests.post(
            sandbox.token_uri, timeout=60,
            data={"grant_type": "client_credentials", "client_id": sandbox.client_id,
                  "client_secret": sandbox.client_secret, "scope": sandbox.scope},
        ).json()["access_token"]  # fmt: skip
        root = sandbox.service_url
        auth = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        types = edm_types(root, auth)
        columns = tuple(OutputColumn(name, types[name], (name,)) for name in COLUMNS)
        scan = Scan("a", "account", ODataQuery("accounts", select=tuple(COLUMNS)), columns)
        url = scan.query.url(root)

        def bare_loop() -> int:
            session = requests.Session()
            headers = {**auth, "OData-MaxVersion": "4.0", "OData-Version": "4.0", **prefer_header(
                annotations=False, page_size=PAGE)}  # fmt: skip
            count, next_url = 0, url
            while next_url:
                body = json.loads(session.get(next_url, headers=headers, timeout=120).content)
                count += len(body["value"])
                next_url = body.get("@odata.nextLink")
            session.close()
            return count

        def typed(fast: bool) -> Callable[[], int]:
            def run() -> int:
                saved = jsonpage.HAVE_MSGSPEC
                jsonpage.HAVE_MSGSPEC = fast and saved
                try:
                    transport = Transport(Config(service_url=root), StaticToken(token))
                    rows = list(scan_rows(transport, root, scan, page_size=PAGE, deadline=None))
                    transport.close()
                    return len(rows)
                finally:
                    jsonpage.HAVE_MSGSPEC = saved

            return run

        def batches_paused() -> int:
            # What a cursor's fetchall() can do: take whole pages, with the cyclic GC paused while
            # the result list grows (no collection walks the rows read so far, again and again).
            transport = Transport(Config(service_url=root), StaticToken(token))
            rows: list[tuple[Any, ...]] = []
            with gc_paused():
                for batch in scan_batches(transport, root, scan, page_size=PAGE, deadline=None):
                    rows.extend(batch)
            transport.close()
            return len(rows)

        def dict_pages() -> int:
            transport = Transport(Config(service_url=root), StaticToken(token))
            count = sum(len(page.rows) for page in transport.iter_pages(url, page_size=PAGE))
            transport.close()
            return count

        def cursor_fetchall() -> int:
            import d365conn

            with d365conn.connect(sandbox.connection_string, WSFetchSize=PAGE) as connection:
                cursor = connection.cursor()
                # SQL names a lookup by its logical name (ownerid), the Web API by _ownerid_value.
                names = [c[1:-6] if c.startswith("_") and c.endswith("_value") else c for c in COLUMNS]
                cursor.execute(f"SELECT {', '.join(names)} FROM account")
                return len(cursor.fetchall())

        bare_loop()  # warm up the server's caches and the sockets
        cases: list[tuple[str, Callable[[], int]]] = [
            ("bare requests + json.loads, no conversion (baseline)", bare_loop),
            ("d365conn scan_rows, typed (msgspec fast path, prefetch)", typed(True)),
            ("d365conn scan_batches, typed, consumed with the GC paused", batches_paused),
            ("d365conn scan_rows, typed (reference json path, prefetch)", typed(False)),
            ("d365conn iter_pages, dict rows, exact decimals, no prefetch", dict_pages),
            ("d365conn cursor.fetchall() (SQL -> plan -> transport)", cursor_fetchall),
        ]
        results = interleaved(cases, args.runs)
        base_wall, base_cpu = results[0][1], results[0][2]
        print(f"\nfull extract: {len(COLUMNS)} columns, {PAGE:,}-row pages, median of {args.runs} runs")
        print("(ratios: baseline / case, so above 1.00x is faster; CPU = this client process, all threads)")
        print(f"{'case':<62} {'rows':>8} {'wall s':>7} {'rows/s':>8} {'ratio':>6} {'CPU s':>6} {'ratio':>6}")
        for name, wall, cpu, rows in results:
            print(
                f"{name:<62} {rows:>8,} {wall:>7.2f} {rows / wall:>8,.0f} {base_wall / wall:>5.2f}x"
                f" {cpu:>6.2f} {base_cpu / cpu:>5.2f}x"
            )
        print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

        body = requests.get(url, headers={**auth, **prefer_header(annotations=False, page_size=PAGE)},
                            timeout=120).content  # fmt: skip
        decode_table(body, columns, args.runs)


def decode_table(body: bytes, columns: tuple[OutputColumn, ...], runs: int) -> None:
    """CPU only: one 5,000-row page decoded several ways in this process."""
    fast = PageDecoder(columns, use_fast=True) if jsonpage.HAVE_MSGSPEC else None
    reference = PageDecoder(columns, use_fast=False)
    row_decoder = make_row_decoder(columns)
    cases: list[tuple[str, Callable[[], object]]] = [
        ("json.loads only (no conversion)", lambda: json.loads(body))
    ]
    try:
        import orjson

        cases.append(("orjson.loads only (no conversion, decimals as float)", lambda: orjson.loads(body)))
    except ImportError:
        pass
    if fast is not None:
        cases.append(
            ("d365conn msgspec: envelope + typed tuples", lambda: fast.decode(split_envelope(body).rows))
        )
    cases.append(("d365conn reference: json(Decimal) + generated row decoder", lambda: reference.decode(
        split_envelope(body, use_fast=False).rows)))  # fmt: skip
    names = [c.name for c in columns]
    cases.append(("json.loads + per-row dict of converted values (naive)", lambda: [
        dict(zip(names, row_decoder(r), strict=True)) for r in loads_exact(body)["value"]]))  # fmt: skip
    results = []
    for name, function in cases:
        times = []
        for _ in range(max(runs, 5)):
            started = time.perf_counter()
            function()
            times.append(time.perf_counter() - started)
        results.append((name, statistics.median(times)))
    base = results[0][1]
    print(f"\ndecode one page in-process ({len(body) / 1e6:.1f} MB, {PAGE:,} rows), median:")
    print(f"{'case':<62} {'ms':>8} {'vs json.loads':>13}")
    for name, seconds in results:
        print(f"{name:<62} {seconds * 1000:>8.1f} {base / seconds:>12.2f}x")


if __name__ == "__main__":
    main()
