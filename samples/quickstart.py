"""Quickstart: connect, query with parameters, read typed rows, see what was sent to the service.

Run ``python samples/quickstart.py`` to try it against a sandbox it starts itself (a local
Dataverse-compatible service with generated data), or pass a connection string for your org:
``python samples/quickstart.py "ServiceURL=https://contoso.crm.dynamics.com/api/data/v9.2/;ClientID=...;ClientSecret=${D365_SECRET};TenantID=..."``
"""

from __future__ import annotations

import sys

import d365conn


def main(connection_string: str) -> None:
    with d365conn.connect(connection_string) as conn:
        cur = conn.cursor()

        # ? placeholders take a sequence; the filter and order go to the service as $filter/$orderby.
        cur.execute(
            "SELECT TOP 5 name, address1_city, revenue, createdon FROM account "
            "WHERE statecode = ? AND revenue > ? ORDER BY revenue DESC",
            [0, 1_000_000],
        )
        print("columns:", [d[0] for d in cur.description or ()])
        for name, city, revenue, created in cur.fetchall():
            # revenue is a Decimal (exact money), created an aware UTC datetime.
            print(f"  {name:<35} {city or '-':<15} {revenue:>16,.2f}  {created:%Y-%m-%d}")

        # Joins, GROUP BY and functions the service cannot do run locally on the fetched rows.
        cur.execute(
            "SELECT a.address1_country AS country, COUNT(*) AS accounts, SUM(a.revenue) AS revenue "
            "FROM account a GROUP BY a.address1_country ORDER BY accounts DESC"
        )
        print("accounts by country:")
        for country, count, revenue in cur.fetchmany(5):
            print(f"  {country or '(none)':<20} {count:>5} {revenue or 0:>18,.2f}")

        # EXPLAIN shows the OData requests a statement makes and what runs locally.
        cur.execute("EXPLAIN SELECT name FROM account WHERE address1_city = 'Seattle' ORDER BY name")
        print("plan:")
        for (line,) in cur:
            print("  " + line)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        from d365conn.sandbox import Sandbox

        with Sandbox(rows=500) as sandbox:
            main(sandbox.connection_string)
