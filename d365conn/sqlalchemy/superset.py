"""Apache Superset's engine spec for d365conn: time grains, type names and the SQL reading.

Owns: :class:`D365EngineSpec`. Superset finds it through the ``superset.db_engine_specs`` entry point
(``d365conn = d365conn.sqlalchemy.superset:D365EngineSpec``) and uses it for every database whose
SQLAlchemy URI starts ``d365conn``. Importing this module needs Superset; nothing else imports it.

Without it Superset falls back to its generic spec, under which SQL Lab, datasets and charts without
a time grain work, but: no time grain (a chart by month fails with "No grain spec for P1M"), result
columns are typed ``EDM.STRING``/``EDM.DATETIMEOFFSET`` so SQL Lab does not see temporal columns,
and SQL Lab parses text with sqlglot's generic dialect, which refuses T-SQL's ``TOP`` and ``[name]``.
The spec maps the engine to sqlglot's T-SQL dialect -- the connection's default reading -- unless the
Superset config maps it to something else (``SQLGLOT_DIALECTS_EXTENSIONS = {"d365conn": ...}``, for a
connection with ``SQLDialect=postgres``).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import types
from sqlglot.dialects.dialect import Dialects
from superset.db_engine_specs.base import BaseEngineSpec  # type: ignore[import-not-found,unused-ignore]
from superset.db_engine_specs.exceptions import (  # type: ignore[import-not-found,unused-ignore]
    SupersetDBAPIDatabaseError,
    SupersetDBAPIOperationalError,
    SupersetDBAPIProgrammingError,
)
from superset.sql.parse import SQLGLOT_DIALECTS  # type: ignore[import-not-found,unused-ignore]
from superset.utils.core import GenericDataType  # type: ignore[import-not-found,unused-ignore]

import d365conn

from .bi import EPOCH_SECONDS_TO_DATETIME, TIME_GRAINS, native_type_name

ENGINE = "d365conn"

# setdefault: a mapping from the Superset config (applied when the app starts, before engine specs
# are loaded) wins.
SQLGLOT_DIALECTS.setdefault(ENGINE, Dialects.TSQL)


class D365EngineSpec(BaseEngineSpec):  # type: ignore[misc,unused-ignore]
    """Dynamics 365 / Dataverse / Business Central / OData v4 through d365conn."""

    engine = ENGINE
    engine_name = "Microsoft Dynamics 365 (d365conn)"
    default_driver = "d365conn"
    sqlalchemy_uri_placeholder = (
        "d365conn://<org>.crm.dynamics.com/?TenantID=<tenant>&ClientID=<app id>&ClientSecret=${D365_SECRET}"
    )
    metadata = {  # noqa: RUF012 -- Superset's own class attribute, read only
        "description": "Dynamics 365, Dataverse, Business Central and OData v4 services, read with SQL.",
        "pypi_packages": ["d365conn[sqlalchemy]"],
        "connection_string": sqlalchemy_uri_placeholder,
    }

    _time_grain_expressions = TIME_GRAINS
    column_type_mappings = (  # GUIDs (reflected and in results) are text to Superset
        (re.compile(r"^uniqueidentifier", re.IGNORECASE), types.String(), GenericDataType.STRING),
    )
    max_column_name_length = 128
    # Tables are made in Power Apps, not with CREATE TABLE: Superset's CSV upload cannot work.
    supports_file_upload = False
    # Every request is HTTPS to the service's own host (or a proxy from the connection options).
    disable_ssh_tunneling = True

    @classmethod
    def get_datatype(cls, type_code: Any) -> str | None:
        return native_type_name(type_code)

    @classmethod
    def epoch_to_dttm(cls) -> str:
        return EPOCH_SECONDS_TO_DATETIME

    @classmethod
    def get_dbapi_exception_mapping(cls) -> dict[type[Exception], type[Exception]]:
        return {
            d365conn.OperationalError: SupersetDBAPIOperationalError,
            d365conn.ProgrammingError: SupersetDBAPIProgrammingError,
            d365conn.DatabaseError: SupersetDBAPIDatabaseError,
        }

    @classmethod
    def get_dbapi_mapped_exception(cls, exception: Exception) -> Exception:
        # Superset looks the exact class up; the driver raises subclasses (ThrottledError...).
        for driver_error, superset_error in cls.get_dbapi_exception_mapping().items():
            if isinstance(exception, driver_error):
                mapped: Exception = superset_error(str(exception))
                return mapped
        result: Exception = super().get_dbapi_mapped_exception(exception)
        return result


__all__ = ["ENGINE", "D365EngineSpec"]
