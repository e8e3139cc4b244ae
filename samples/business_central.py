"""Business Central: companies, the standard API v2.0 tables, joins and aggregates done locally.

Run ``python samples/business_central.py`` against a Business Central sandbox it starts itself, or
pass your environment's connection string, e.g.
``"ServiceURL=https://api.businesscentral.dynamics.com/v2.0/<tenant id>/Production/api/v2.0/;
TenantID=<tenant id>;ClientID=...;ClientSecret=${BC_SECRET}"`` (one line), and optionally a company
name as the second argument. App registration and permissions: docs/getting-started.md.
"""

from __future__ import annotations

import sys

import d365conn


def main(connection_string: str, company: str | None = None) -> None:
    with d365conn.connect(connection_string) as conn:
        cur = conn.cursor()
        # Without Company=, the API root answers the company list (and company-independent tables).
        cur.execute("SELECT id, name FROM companies ORDER BY name")
        companies = cur.fetchall()
        print("companies:", ", ".join(name for _, name in companies))
    company = company or companies[0][1]

    # Company= scopes every table to one company (api/v2.0/companies(<id>)/...).
    with d365conn.connect(connection_string + f"Company={{{company}}};") as conn:
        cur = conn.cursor()
        cur.execute(
            "SELECT TOP 5 number, displayName, city, balanceDue FROM customers "
            "WHERE balanceDue > ? ORDER BY balanceDue DESC",
            [1000],
        )
        print(f"\n{company}: customers with the largest balance due")
        for number, name, city, balance in cur.fetchall():
            print(f"  {number:<8} {name:<30} {city or '-':<15} {balance:>12,.2f}")

        # Business Central has no $apply: the join and GROUP BY run locally on the fetched pages.
        cur.execute(
            "SELECT c.displayName AS customer, COUNT(*) AS orders, SUM(o.totalAmountIncludingTax) AS total "
            "FROM salesOrders o JOIN customers c ON c.id = o.customerId "
            "GROUP BY c.displayName ORDER BY total DESC"
        )
        print("\nsales orders per customer (top 3):")
        for customer, orders, total in cur.fetchmany(3):
            print(f"  {customer:<30} {orders:>4} orders {total:>14,.2f}")

        cur.execute("EXPLAIN SELECT number, displayName FROM customers WHERE city = 'Atlanta'")
        print("\nplan:")
        for (line,) in cur:
            print("  " + line)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
    else:
        from d365conn.sandbox.bc import BCSandbox

        with BCSandbox() as sandbox:
            main(sandbox.connection_string)
