"""SQL writes on Business Central: the shared write path, scoped to a company and sent by BCSender.

Owns: :class:`BCWriteExecutor`, the write executor :class:`~d365conn.service.Service` uses on a
Business Central connection. Statements are translated by the shared :mod:`d365conn.writes`
(INSERT, UPDATE and DELETE by key or by WHERE, ``executemany``, queued transactions); what differs:

- the reads a write needs (matching keys, existence checks) run inside the current company;
- requests go to the company-scoped root and follow Business Central's rules (:mod:`.sender`:
  ``If-Match`` always, JSON ``$batch`` of at most 100 with ``Isolation: snapshot``, no upsert).
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from d365conn.bc.batch import MAX_OPERATIONS
from d365conn.bc.sender import BCSender
from d365conn.writes.executor import _TEMPLATE_CACHE, WriteExecutor
from d365conn.writes.statements import WriteOptions, WriteTemplate, translate


class BCWriteExecutor(WriteExecutor):
    """The write path of one Business Central connection."""

    def template(self, sql: str) -> WriteTemplate:
        found = self._templates.get(sql)
        if found is None:
            config = self.service.config
            options = WriteOptions(config.optimistic_concurrency is not False, config.allow_unfiltered_writes)
            found = translate(sql, self.service.catalog, dialect=config.sql_dialect, options=options)
            self._templates[sql] = found
            if len(self._templates) > _TEMPLATE_CACHE:
                self._templates.popitem(last=False)
        else:
            self._templates.move_to_end(sql)
        return found

    def sender(self) -> BCSender:
        service = self.service
        session = service.bc
        if session is None:  # Service creates this executor for Business Central connections only
            raise TypeError("BCWriteExecutor needs a Business Central connection")
        root = service.config.service_root
        return BCSender(
            service.transport, root + session.prefix(), batch_url=root + "$batch",
            batch_size=min(service.config.batch_size, MAX_OPERATIONS),
            optimistic=service.config.optimistic_concurrency is not False,  # BC: etag unless told not to
            deadline=service.transport.statement_deadline, exists=self._existing,
        )  # fmt: skip

    def _read(self, query: exp.Expr) -> tuple[list[str], list[tuple[Any, ...]]]:
        from d365conn.execute import run_plan
        from d365conn.planner import plan_statement

        service = self.service
        plan = plan_statement(
            query, None, service.catalog, service.capabilities, dialect=service.config.sql_dialect,
            page_size=service.config.page_size or None,
        )  # fmt: skip
        if service.bc is not None:
            plan = service.bc.scope(plan)
        columns, rows, close = run_plan(service, plan, deadline=service.transport.statement_deadline())
        try:
            return [c.name for c in columns], list(rows)
        finally:
            close()


__all__ = ["BCWriteExecutor"]
