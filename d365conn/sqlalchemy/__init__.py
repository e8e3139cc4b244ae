"""SQLAlchemy support (2.x and 1.4): the ``d365conn`` dialect (``d365conn.sqlalchemy:D365Dialect``).

``create_engine("d365conn://contoso.crm.dynamics.com/api/data/v9.2/?ClientID=...&ClientSecret=${D365_SECRET}&TenantID=...")``;
see docs/sqlalchemy.md for the URL forms, pandas and Superset. Importing this package needs
SQLAlchemy (``pip install 'd365conn[sqlalchemy]'``). ``bi`` holds what BI tools need beyond
SQLAlchemy (time grains, result type names); ``superset`` is Apache Superset's engine spec, imported
only by Superset (entry point ``superset.db_engine_specs``).
"""

from __future__ import annotations

from sqlalchemy.dialects import registry

from .compiler import D365Compiler, D365IdentifierPreparer, D365TypeCompiler, sqla_type
from .dialect import D365Dialect
from .url import connection_string_from_url

dialect = D365Dialect

# ``d365conn+http://`` / ``d365conn+https://`` are looked up as "d365conn.http" / "d365conn.https".
# setup.cfg declares them as entry points too; registering here covers a source checkout that was
# not reinstalled since.
for _driver in ("http", "https"):
    registry.register(f"d365conn.{_driver}", __name__, "D365Dialect")

__all__ = [
    "D365Compiler",
    "D365Dialect",
    "D365IdentifierPreparer",
    "D365TypeCompiler",
    "connection_string_from_url",
    "dialect",
    "sqla_type",
]
