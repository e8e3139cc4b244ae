"""The write path: INSERT, UPDATE, DELETE and upserts as Dataverse Web API requests.

Data flows: SQL -> ``statements``/``upserts`` (pure translation into ``ops.Operation`` s, values
converted by ``values`` and ``columns``) -> ``executor`` (reads of matching keys through the
planner, the transaction queue, results) -> ``sender`` (single requests, ``batch`` multipart
``$batch`` change sets, ``bulk`` actions) -> the transport. See docs/writes.md.
"""

from __future__ import annotations

from .batch import BatchRequest, BatchResponse, parse_batch_response, write_batch
from .executor import WriteExecutor
from .ops import Key, Operation
from .statements import WriteOptions, WriteTemplate, translate

__all__ = [
    "BatchRequest",
    "BatchResponse",
    "Key",
    "Operation",
    "WriteExecutor",
    "WriteOptions",
    "WriteTemplate",
    "parse_batch_response",
    "translate",
    "write_batch",
]
