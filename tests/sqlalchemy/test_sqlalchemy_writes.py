"""Core writes through the dialect: insert/update/delete, executemany, and the queued transaction."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from d365conn.sandbox import Sandbox


@pytest.fixture(scope="module")
def write_engine(url_for: Any) -> Iterator[sa.Engine]:
    with Sandbox(rows=30, seed=11) as sb:  # its own sandbox: these tests change rows
        eng = sa.create_engine(url_for(sb))
        yield eng
        eng.dispose()


def count(conn: sa.Connection, pattern: str) -> int:
    return int(
        conn.execute(sa.text("SELECT COUNT(*) FROM account WHERE name LIKE :p"), {"p": pattern}).scalar_one()
    )


def test_insert_update_delete(write_engine: sa.Engine) -> None:
    account = sa.Table("account", sa.MetaData(), autoload_with=write_engine)
    with write_engine.connect() as conn:
        conn.execute(account.insert(), [{"name": f"core {i}", "numberofemployees": i} for i in range(5)])
        assert count(conn, "core %") == 5
        updated = conn.execute(
            sa.update(account).where(account.c.name.like("core %")).values(description="from Core")
        )
        assert updated.rowcount == 5
        described = conn.execute(
            sa.select(sa.func.count()).select_from(account).where(account.c.description == "from Core")
        ).scalar_one()
        assert described == 5
        deleted = conn.execute(sa.delete(account).where(account.c.name.like("core %")))
        assert deleted.rowcount == 5 and count(conn, "core %") == 0


def test_queued_transaction_commits_at_once(write_engine: sa.Engine) -> None:
    account = sa.Table("account", sa.MetaData(), autoload_with=write_engine)
    with write_engine.connect().execution_options(isolation_level="READ COMMITTED") as conn:
        assert conn.get_isolation_level() == "READ COMMITTED"
        conn.execute(account.insert(), [{"name": "queued a"}, {"name": "queued b"}])
        assert count(conn, "queued %") == 0  # held until commit()
        conn.commit()
        assert count(conn, "queued %") == 2
        conn.execute(account.insert(), [{"name": "queued c"}])
        conn.rollback()
        assert count(conn, "queued %") == 2
    with write_engine.connect() as conn:
        assert conn.get_isolation_level() == "AUTOCOMMIT"  # the pooled connection was reset


def test_fetch_and_cte(write_engine: sa.Engine) -> None:
    account = sa.Table("account", sa.MetaData(), autoload_with=write_engine)
    with write_engine.connect() as conn:
        assert len(conn.execute(sa.select(account.c.name).order_by(account.c.name).fetch(3)).all()) == 3
        big = sa.select(account.c.name).where(account.c.revenue > 0).cte("big")
        total = conn.execute(sa.select(sa.func.count()).select_from(big)).scalar_one()
        assert total == conn.execute(sa.text("SELECT COUNT(*) FROM account WHERE revenue > 0")).scalar_one()


def test_orm_reads_updates_and_deletes(write_engine: sa.Engine) -> None:
    from sqlalchemy.orm import DeclarativeBase, Session

    class Base(DeclarativeBase):
        pass

    class Account(Base):
        __table__ = sa.Table("account", Base.metadata, autoload_with=write_engine)

    # Service-computed columns (labels, lookup names, createdon...) are reflected as computed, so
    # the ORM leaves them out of its UPDATE statements.
    computed = {c.name for c in Account.__table__.c if c.computed is not None}
    assert {"industrycodename", "primarycontactidname", "createdon", "versionnumber"} <= computed
    assert "name" not in computed and "accountid" not in computed
    with Session(write_engine) as session:
        rows = session.scalars(sa.select(Account).order_by(Account.name).limit(2)).all()
        assert len(rows) == 2
        first = rows[0]
        first.description = "changed by the ORM"
        session.commit()
        key = first.accountid
        fetched = session.scalar(sa.select(Account.description).where(Account.accountid == key))
        assert fetched == "changed by the ORM"
        session.delete(first)
        session.commit()
        assert (
            session.scalar(sa.select(sa.func.count()).select_from(Account).where(Account.accountid == key))
            == 0
        )


def test_insert_rowcount_survives_the_cursor_close(write_engine: sa.Engine) -> None:
    # SQLAlchemy closes the cursor of an INSERT before it reads rowcount: the dialect keeps it.
    import pandas as pd

    account = sa.Table("account", sa.MetaData(), autoload_with=write_engine)
    with write_engine.connect() as conn:
        many = conn.execute(account.insert(), [{"name": f"rowcount {i}"} for i in range(3)])
        single = conn.execute(account.insert().values(name="rowcount single"))
        assert (many.rowcount, single.rowcount) == (3, 1)
    frame = pd.DataFrame({"name": ["frame a", "frame b", "frame c"]})
    assert frame.to_sql("account", write_engine, if_exists="append", index=False) == 3
    with write_engine.connect() as conn:
        assert count(conn, "rowcount %") == 4 and count(conn, "frame %") == 3
