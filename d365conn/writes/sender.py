"""Sending row operations: one request, ``$batch`` change sets, continue-on-error batches, bulk actions.

Owns: :class:`Sender`, which turns :class:`~.ops.Operation` s into requests through the transport and
their answers into :class:`Outcome` s (rows affected, created ids) or exceptions that name the row.

- One operation: one request. A 404 on an UPDATE/DELETE by key, or a 412 on an "insert if absent",
  is "no row matched" (0 rows), as in SQL.
- Several, atomic (the default, and every ``commit()``): chunks of ``BatchSize`` (at most 1,000), each
  one change set in one ``$batch``. A failing row rolls its whole change set back; chunks already sent
  stay applied and the error says how many rows that is. Rows that may legitimately be absent are
  checked with one read per 100 keys first, so a missing row does not abort a change set.
- Several, ``ContinueOnError``: each chunk's requests as separate parts with
  ``Prefer: odata.continue-on-error``; every failed row is collected into one ``BatchError``.
- Bulk actions (CreateMultiple/UpsertMultiple) replace ``$batch`` where the table has them and the
  rows carry no conditions; each call is atomic.

A ``$batch`` or bulk call is a POST: it is never repeated after a lost answer (see :mod:`.ops`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import exceptions as exc
from ..transport.client import encode_json
from ..transport.errors import error_from_response
from ..values.jsonpage import loads_exact
from .batch import BatchFormatError, BatchRequest, BatchResponse, parse_batch_response, write_batch
from .bulk import bulk_action_for, bulk_request, created_ids
from .ops import Operation

if TYPE_CHECKING:
    from ..transport import Transport

_ENTITY_ID = re.compile(r"\(([^()]*)\)\s*$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass
class Outcome:
    """What happened to one operation."""

    op: Operation
    affected: int
    #: The row's id from ``OData-EntityId`` (or a bulk answer), when the service sent one.
    entity_id: str | None = None


def id_from_entity_url(url: str | None) -> str | None:
    """``https://.../accounts(<guid>)`` -> ``<guid>``; None for alternate-key URLs or nothing."""
    if not url:
        return None
    match = _ENTITY_ID.search(url.strip())
    if match is None or not _GUID.match(match.group(1)):
        return None
    return match.group(1).lower()


def _with_row(error: exc.Error, op: Operation, note: str = "") -> exc.Error:
    error.message = f"{op.describe()}: {error.message}{note}"
    error.args = (error.message,)
    error.row = op.row
    return error


def _absent(op: Operation, error: exc.Error) -> bool:
    """Whether the error only says "no row matched" for an operation where that is allowed."""
    if not op.absent_ok:
        return False
    if op.if_none_match is not None:
        return error.status == 412 or isinstance(error, exc.DuplicateRecordError)
    return isinstance(error, exc.NotFoundError) and error.status == 404


def _concurrency(op: Operation, error: exc.Error) -> exc.Error:
    if op.if_match not in (None, "*") and (error.status == 412 or isinstance(error, exc.ConcurrencyError)):
        return exc.ConcurrencyError(
            f"the row changed since it was read (If-Match {op.if_match} no longer matches): {error.message}",
            status=error.status, code=error.code, request_id=error.request_id,
        )  # fmt: skip
    return error


def rows_failed(
    failures: list[tuple[int, exc.Error]], outcomes: Sequence[Outcome], total: int
) -> exc.BatchError:
    """The error for a continue-on-error batch in which some rows failed and the others applied."""
    applied = sum(o.affected for o in outcomes)
    rows = ", ".join(str(r) for r, _ in failures[:20]) + (", ..." if len(failures) > 20 else "")
    return exc.BatchError(
        f"{len(failures)} of {total} row(s) failed (rows {rows}); {applied} row(s) were applied. "
        f"First failure: {failures[0][1]}",
        failures=failures, applied=applied, atomic=False,
    )  # fmt: skip


class Sender:
    """Sends operations for one connection."""

    def __init__(
        self,
        transport: Transport,
        service_root: str,
        *,
        batch_size: int = 1000,
        deadline: Callable[[], float | None] = lambda: None,
        exists: Callable[[Sequence[Operation]], set[int]] | None = None,
    ) -> None:
        self.transport = transport
        self.root = service_root
        self.batch_size = max(1, min(batch_size, 1000))
        self.deadline = deadline
        #: Reads which of the given operations' rows exist (returns their positions).
        self.exists = exists

    # -- one request ----------------------------------------------------------------------------

    def single(self, op: Operation) -> Outcome:
        body = op.json_body()
        try:
            response = self.transport.send(
                op.method, self.root + op.path(), json_body=body, headers=op.headers(),
                idempotent=op.idempotent, deadline=self.deadline(),
            )  # fmt: skip
        except exc.Error as error:
            if _absent(op, error):
                return Outcome(op, 0)
            raise _concurrency(op, error) from None
        return Outcome(op, 1, id_from_entity_url(response.headers.get("OData-EntityId")))

    # -- many -------------------------------------------------------------------------------------

    def run(
        self, ops: Sequence[Operation], *, atomic: bool, bulk: bool, check_absent: bool = True
    ) -> list[Outcome]:
        """Send ``ops`` in order. ``atomic``: change sets (else continue-on-error)."""
        if len(ops) == 1 and atomic:
            return [self.single(ops[0])]
        outcomes: list[Outcome] = []
        todo = list(ops)
        if atomic and check_absent:
            todo = self._drop_absent(todo, outcomes)
        if not atomic:
            return outcomes + self._continue_on_error(todo)
        applied = 0
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start : start + self.batch_size]
            action = bulk_action_for(chunk) if bulk else None
            try:
                done = self._bulk(action, chunk) if action else self._change_set(chunk)
            except exc.Error as error:
                if applied:
                    error.message += f" ({applied} row(s) of earlier batches were applied and stay applied)"
                    error.args = (error.message,)
                error.applied = applied
                raise
            applied += sum(o.affected for o in done)
            outcomes.extend(done)
        return sorted(outcomes, key=lambda o: o.op.row)

    def _drop_absent(self, ops: list[Operation], outcomes: list[Outcome]) -> list[Operation]:
        """Leave out rows that are absent (update/delete) or present (insert-if-absent): 0 rows each."""
        candidates = [op for op in ops if op.absent_ok and not op.verified and op.key is not None]
        if not candidates or self.exists is None:
            return ops
        found = self.exists(candidates)
        skip = set()
        for i, op in enumerate(candidates):
            present = i in found
            if present == (op.if_none_match is not None):
                skip.add(id(op))
                outcomes.append(Outcome(op, 0))
        return [op for op in ops if id(op) not in skip]

    def _post_batch(
        self, items: Sequence[BatchRequest | Sequence[BatchRequest]], prefer: str | None
    ) -> list[BatchResponse]:
        content_type, body = write_batch(items)
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        if prefer:
            headers["Prefer"] = prefer
        response = self.transport.send(
            "POST",
            self.root + "$batch",
            body=body,
            headers=headers,
            idempotent=False,
            deadline=self.deadline(),
        )
        try:
            return parse_batch_response(response.headers.get("Content-Type", ""), response.content)
        except BatchFormatError as problem:
            raise exc.ServiceUnavailableError(
                f"the $batch answer could not be read ({problem}); "
                "the changes may or may not have been applied"
            ) from None

    def _request(self, op: Operation, content_id: str | None) -> BatchRequest:
        body = op.json_body()
        return BatchRequest(
            op.method, self.root + op.path(), op.headers(),
            encode_json(body) if body is not None else None, content_id,
        )  # fmt: skip

    def _error(self, op: Operation, part: BatchResponse) -> exc.Error:
        error = error_from_response(part.status, part.headers, part.body, method=op.method,
                                    url=self.root + op.path(), reason=part.reason)  # fmt: skip
        return _concurrency(op, error)

    def _change_set(self, chunk: Sequence[Operation]) -> list[Outcome]:
        requests = [self._request(op, str(i + 1)) for i, op in enumerate(chunk)]
        parts = self._post_batch([requests], None)
        failed = [p for p in parts if p.status >= 400]
        if failed:
            part = failed[0]
            index = int(part.content_id) - 1 if part.content_id and part.content_id.isdigit() else None
            first, last = chunk[0].row, chunk[-1].row
            note = f"; the change set (rows {first}-{last}) was rolled back: none of its rows were applied"
            if index is not None and 0 <= index < len(chunk):
                raise _with_row(self._error(chunk[index], part), chunk[index], note)
            error = self._error(chunk[0], part)
            error.message = f"a row among rows {first}-{last} failed: {error.message}{note}"
            error.args = (error.message,)
            raise error
        if len(parts) != len(chunk):
            raise exc.ServiceUnavailableError(
                f"the $batch answer holds {len(parts)} responses for {len(chunk)} requests; "
                "the changes may or may not have been applied"
            )
        by_id = {p.content_id: p for p in parts}
        return [
            Outcome(
                op, 1, id_from_entity_url((by_id.get(str(i + 1)) or parts[i]).headers.get("odata-entityid"))
            )
            for i, op in enumerate(chunk)
        ]

    def _continue_on_error(self, ops: Sequence[Operation]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        failures: list[tuple[int, exc.Error]] = []
        for start in range(0, len(ops), self.batch_size):
            chunk = ops[start : start + self.batch_size]
            parts = self._post_batch([self._request(op, None) for op in chunk], "odata.continue-on-error")
            if len(parts) != len(chunk):
                raise exc.ServiceUnavailableError(
                    f"the $batch answer holds {len(parts)} responses for {len(chunk)} requests "
                    "(the service stopped early?); rows after the last answered one were not applied"
                )
            for op, part in zip(chunk, parts, strict=True):
                if part.status < 400:
                    outcomes.append(Outcome(op, 1, id_from_entity_url(part.headers.get("odata-entityid"))))
                    continue
                error = self._error(op, part)
                if _absent(op, error):
                    outcomes.append(Outcome(op, 0))
                else:
                    failures.append((op.row, _with_row(error, op)))
        if failures:
            raise rows_failed(failures, outcomes, len(ops))
        return outcomes

    def _bulk(self, action: str, chunk: Sequence[Operation]) -> list[Outcome]:
        path, body = bulk_request(action, chunk)
        try:
            response = self.transport.send(
                "POST", self.root + path, json_body=body, idempotent=False, deadline=self.deadline()
            )
        except exc.Error as error:
            first, last = chunk[0].row, chunk[-1].row
            error.message = (
                f"{action} of rows {first}-{last} failed; none of them was applied: {error.message}"
            )
            error.args = (error.message,)
            raise
        document: Any = loads_exact(response.content) if response.content else None
        ids = created_ids(action, document, len(chunk))
        return [Outcome(op, 1, i) for op, i in zip(chunk, ids, strict=True)]


__all__ = ["Outcome", "Sender", "id_from_entity_url"]
