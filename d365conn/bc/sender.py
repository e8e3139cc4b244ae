"""Sending row operations to Business Central: ``If-Match`` rules and JSON ``$batch``.

Owns: :class:`BCSender`, the Business Central counterpart of :class:`~d365conn.writes.sender.Sender`
(same contract: operations in, :class:`~d365conn.writes.sender.Outcome` s or exceptions naming the
row out), with Business Central's rules instead of Dataverse's:

- **If-Match**: PATCH and DELETE always carry one. An operation that knows its row's etag sends it
  (a stale one answers 412 ``Request_EntityChanged`` -> ``ConcurrencyError``); otherwise, with
  optimistic concurrency (the default on Business Central) the row's current etag is read first
  (``GET <row>?$select=<key>``) and sent, so a change between that read and the write is caught; with
  ``OptimisticConcurrency=false`` (last writer wins, on request) ``*`` is sent -- Business Central
  refuses a PATCH/DELETE with no If-Match at all.
- No upsert: Business Central's PATCH never creates a row, so MERGE/UPSERT is refused up front.
- Several operations: JSON ``$batch`` of at most 100 requests. Atomic (the default, and every
  ``commit()``): ``Isolation: snapshot``, so a failing row rolls the whole batch back. Otherwise
  (``ContinueOnError``): ``Prefer: odata.continue-on-error`` and every failed row is reported.
- A created row's id comes from the answer body (``id``) or its ``Location`` header.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from d365conn import exceptions as exc
from d365conn.bc.batch import (
    MAX_OPERATIONS,
    BatchAnswerError,
    BatchItem,
    BatchReply,
    batch_request,
    parse_batch_answer,
)
from d365conn.transport.errors import error_from_response
from d365conn.values.jsonpage import loads_exact
from d365conn.writes.ops import Operation
from d365conn.writes.sender import Outcome, Sender, _absent, _concurrency, _with_row

if TYPE_CHECKING:
    from d365conn.transport import Transport

_LOCATION_ID = re.compile(r"\(([0-9a-fA-F-]{36})\)\s*$")


def created_id(document: Any, location: str | None) -> str | None:
    """The id of a created row: the answer's ``id``, else the key at the end of ``Location``."""
    if isinstance(document, dict) and document.get("id"):
        return str(document["id"]).lower()
    match = _LOCATION_ID.search(location or "")
    return match.group(1).lower() if match else None


class BCSender(Sender):
    """Sends operations for one Business Central connection, inside one company.

    ``root`` is the company-scoped root (``.../api/v2.0/companies(<id>)/``) that operation paths are
    appended to; ``batch_url`` is the surface's ``$batch`` (``.../api/v2.0/$batch``).
    """

    def __init__(
        self,
        transport: Transport,
        root: str,
        *,
        batch_url: str,
        batch_size: int = MAX_OPERATIONS,
        optimistic: bool = False,
        deadline: Callable[[], float | None] = lambda: None,
        exists: Callable[[Sequence[Operation]], set[int]] | None = None,
    ) -> None:
        super().__init__(transport, root, batch_size=batch_size, deadline=deadline, exists=exists)
        self.batch_size = max(1, min(batch_size, MAX_OPERATIONS))
        self.batch_url = batch_url
        self.optimistic = optimistic

    # -- If-Match ---------------------------------------------------------------------------------

    def current_etag(self, op: Operation) -> str:
        """The row's etag now (one GET); NotFoundError when the row is gone."""
        # Select only a key column: the answer then carries little besides the etag. (API pages key
        # rows by ``id``, ODataV4 pages by their own key such as ``No``.)
        keys = op.key.columns if op.key is not None else ()
        select = ",".join(c.property or c.name for c in keys) or "id"
        document = self.transport.get_json(
            f"{self.root}{op.path()}?$select={select}", deadline=self.deadline()
        )
        etag = document.get("@odata.etag") if isinstance(document, dict) else None
        if not etag:
            raise exc.InterfaceError(f"{op.describe()}: the service sent no @odata.etag for the row")
        return str(etag)

    def prepared(self, op: Operation) -> Operation:
        """``op`` with the If-Match Business Central requires (see the module docstring)."""
        if op.kind == "upsert":
            raise exc.NotSupportedError(
                "Business Central has no upsert: a PATCH never creates a row; use INSERT, or UPDATE by key"
            )
        if op.kind == "create" or op.if_match not in (None, "*"):
            return op
        if self.optimistic and op.key is not None:
            try:
                return dataclasses.replace(op, if_match=self.current_etag(op))
            except exc.Error as error:
                if _absent(op, error):
                    return dataclasses.replace(op, if_match="*")  # the write then answers 404: 0 rows
                raise
        return dataclasses.replace(op, if_match="*")

    # -- one request ------------------------------------------------------------------------------

    def single(self, op: Operation) -> Outcome:
        original, op = op, self.prepared(op)
        try:
            response = self.transport.send(
                op.method, self.root + op.path(), json_body=op.json_body(), headers=op.headers(),
                idempotent=op.idempotent, deadline=self.deadline(),
            )  # fmt: skip
        except exc.Error as error:
            if _absent(op, error):
                return Outcome(original, 0)
            raise _concurrency(op, error) from None
        entity_id = None
        if op.kind == "create":
            document = loads_exact(response.content) if response.content else None
            entity_id = created_id(document, response.headers.get("Location"))
        return Outcome(original, 1, entity_id)

    # -- batches ----------------------------------------------------------------------------------

    def run(
        self, ops: Sequence[Operation], *, atomic: bool, bulk: bool, check_absent: bool = True
    ) -> list[Outcome]:
        # No bulk actions on Business Central: every chunk is a JSON $batch.
        return super().run(ops, atomic=atomic, bulk=False, check_absent=check_absent)

    def _items(self, chunk: Sequence[Operation]) -> list[BatchItem]:
        return [
            BatchItem(str(i + 1), op.method, self.root + op.path(), op.headers(), op.json_body())
            for i, op in enumerate(chunk)
        ]

    def _send_batch(self, chunk: Sequence[Operation], *, atomic: bool) -> list[BatchReply]:
        headers, body = batch_request(self._items(chunk), atomic=atomic, continue_on_error=not atomic)
        response = self.transport.send(
            "POST",
            self.batch_url,
            json_body=body,
            headers=headers,
            idempotent=False,
            deadline=self.deadline(),
        )
        try:
            return parse_batch_answer(loads_exact(response.content))
        except (BatchAnswerError, ValueError) as problem:
            raise exc.ServiceUnavailableError(
                f"the $batch answer could not be read ({problem}); "
                "the changes may or may not have been applied"
            ) from None

    def _reply_error(self, op: Operation, reply: BatchReply) -> exc.Error:
        error = error_from_response(reply.status, reply.headers, reply.body, method=op.method,
                                    url=self.root + op.path())  # fmt: skip
        return _concurrency(op, error)

    def _outcome(self, original: Operation, op: Operation, reply: BatchReply) -> Outcome:
        entity_id = created_id(reply.document, reply.headers.get("location")) if op.kind == "create" else None
        return Outcome(original, 1, entity_id)

    def _change_set(self, chunk: Sequence[Operation]) -> list[Outcome]:
        prepared = [self.prepared(op) for op in chunk]
        replies = self._send_batch(prepared, atomic=True)
        by_id = {r.id: r for r in replies}
        for i, op in enumerate(prepared):
            reply = by_id.get(str(i + 1))
            if reply is not None and reply.status >= 400:
                first, last = chunk[0].row, chunk[-1].row
                note = f"; the batch (rows {first}-{last}) was rolled back: none of its rows were applied"
                raise _with_row(self._reply_error(op, reply), chunk[i], note)
        if len(replies) != len(chunk):
            raise exc.ServiceUnavailableError(
                f"the $batch answer holds {len(replies)} responses for {len(chunk)} requests; "
                "the changes may or may not have been applied"
            )
        return [self._outcome(chunk[i], op, by_id[str(i + 1)]) for i, op in enumerate(prepared)]

    def _continue_on_error(self, ops: Sequence[Operation]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        failures: list[tuple[int, exc.Error]] = []
        for start in range(0, len(ops), self.batch_size):
            chunk = ops[start : start + self.batch_size]
            prepared = [self.prepared(op) for op in chunk]
            by_id = {r.id: r for r in self._send_batch(prepared, atomic=False)}
            for i, op in enumerate(prepared):
                reply = by_id.get(str(i + 1))
                if reply is None:
                    failures.append(
                        (
                            chunk[i].row,
                            exc.ServiceUnavailableError(
                                f"{chunk[i].describe()}: no answer in the $batch response; it was not applied"
                            ),
                        )
                    )
                elif reply.status < 400:
                    outcomes.append(self._outcome(chunk[i], op, reply))
                else:
                    error = self._reply_error(op, reply)
                    if _absent(op, error):
                        outcomes.append(Outcome(chunk[i], 0))
                    else:
                        failures.append((chunk[i].row, _with_row(error, chunk[i])))
        if failures:
            applied = sum(o.affected for o in outcomes)
            rows = ", ".join(str(r) for r, _ in failures[:20]) + (", ..." if len(failures) > 20 else "")
            raise exc.BatchError(
                f"{len(failures)} of {len(ops)} row(s) failed (rows {rows}); {applied} row(s) were applied. "
                f"First failure: {failures[0][1]}",
                failures=failures, applied=applied, atomic=False,
            )  # fmt: skip
        return outcomes


__all__ = ["BCSender", "created_id"]
