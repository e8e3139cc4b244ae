"""Bulk load: executemany() and DataFrame.to_sql() send rows in batches, then clean up.

Run ``python samples/bulk_load.py`` against a sandbox it starts itself. It WRITES: pass a
connection string only for a development org, e.g.
``python samples/bulk_load.py "ServiceURL=https://contoso-dev.crm.dynamics.com/api/data/v9.2/;..."``.
"""

from __future__ import annotations

import decimal
import sys
import time
from urllib.parse import quote

import pandas as pd
import sqlalchemy as sa

import d365conn

PREFIX = "d365conn bulk sample"


def main(connection_string: str) -> None:
    rows = [
        (f"{PREFIX} {i:04d}", decimal.Decimal(i) * 1000 + decimal.Decimal("0.50"), f"BULK-{i:04d}")
        for i in range(1000)
    ]
    with d365conn.connect(connection_string) as conn:
        cur = conn.cursor()
        start = time.perf_counter()
        # One statement, many parameter sets: sent as batched requests (CreateMultiple or $batch).
        cur.executemany("INSERT INTO account (name, revenue, accountnumber) VALUES (?, ?, ?)", rows)
        print(f"executemany: {len(rows)} rows in {time.perf_counter() - start:.2f} s")

        # UPDATE with a WHERE that is not a key: the keys are read first, then rows change in batches.
        cur.execute(
            "UPDATE account SET description = ? WHERE name LIKE ?", ["loaded by the sample", PREFIX + "%"]
        )
        print(f"updated {cur.rowcount} rows")

    # pandas through SQLAlchemy: to_sql appends through the same batched write path.
    engine = sa.create_engine("d365conn:///?ConnectionString=" + quote(connection_string, safe=""))
    frame = pd.DataFrame(
        {
            "name": [f"{PREFIX} frame {i:03d}" for i in range(300)],
            "numberofemployees": pd.array(
                [None if i % 7 == 0 else i * 10 for i in range(300)], dtype="Int32"
            ),
        }
    )
    start = time.perf_counter()
    frame.to_sql("account", engine, if_exists="append", index=False, chunksize=100)
    print(f"to_sql: {len(frame)} rows in {time.perf_counter() - start:.2f} s")
    loaded = pd.read_sql(
        sa.text("SELECT COUNT(*) AS n FROM account WHERE name LIKE :p"), engine, params={"p": PREFIX + "%"}
    )
    print(f"rows now in the table: {int(loaded['n'].iloc[0])}")
    engine.dispose()

    with d365conn.connect(connection_string) as conn:
        cur = conn.cursor()
        cur.execute("DELETE FROM account WHERE name LIKE ?", [PREFIX + "%"])
        print(f"cleaned up: deleted {cur.rowcount} rows")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        from d365conn.sandbox import Sandbox

        with Sandbox(rows=100) as sandbox:
            main(sandbox.connection_string)
