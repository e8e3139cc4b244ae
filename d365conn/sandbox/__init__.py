"""A local Dataverse-compatible Web API, token service and fault injector (see docs/sandbox.md).

`Sandbox` (in `launcher.py`) is the entry point; it is imported lazily so that the small modules
of this package (e.g. `response`) stay cheap to import on their own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from d365conn.sandbox.launcher import Sandbox

__all__ = ["Sandbox"]


def __getattr__(name: str) -> Any:
    if name == "Sandbox":
        from d365conn.sandbox.launcher import Sandbox

        return Sandbox
    raise AttributeError(name)
