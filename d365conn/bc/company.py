"""Business Central companies: choosing one, and writing company-scoped resource paths. No I/O.

Owns: :class:`Company`, reading the company list from either surface's rows
(``api/v2.0/companies``: ``id``/``name``/``displayName``; ``ODataV4/Company``: ``Id``/``Name``/
``Display_Name``), :func:`choose_company` (by id or name, with the error that lists what exists),
:func:`company_prefix` (``companies(<id>)/`` or ``Company('<name>')/``) and :func:`scope_plan`,
which rewrites every scan of a plan to run inside one company.

Business Central scopes nearly every resource by company; only the company list itself
(``companies`` on the API, ``Company`` on ODataV4) lives at the surface root. Plans are made (and
cached) without a company, and scoped just before they run, so switching company never re-plans.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from d365conn.exceptions import ProgrammingError
from d365conn.planner.plan import Plan, Scan

_GUID = re.compile(r"^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$")
#: The table that lists companies, per surface: it is never scoped.
COMPANY_TABLES = {"api": "companies", "odatav4": "Company"}


@dataclass(frozen=True)
class Company:
    id: str
    name: str
    display_name: str = ""

    def describe(self) -> str:
        shown = f" ({self.display_name})" if self.display_name and self.display_name != self.name else ""
        return f"'{self.name}'{shown} id {self.id}"


def companies_from_rows(rows: Iterable[Mapping[str, Any]]) -> list[Company]:
    """Companies from the rows of ``companies`` (API) or ``Company`` (ODataV4)."""
    found = []
    for row in rows:
        ident = row.get("id", row.get("Id"))
        name = row.get("name", row.get("Name"))
        display = row.get("displayName", row.get("Display_Name")) or ""
        if name is not None:
            found.append(Company(str(ident or "").lower(), str(name), str(display)))
    return found


def _listing(companies: list[Company]) -> str:
    return "; ".join(c.describe() for c in companies) or "none"


def choose_company(companies: list[Company], wanted: str | None) -> Company:
    """The company ``wanted`` names (id, name, or display name; exact first, then ignoring case).

    Without ``wanted``: the only company when there is one, else a ProgrammingError listing them
    all -- Business Central has no default company for an app's service-to-service calls.
    """
    if wanted is None or not wanted.strip():
        if len(companies) == 1:
            return companies[0]
        raise ProgrammingError(
            f"this Business Central environment has {len(companies)} companies; choose one with "
            "Company=<name or id> in the connection string (or set connection.company): "
            + _listing(companies)
        )
    text = wanted.strip()
    if _GUID.match(text):
        ident = text.strip("{}").lower()
        for company in companies:
            if company.id == ident:
                return company
    folded = text.casefold()
    for hits in (
        [c for c in companies if c.name == text],
        [c for c in companies if c.name.casefold() == folded],
        [c for c in companies if c.display_name and c.display_name.casefold() == folded],
    ):
        if len(hits) == 1:
            return hits[0]
    raise ProgrammingError(
        f"no company {text!r} in this Business Central environment; available companies: "
        + _listing(companies)
    )


def company_prefix(company: Company, surface: str) -> str:
    """The path segment that scopes a resource to ``company``, with its trailing ``/``."""
    if surface == "api":
        return f"companies({company.id})/"
    # Quotes inside the name are doubled, then the whole name percent-encoded (spaces, commas, '&').
    return "Company('" + quote(company.name.replace("'", "''"), safe="") + "')/"


def _scope_scan(scan: Scan, prefix: str, unscoped: str) -> Scan:
    if scan.table.casefold() == unscoped.casefold():
        return scan
    return dataclasses.replace(
        scan, query=dataclasses.replace(scan.query, resource=prefix + scan.query.resource)
    )


def scope_plan(plan: Plan, prefix: str, unscoped: str) -> Plan:
    """``plan`` with every scan (and every nested plan's scans) below ``prefix``; pure."""
    prerequisites = tuple(
        dataclasses.replace(
            pre,
            plan=scope_plan(pre.plan, prefix, unscoped),
            overflow=scope_plan(pre.overflow, prefix, unscoped) if pre.overflow is not None else None,
        )
        for pre in plan.prerequisites
    )
    return dataclasses.replace(
        plan,
        scans=tuple(_scope_scan(s, prefix, unscoped) for s in plan.scans),
        prerequisites=prerequisites,
        fallback=scope_plan(plan.fallback, prefix, unscoped) if plan.fallback is not None else None,
    )


def needs_company(plan: Plan, unscoped: str) -> bool:
    """Whether any scan of ``plan`` (or of a plan inside it) reads company data."""
    nested: list[Plan] = [p.plan for p in plan.prerequisites]
    nested += [p.overflow for p in plan.prerequisites if p.overflow is not None]
    if plan.fallback is not None:
        nested.append(plan.fallback)
    return any(s.table.casefold() != unscoped.casefold() for s in plan.scans) or any(
        needs_company(p, unscoped) for p in nested
    )


__all__ = [
    "COMPANY_TABLES",
    "Company",
    "choose_company",
    "companies_from_rows",
    "company_prefix",
    "needs_company",
    "scope_plan",
]
