"""SQLAlchemy Core on Dynamics 365: reflection, select() with joins, text() with parameters.

Run ``python samples/sqlalchemy_core.py`` (against a sandbox it starts itself), or pass a
SQLAlchemy URL for your org as the first argument, e.g.
``"d365conn://contoso.crm.dynamics.com/api/data/v9.2/?ClientID=...&ClientSecret=${D365_SECRET}&TenantID=..."``.
Needs ``pip install 'd365conn[sqlalchemy]'``.
"""

from __future__ import annotations

import sys
from urllib.parse import quote

import sqlalchemy as sa


def main(url: str) -> None:
    engine = sa.create_engine(url)

    # Reflection: tables, columns with types, primary keys, and lookups as foreign keys.
    inspector = sa.inspect(engine)
    print("tables:", ", ".join(inspector.get_table_names()))
    print("account key:", inspector.get_pk_constraint("account")["constrained_columns"])
    for fk in inspector.get_foreign_keys("account"):
        if fk["referred_table"] == "contact":
            print("account lookup:", fk["constrained_columns"][0], "->", fk["referred_table"])

    metadata = sa.MetaData()
    account = sa.Table("account", metadata, autoload_with=engine)
    contact = metadata.tables.get("contact")
    if contact is None:
        contact = sa.Table("contact", metadata, autoload_with=engine)

    # select(): a join along the primarycontactid lookup, LIMIT/OFFSET paging.
    query = (
        sa.select(account.c.name, account.c.revenue, contact.c.fullname.label("primary_contact"))
        .join_from(account, contact, account.c.primarycontactid == contact.c.contactid)
        .where(account.c.revenue > 1_000_000)
        .order_by(account.c.revenue.desc())
        .limit(5)
        .offset(5)
    )
    with engine.connect() as conn:
        print("\naccounts 6-10 by revenue:")
        for row in conn.execute(query):
            print(f"  {row.name:<35} {row.revenue:>16,.2f}  {row.primary_contact}")

        count = conn.execute(sa.select(sa.func.count()).select_from(account)).scalar_one()
        print(f"\n{count} accounts")

        # text() with bound parameters: the SQL is read as the driver reads any SQL (T-SQL by default).
        rows = conn.execute(
            sa.text(
                "SELECT TOP 3 fullname, emailaddress1 FROM contact "
                "WHERE lastname LIKE :initial ORDER BY fullname"
            ),
            {"initial": "S%"},
        ).all()
        for fullname, email in rows:
            print(f"  {fullname:<25} {email}")
    engine.dispose()


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        from d365conn.sandbox import Sandbox

        with Sandbox(rows=500) as sandbox:
            # A whole d365conn connection string travels in the URL as ConnectionString=...; for the
            # sandbox's plain-http loopback address the URL form is d365conn+http://127.0.0.1:<port>/...
            main("d365conn:///?ConnectionString=" + quote(sandbox.connection_string, safe=""))
