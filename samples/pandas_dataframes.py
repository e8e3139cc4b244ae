"""pandas and Arrow: DataFrames with the right dtypes, chunked reads, Parquet files.

Run ``python samples/pandas_dataframes.py`` (against a sandbox it starts itself), or pass a
connection string for your org as the first argument. Needs ``pip install 'd365conn[pandas,sqlalchemy]'``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import pyarrow.parquet as pq
import sqlalchemy as sa

import d365conn


def main(connection_string: str) -> None:
    # 1. Straight from a cursor: fetch_df() keeps NULL integers and booleans as <NA> (Int32, boolean),
    #    money as exact Decimal, dates-and-times as datetime64[us, UTC].
    with d365conn.connect(connection_string) as conn:
        cur = conn.cursor()
        cur.execute("SELECT name, revenue, numberofemployees, donotemail, createdon FROM account")
        frame = cur.fetch_df()
        print(frame.dtypes.to_string(), end="\n\n")
        print(frame.nlargest(3, "numberofemployees")[["name", "numberofemployees"]].to_string(index=False))

        # Arrow: the same rows as a pyarrow.Table (decimal128(19, 4) for money), written to Parquet.
        cur.execute("SELECT accountid, name, revenue, createdon FROM account")
        table = cur.fetch_arrow_table()
        path = Path(tempfile.mkdtemp()) / "accounts.parquet"
        pq.write_table(table, path)
        written = pq.read_metadata(path).num_rows
        print(f"\nwrote {written} rows to {path.name}: {table.schema.field('revenue').type}")

    # 2. pandas.read_sql with a SQLAlchemy engine (pandas' supported path: no warning). The whole
    #    connection string can travel in the URL.
    engine = sa.create_engine("d365conn:///?ConnectionString=" + quote(connection_string, safe=""))
    by_city = pd.read_sql(
        sa.text(
            "SELECT address1_city AS city, COUNT(*) AS n FROM account WHERE revenue > :low "
            "GROUP BY address1_city ORDER BY n DESC"
        ),
        engine,
        params={"low": 1_000_000},
    )
    print("\n" + by_city.head(5).to_string(index=False))

    # 3. Large tables in chunks: each chunk is fetched page by page as pandas asks for it.
    total = 0
    for chunk in pd.read_sql("SELECT accountid, revenue FROM account", engine, chunksize=200):
        total += len(chunk)
    print(f"\nread {total} rows in chunks of 200")
    engine.dispose()


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        from d365conn.sandbox import Sandbox

        with Sandbox(rows=500) as sandbox:
            main(sandbox.connection_string)
