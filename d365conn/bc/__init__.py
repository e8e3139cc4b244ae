"""Business Central: company scoping and the write rules of its OData surfaces, on top of the driver.

Owns what is specific to Business Central and not expressible as a capability row:

- ``company``: choosing a company (by id or name), the error that lists the companies, and scoping a
  plan's scans to ``companies(<id>)/`` (API) or ``Company('<name>')/`` (ODataV4 web services);
- ``session``: one connection's current company, switched without reconnecting;
- ``batch``: JSON ``$batch`` bodies (at most 100 operations, ``Isolation: snapshot``) and answers;
- ``writer``: row writes with Business Central's ``If-Match`` rules, deep inserts, atomic batches.

The capability row (OR across fields refused, no ``$apply``, 20,000-row pages...) is in
``planner/capabilities.py``; Business Central's error codes are mapped in ``transport/errors.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from d365conn.bc.company import Company, choose_company, company_prefix, scope_plan
from d365conn.bc.session import BCSession, normalise_config
from d365conn.config import Config


def open_session(config: Config, transport: Callable[[], Any]) -> tuple[Config, BCSession]:
    """The normalised config and the BC session of a connection; ``transport()`` gives its transport."""
    normalised, endpoint = normalise_config(config)
    root = normalised.service_root

    def list_rows(resource: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for page in transport().iter_pages(root + resource):
            rows.extend(page.rows)
        return rows

    return normalised, BCSession(normalised, endpoint, list_rows)


class CompanyAliasCatalog:
    """A catalog view where ``companies`` also names the ODataV4 ``Company`` page, so that
    ``SELECT * FROM companies`` works on both surfaces. Everything else is the wrapped catalog's."""

    def __init__(self, catalog: Any, company_table: str) -> None:
        self._catalog = catalog
        self._company_table = company_table

    def __getattr__(self, name: str) -> Any:
        return getattr(self._catalog, name)

    def find_table(self, name: str) -> Any:
        found = self._catalog.find_table(name)
        if found is None and name.casefold() == "companies":
            return self._catalog.find_table(self._company_table)
        return found


__all__ = [
    "BCSession",
    "Company",
    "CompanyAliasCatalog",
    "choose_company",
    "company_prefix",
    "normalise_config",
    "open_session",
    "scope_plan",
]
