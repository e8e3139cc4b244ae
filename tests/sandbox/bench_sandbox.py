"""Benchmark (not a test): data generation rows/s and 5,000-row pages/s of `account`.

Run: python tests/sandbox/bench_sandbox.py [accounts]   (default 200,000)
The sandbox runs in a child process, as in client benchmarks, and is read with plain `requests`.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import requests

from d365conn.sandbox.datagen import load
from d365conn.sandbox.launcher import Sandbox
from d365conn.sandbox.store import Store
from d365conn.sandbox.tables import build_schema


def generation(rows: int, directory: str) -> None:
    """Generate into `directory`, which the page runs then reuse (same rows and seed)."""
    store = Store(build_schema(), directory)
    started, cpu = time.perf_counter(), time.process_time()
    counts = load(store, rows, 1)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    store.close()
    total = sum(counts.values())
    print(
        f"generation: {rows:,} accounts ({total:,} rows in all) in {seconds:.1f} s = "
        f"{rows / seconds:,.0f} accounts/s, {total / seconds:,.0f} rows/s (CPU {cpu:.1f} s: "
        f"{rows / cpu:,.0f} accounts/s, {total / cpu:,.0f} rows/s)"
    )


def child_cpu_seconds(sandbox: Sandbox) -> float:
    """User + system CPU of the sandbox's child process (Linux /proc), robust to a busy machine."""
    child = sandbox._child
    if child is None:
        return 0.0
    fields = Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pages(rows: int, directory: str, select: str, annotations: bool, limit: int = 40) -> None:
    with Sandbox(rows=rows, seed=1, data_dir=directory, process=True) as sandbox:
        session = requests.Session()
        token = session.post(
            sandbox.token_uri,
            data={
                "grant_type": "client_credentials",
                "client_id": sandbox.client_id,
                "client_secret": sandbox.client_secret,
                "scope": sandbox.scope,
            },
        ).json()["access_token"]
        prefer = "odata.maxpagesize=5000" + (',odata.include-annotations="*"' if annotations else "")
        session.headers.update({"Authorization": f"Bearer {token}", "Prefer": prefer})
        url: str | None = sandbox.service_url + "accounts" + (f"?$select={select}" if select else "")
        count = fetched = size = 0
        serving = parsing = 0.0
        server_cpu = child_cpu_seconds(sandbox)
        while url and count < limit:
            started = time.perf_counter()
            response = session.get(url)
            content = response.content
            middle = time.perf_counter()
            body = json.loads(content)
            parsing += time.perf_counter() - middle
            serving += middle - started
            size += len(content)
            fetched += len(body["value"])
            url = body.get("@odata.nextLink")
            count += 1
        server_cpu = child_cpu_seconds(sandbox) - server_cpu
        label = select or "all columns"
        print(
            f"pages ({label}{', annotations' if annotations else ''}): {count} pages of 5,000, "
            f"{size / count / 1e6:.1f} MB/page: served and received {count / serving:.1f} pages/s "
            f"({fetched / serving:,.0f} rows/s); server CPU per page {server_cpu / count * 1000:.0f} ms "
            f"(= {count / server_cpu:.1f} pages/s per core); the client's json.loads alone "
            f"{count / parsing:.1f} pages/s"
        )


if __name__ == "__main__":
    accounts = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    with tempfile.TemporaryDirectory() as data:
        generation(accounts, data)
        pages(accounts, data, "", False)
        pages(accounts, data, "name,revenue,industrycode,createdon,_primarycontactid_value", False)
        pages(accounts, data, "", True, limit=10)
