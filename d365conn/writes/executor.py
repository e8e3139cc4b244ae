"""Running write statements: statement -> operations -> requests -> rowcount, lastrowid, RETURNING.

Owns: :class:`WriteExecutor`, one per connection, which the service calls for INSERT, UPDATE,
DELETE and MERGE (``execute`` and ``executemany``) and for ``commit()``/``rollback()``.

Data flows: SQL -> :func:`~.statements.translate` (once per statement text, cached) -> for each
parameter set, operations or a read (the planner plans the SELECT of matching keys / source rows,
:func:`~d365conn.execute.run_plan` runs it: WHERE -> ``$filter`` has one translator) -> polymorphic
lookups resolved -> :class:`~.sender.Sender`.

Autocommit on: the operations are sent at once. Autocommit off: they are queued -- creates get a
client-generated primary key so ``lastrowid`` is known and later statements of the transaction can
point lookups at the new row -- and ``commit()`` sends the queue as atomic change sets.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from .. import exceptions as exc
from ..result import ColumnInfo, Result
from .columns import BodyBuilder
from .ops import Key, Operation, PolymorphicRef
from .sender import Outcome, Sender
from .statements import WriteOptions, WriteTemplate, translate

if TYPE_CHECKING:
    from ..service import Service

Params = Sequence[Any] | Mapping[str, Any] | None

_CHECK_CHUNK = 100
_EXPLAIN_OPS = 20
_PER_ROW = {"INSERT": "POST", "UPDATE": "PATCH", "DELETE": "DELETE", "UPSERT": "PATCH (upsert)"}
_TEMPLATE_CACHE = 128


class WriteExecutor:
    """The write path of one connection."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.queue: list[Operation] = []
        self._templates: OrderedDict[str, WriteTemplate] = OrderedDict()
        self._targets: dict[uuid.UUID, str] = {}
        #: The running statement's deadline (StatementTimeout bounds the whole statement, reads included).
        self._deadline: float | None = None

    def _start_statement(self) -> None:
        self._deadline = self.service.transport.statement_deadline()

    # -- statements -----------------------------------------------------------------------------

    def template(self, sql: str) -> WriteTemplate:
        found = self._templates.get(sql)
        if found is None:
            config = self.service.config
            if self.service.kind != "dataverse":
                raise exc.NotSupportedError(
                    f"writes are supported on Dataverse; this connection is to a {self.service.kind} service"
                )
            options = WriteOptions(config.optimistic_concurrency is True, config.allow_unfiltered_writes)
            found = translate(sql, self.service.catalog, dialect=config.sql_dialect, options=options)
            self._templates[sql] = found
            if len(self._templates) > _TEMPLATE_CACHE:
                self._templates.popitem(last=False)
        else:
            self._templates.move_to_end(sql)
        return found

    def execute(self, sql: str, params_list: Sequence[Params], *, autocommit: bool, many: bool) -> Result:
        self._start_statement()
        template = self.template(sql)
        ops = self.operations(template, params_list)
        if not autocommit:
            return self._queue(template, ops)
        config = self.service.config
        atomic = not (many and config.continue_on_error)
        # The bulk-action probe costs a request: asked only when there are several rows.
        bulk = len(ops) > 1 and self._bulk_allowed(template)
        outcomes = self.sender().run(ops, atomic=atomic, bulk=bulk)
        return _result(template, outcomes)

    def operations(self, template: WriteTemplate, params_list: Sequence[Params]) -> list[Operation]:
        ops: list[Operation] = []
        for params in params_list:
            bound = template.bind(params, len(ops))
            ops.extend(bound.operations)
            for source in bound.sources:
                names, rows = self._read(source.query)
                for row in rows:
                    ops.extend(source.make(names, row, len(ops)))
        self._resolve_pending(ops)
        return ops

    def explain(self, sql: str, params: Params) -> list[str]:
        """The requests a write statement would send, without sending any (EXPLAIN)."""
        from ..planner import plan_statement

        service = self.service
        root = service.config.service_root
        template = self.template(sql)
        bound = template.bind(params, 0)
        lines: list[str] = []
        for source in bound.sources:
            plan = plan_statement(
                source.query, None, service.catalog, service.capabilities, dialect=service.config.sql_dialect,
                page_size=service.config.page_size or None,
            )  # fmt: skip
            lines.append("first, read the rows to change:")
            lines.extend("  " + line for line in plan.explain(root))
            lines.append(
                f"then, for each row read: {_PER_ROW[template.kind]} {root}{template.table.entity_set}..."
            )
        for op in bound.operations[:_EXPLAIN_OPS]:
            lines.append(_describe(root, op))
        if len(bound.operations) > _EXPLAIN_OPS:
            lines.append(f"... and {len(bound.operations) - _EXPLAIN_OPS} more")
        count = len(bound.operations)
        if bound.sources or count > 1:
            size = service.config.batch_size
            how = f"$batch change sets of up to {size} requests (each atomic)"
            if template.kind in ("INSERT", "UPSERT") and service.config.use_bulk_actions != "false":
                how += "; CreateMultiple/UpsertMultiple instead where the table supports them"
            lines.append(f"sent as: {how}")
        elif count == 1:
            lines.append("sent as: one request")
        else:
            lines.append("sent as: nothing (no row is addressed)")
        return lines

    def sender(self) -> Sender:
        service = self.service
        return Sender(
            service.transport, service.config.service_root, batch_size=service.config.batch_size,
            deadline=lambda: self._deadline, exists=self._existing,
        )  # fmt: skip

    def _bulk_allowed(self, template: WriteTemplate) -> bool:
        choice = self.service.config.use_bulk_actions
        if choice == "false" or template.kind not in ("INSERT", "UPSERT"):
            return False
        if choice == "true":
            return True
        probe = getattr(self.service.catalog, "supports_bulk_actions", None)
        return bool(template.table.bulk_actions or (probe is not None and probe(template.table.name)))

    # -- reads the write path needs ---------------------------------------------------------------

    def _read(self, query: exp.Expr) -> tuple[list[str], list[tuple[Any, ...]]]:
        from ..execute import run_plan
        from ..planner import plan_statement

        service = self.service
        plan = plan_statement(
            query, None, service.catalog, service.capabilities, dialect=service.config.sql_dialect,
            page_size=service.config.page_size or None,
        )  # fmt: skip
        columns, rows, close = run_plan(service, plan, deadline=self._deadline)
        try:
            return [c.name for c in columns], list(rows)
        finally:
            close()

    def _existing(self, ops: Sequence[Operation]) -> set[int]:
        """Positions (in ``ops``) of the operations whose key addresses an existing row."""
        from ..planner.values import to_sql_node

        found: set[int] = set()
        groups: dict[tuple[str, tuple[str, ...]], list[tuple[int, Key]]] = {}
        for i, op in enumerate(ops):
            if op.key is not None:
                names = tuple(c.name for c in op.key.columns)
                groups.setdefault((op.table.name, names), []).append((i, op.key))
        for (table_name, names), keyed in groups.items():
            for start in range(0, len(keyed), _CHECK_CHUNK):
                chunk = keyed[start : start + _CHECK_CHUNK]
                tests: list[exp.Expr] = []
                for _i, key in chunk:
                    parts = [
                        exp.EQ(this=exp.column(n), expression=to_sql_node(v))
                        for n, v in zip(names, key.values, strict=True)
                    ]
                    tests.append(exp.and_(*parts) if len(parts) > 1 else parts[0])
                query = exp.select(*[exp.column(n) for n in names]).from_(table_name).where(exp.or_(*tests))
                _, rows = self._read(query)
                present = {tuple(_norm(v) for v in row) for row in rows}
                found.update(i for i, key in chunk if tuple(_norm(v) for v in key.values) in present)
        return found

    def _resolve_pending(self, ops: Sequence[Operation]) -> None:
        """Point polymorphic lookups given without ``<name>type`` at the one table holding the GUID."""
        for op in ops:
            if not op.pending:
                continue
            builder = BodyBuilder(self.service.catalog, op.table)
            for ref in op.pending:
                target = self._target_of(ref, builder)
                name, value = builder.bind_entry(ref.column, target, ref.guid)
                op.body[name] = value
            op.pending = ()

    def _target_of(self, ref: PolymorphicRef, builder: BodyBuilder) -> str:
        known = self._targets.get(ref.guid)
        if known is not None and known in ref.column.targets:
            return known
        service = self.service
        holders = []
        for target in ref.column.targets:
            table = service.catalog.find_table(target)
            if table is None or len(table.primary_key) != 1:
                continue
            path = f"{builder.entity_set(target)}({ref.guid})?$select={table.primary_key[0]}"
            url = service.config.service_root + path
            try:
                service.transport.get_json(url, deadline=self._deadline)
            except exc.NotFoundError:
                continue
            holders.append(target)
        if len(holders) != 1:
            where = " and ".join(holders) if holders else " nor ".join(ref.column.targets)
            found = "both" if holders else "neither"
            raise exc.DataError(
                f"{ref.column.name} = {ref.guid}: {found} {where} {'hold' if holders else 'holds'} that id; "
                f"name the target with {ref.column.name}type"
            )
        self._targets[ref.guid] = holders[0]
        return holders[0]

    # -- transactions ----------------------------------------------------------------------------

    def _queue(self, template: WriteTemplate, ops: list[Operation]) -> Result:
        last_id: uuid.UUID | None = None
        for op in ops:
            if op.kind == "create":
                last_id = _assign_key(op) or last_id
        base = len(self.queue)
        for i, op in enumerate(ops):
            op.row = base + i
        self.queue.extend(ops)
        ids = [
            op.body.get(op.table.primary_key[0]) for op in ops if op.kind == "create" and op.table.primary_key
        ]
        rows = [(uuid.UUID(str(i)),) for i in ids if i is not None]
        return _result_rows(template, len(ops), last_id, rows)

    def pending(self) -> int:
        return len(self.queue)

    def commit(self) -> None:
        ops, self.queue = self.queue, []
        self._start_statement()
        if ops:
            # A transaction is atomic per change set; rows must all apply, so no "absent" pre-check.
            self.sender().run(ops, atomic=True, bulk=False, check_absent=False)

    def rollback(self) -> None:
        self.queue = []


def _describe(root: str, op: Operation) -> str:
    from ..transport import encode_json

    text = f"{op.method} {root}{op.path()}"
    text += "".join(f" {name}: {value}" for name, value in op.headers().items())
    body = op.json_body()
    if body:
        shown = encode_json(body).decode("utf-8")
        text += " " + (shown if len(shown) <= 300 else shown[:297] + "...")
    if op.pending:
        names = ", ".join(ref.column.name for ref in op.pending)
        text += f" (target table of {names} found by looking the id up first)"
    return text


def _assign_key(op: Operation) -> uuid.UUID | None:
    pk = op.table.primary_key
    if len(pk) != 1:
        return None
    col = op.table.column(pk[0])
    if col is None or col.edm_type != "Edm.Guid" or not col.insertable:
        return None
    prop = col.property or col.name
    if op.body.get(prop) is None:
        op.body[prop] = str(uuid.uuid4())
    return uuid.UUID(str(op.body[prop]))


def _norm(value: object) -> object:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str):
        return value.casefold()  # Dataverse compares keys case-insensitively
    return value


def _result(template: WriteTemplate, outcomes: Sequence[Outcome]) -> Result:
    affected = sum(o.affected for o in outcomes)
    ids = [o.entity_id for o in outcomes if o.affected and o.entity_id]
    last = uuid.UUID(ids[-1]) if ids and template.kind in ("INSERT", "UPSERT") else None
    rows = [
        (uuid.UUID(o.entity_id),) for o in outcomes if o.op.kind == "create" and o.affected and o.entity_id
    ]
    return _result_rows(template, affected, last, rows)


def _result_rows(
    template: WriteTemplate, count: int, last: uuid.UUID | None, rows: list[tuple[Any, ...]]
) -> Result:
    if template.returning:
        columns = [ColumnInfo(c.name, "Edm.Guid", 36, None, None, None, False) for c in template.returning]
        width = len(columns)
        return Result(columns=columns, rows=iter([r * width for r in rows]), rowcount=count, lastrowid=last)
    return Result(rowcount=count, lastrowid=last)


__all__ = ["WriteExecutor"]
