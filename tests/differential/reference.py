"""The reference engine: DuckDB, in process, loaded with the service's rows read out independently.

Owns: which columns of which tables the differential queries may use (``DATAVERSE_TABLES``), turning
the JSON rows that :class:`~differential.odata_reader.ODataReader` returns into typed SQL rows named the
way d365conn names them, and running a query's reference SQL under the service's semantics.

Naming (the TDS-endpoint convention of ``d365conn/catalog/model.py``): a lookup ``x`` is the GUID of
``_x_value`` plus ``xname`` (its FormattedValue annotation) and, when polymorphic, ``xtype`` (its
``lookuplogicalname`` annotation); a choice ``x`` is its integer plus ``xname`` (its label). Column types
come from the service's own ``$metadata``: Edm.Guid -> UUID, Decimal -> DECIMAL(38,10), Double -> DOUBLE,
DateTimeOffset -> TIMESTAMPTZ (session time zone UTC), Date -> DATE, Int* -> INTEGER/BIGINT.

Semantics, so that the reference answers what the service would:
- Dataverse compares strings case-insensitively (SQL Server ``_CI`` collations). The reference sets
  DuckDB's ``default_collation = 'nocase'`` (=, <>, <, IN, joins, GROUP BY, DISTINCT, ORDER BY, set
  operations) and, because DuckDB's LIKE ignores collations, rewrites ``LIKE`` to ``ILIKE``. A plain
  OData v4 server such as CAP on SQLite compares binary, so its reference keeps the binary collation.
- NULLs sort as the lowest value (first ascending, last descending) on both: SQL Server does so, and
  so do the OData v4 URL conventions; DuckDB's ``default_null_order`` is set to match.
- Dataverse orders GUIDs as SQL Server orders ``uniqueidentifier`` (bytes 10-15, 8-9, 6-7, 4-5, 0-3),
  not as DuckDB orders UUIDs: with ``sqlserver_guids=True`` an ORDER BY key (or ordinal) that is a GUID
  column is rewritten to the ``sqlguid()`` sort key.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp

from differential.odata_reader import ODataReader

FORMATTED = "@OData.Community.Display.V1.FormattedValue"
LOOKUP_TABLE = "@Microsoft.Dynamics.CRM.lookuplogicalname"

#: Edm type -> (DuckDB column type, arrow staging type).
SQL_TYPES: dict[str, tuple[str, pa.DataType]] = {
    "Edm.Guid": ("UUID", pa.string()),
    "Edm.String": ("VARCHAR", pa.string()),
    "Edm.Int16": ("SMALLINT", pa.int16()),
    "Edm.Int32": ("INTEGER", pa.int32()),
    "Edm.Int64": ("BIGINT", pa.int64()),
    "Edm.Decimal": ("DECIMAL(38,10)", pa.decimal128(38, 10)),
    "Edm.Double": ("DOUBLE", pa.float64()),
    "Edm.Boolean": ("BOOLEAN", pa.bool_()),
    "Edm.DateTimeOffset": ("TIMESTAMPTZ", pa.timestamp("us", tz="UTC")),
    "Edm.Date": ("DATE", pa.date32()),
}


@dataclass(frozen=True)
class TableSpec:
    """The columns of one table that the queries use, by role (space-separated logical names)."""

    entity_set: str
    plain: str
    choices: str = ""
    lookups: str = ""
    polymorphic: str = ""

    def properties(self) -> list[str]:
        """The OData properties to ``$select``."""
        lookups = self.lookups.split() + self.polymorphic.split()
        return self.plain.split() + self.choices.split() + [f"_{name}_value" for name in lookups]


DATAVERSE_TABLES: dict[str, TableSpec] = {
    "account": TableSpec(
        "accounts",
        "accountid name accountnumber address1_city address1_country address1_stateorprovince "
        "address1_postalcode emailaddress1 telephone1 websiteurl description revenue creditlimit "
        "exchangerate numberofemployees address1_latitude address1_longitude creditonhold donotemail "
        "createdon modifiedon lastusedincampaign versionnumber",
        choices="industrycode accountcategorycode customertypecode ownershipcode preferredcontactmethodcode "
        "statecode statuscode",
        lookups="primarycontactid parentaccountid transactioncurrencyid createdby modifiedby owninguser "
        "owningteam owningbusinessunit",
        polymorphic="ownerid",
    ),
    "contact": TableSpec(
        "contacts",
        "contactid firstname lastname fullname emailaddress1 telephone1 jobtitle address1_city "
        "address1_country birthdate annualincome exchangerate createdon donotemail creditonhold",
        choices="gendercode familystatuscode statecode statuscode",
        lookups="accountid transactioncurrencyid owninguser createdby",
        polymorphic="parentcustomerid ownerid",
    ),
    "opportunity": TableSpec(
        "opportunities",
        "opportunityid name estimatedvalue actualvalue budgetamount estimatedclosedate actualclosedate "
        "closeprobability createdon description",
        choices="statecode statuscode salesstage prioritycode opportunityratingcode purchasetimeframe",
        lookups="parentaccountid parentcontactid transactioncurrencyid owninguser",
        polymorphic="customerid ownerid",
    ),
    "systemuser": TableSpec(
        "systemusers",
        "systemuserid fullname firstname lastname domainname internalemailaddress title isdisabled createdon",
        choices="accessmode",
        lookups="businessunitid parentsystemuserid",
    ),
    "transactioncurrency": TableSpec(
        "transactioncurrencies",
        "transactioncurrencyid currencyname isocurrencycode currencysymbol exchangerate currencyprecision",
        choices="statecode statuscode",
    ),
    "team": TableSpec(
        "teams",
        "teamid name isdefault createdon",
        choices="teamtype",
        lookups="businessunitid administratorid",
    ),
    "businessunit": TableSpec(
        "businessunits",
        "businessunitid name divisionname address1_city",
        lookups="parentbusinessunitid transactioncurrencyid",
    ),
}


def convert(edm_type: str, value: Any) -> Any:
    """A JSON value of ``edm_type`` as the Python value PEP 249 rows carry."""
    if value is None:
        return None
    if edm_type == "Edm.Guid":
        return uuid.UUID(value)
    if edm_type == "Edm.Decimal":
        return Decimal(value) if not isinstance(value, float) else Decimal(repr(value))
    if edm_type == "Edm.Double":
        return float(value)
    if edm_type in ("Edm.Int16", "Edm.Int32", "Edm.Int64"):
        return int(value)
    if edm_type == "Edm.Boolean":
        if not isinstance(value, bool):
            raise ValueError(f"not a JSON boolean: {value!r}")
        return value
    if edm_type == "Edm.DateTimeOffset":
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)
    if edm_type == "Edm.Date":
        return date.fromisoformat(value)
    if edm_type == "Edm.String":
        if not isinstance(value, str):
            raise ValueError(f"not a JSON string: {value!r}")
        return value
    raise ValueError(f"no conversion for {edm_type}")


@dataclass
class LoadedTable:
    """One table of the reference: SQL column names and types, and the typed rows."""

    name: str
    entity_set: str
    columns: list[str]
    edm_types: list[str]
    rows: list[tuple[Any, ...]]


def read_dataverse_table(
    reader: ODataReader, name: str, spec: TableSpec, edm: Mapping[str, str]
) -> LoadedTable:
    """Read every row of one Dataverse table and name its columns the TDS way."""
    columns: list[str] = []
    types: list[str] = []
    getters: list[tuple[str, str]] = []  # (JSON key, Edm type of the value)
    for prop in spec.plain.split():
        columns.append(prop)
        types.append(edm[prop])
        getters.append((prop, edm[prop]))
    for prop in spec.choices.split():
        columns += [prop, prop + "name"]
        types += [edm[prop], "Edm.String"]
        getters += [(prop, edm[prop]), (prop + FORMATTED, "Edm.String")]
    for prop in spec.lookups.split() + spec.polymorphic.split():
        key = f"_{prop}_value"
        columns += [prop, prop + "name"]
        types += [edm[key], "Edm.String"]
        getters += [(key, edm[key]), (key + FORMATTED, "Edm.String")]
        if prop in spec.polymorphic.split():
            columns.append(prop + "type")
            types.append("Edm.String")
            getters.append((key + LOOKUP_TABLE, "Edm.String"))
    rows: list[tuple[Any, ...]] = []
    for raw in reader.rows(spec.entity_set, spec.properties()):
        row = tuple(convert(edm_type, raw.get(key)) for key, edm_type in getters)
        for (key, _), value in zip(getters, row, strict=False):
            # An annotation must be present exactly when the value it describes is (choices, lookups).
            if key.endswith((FORMATTED, LOOKUP_TABLE)):
                base = key.split("@", 1)[0]
                if (raw.get(base) is None) != (value is None):
                    raise AssertionError(f"{name}.{key}: annotation {value!r} for value {raw.get(base)!r}")
        rows.append(row)
    return LoadedTable(name, spec.entity_set, columns, types, rows)


def read_plain_table(reader: ODataReader, name: str, entity_set: str, edm: Mapping[str, str]) -> LoadedTable:
    """Read every row and every property of a plain OData v4 entity set (names as the service has them)."""
    columns = list(edm)
    types = [edm[c] for c in columns]
    rows = [
        tuple(convert(t, raw.get(c)) for c, t in zip(columns, types, strict=False))
        for raw in reader.rows(entity_set, columns)
    ]
    return LoadedTable(name, entity_set, columns, types, rows)


class ReferenceEngine:
    """DuckDB holding the loaded tables, answering queries with the service's semantics."""

    def __init__(
        self, tables: Iterable[LoadedTable], *, case_insensitive: bool, sqlserver_guids: bool = False
    ) -> None:
        self.case_insensitive = case_insensitive
        self.sqlserver_guids = sqlserver_guids
        self.db = duckdb.connect()
        self.db.execute("SET TimeZone = 'UTC'")
        self.db.execute("SET default_null_order = 'nulls_first_on_asc_last_on_desc'")
        if case_insensitive:
            self.db.execute("SET default_collation = 'nocase'")
        self.tables = {t.name: t for t in tables}
        for table in self.tables.values():
            self._load(table)
        self.guid_columns = {
            c.lower()
            for t in self.tables.values()
            for c, e in zip(t.columns, t.edm_types, strict=True)
            if e == "Edm.Guid"
        }
        # The text form's slices, most significant first: groups 5 and 4 as written, 3, 2, 1 byte-reversed.
        slices = ((25, 12), (20, 4), (17, 2), (15, 2), (12, 2), (10, 2), (7, 2), (5, 2), (3, 2), (1, 2))
        key = " || ".join(f"substr(CAST(u AS VARCHAR), {a}, {n})" for a, n in slices)
        self.db.execute(f"CREATE MACRO sqlguid(u) AS ({key})")

    def _load(self, table: LoadedTable) -> None:
        pairs = list(zip(table.columns, table.edm_types, strict=True))
        schema = pa.schema([(c, SQL_TYPES[t][1]) for c, t in pairs])
        # Staged column by column in arrow (GUIDs as text), then cast to the SQL types in one CTAS.
        values = list(zip(*table.rows, strict=True)) if table.rows else [() for _ in pairs]
        arrays = [
            pa.array([None if v is None else (str(v) if t == "Edm.Guid" else v) for v in column], type=f.type)
            for column, (_, t), f in zip(values, pairs, schema, strict=True)
        ]
        self.db.register("staging", pa.Table.from_arrays(arrays, schema=schema))
        casts = ", ".join(f'CAST("{c}" AS {SQL_TYPES[t][0]}) AS "{c}"' for c, t in pairs)
        self.db.execute(f'CREATE TABLE "{table.name}" AS SELECT {casts} FROM staging')
        self.db.unregister("staging")
        if table.entity_set != table.name:
            self.db.execute(f'CREATE VIEW "{table.entity_set}" AS SELECT * FROM "{table.name}"')

    def prepare(self, sql: str) -> str:
        """The SQL DuckDB runs: LIKE becomes ILIKE where the service compares case-insensitively."""
        if self.sqlserver_guids and re.search(r"\bORDER\s+BY\b", sql, flags=re.IGNORECASE):
            sql = self._guid_order(sql)
        if not self.case_insensitive:
            return sql
        return re.sub(r"\bLIKE\b", "ILIKE", sql, flags=re.IGNORECASE)

    def _guid_order(self, sql: str) -> str:
        tree = sqlglot.parse_one(sql, read="duckdb")
        changed = False
        for ordered in list(tree.find_all(exp.Ordered)):
            target = ordered.this
            select = ordered.find_ancestor(exp.Select)
            if isinstance(target, exp.Literal) and target.is_int and select is not None:
                target = select.expressions[int(target.this) - 1].unalias()
            if isinstance(target, exp.Column) and target.name.lower() in self.guid_columns:
                ordered.set("this", exp.Anonymous(this="sqlguid", expressions=[target.copy()]))
                changed = True
        return tree.sql(dialect="duckdb") if changed else sql

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.db.execute(self.prepare(sql), list(params)).fetchall()]

    def close(self) -> None:
        self.db.close()


def load_dataverse(
    reader: ODataReader, tables: Mapping[str, TableSpec] = DATAVERSE_TABLES
) -> list[LoadedTable]:
    """Every table of ``tables``, read through ``reader`` with the types of the service's $metadata."""
    types = reader.property_types()
    return [read_dataverse_table(reader, name, spec, types[name]) for name, spec in tables.items()]
