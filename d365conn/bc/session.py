"""One connection's Business Central state: the surface, the chosen company, scoping plans to it.

Owns: :class:`BCSession`. It is created by :class:`~d365conn.service.Service` for a Business
Central ServiceURL and:

- normalises the connection's config so that the service root is the *surface* root
  (``.../api/v2.0/`` or ``.../ODataV4/``) and the company named in the URL (``companies(<id>)``,
  ``Company('<name>')``, ``?company=``) becomes the ``Company`` option when none was given;
- resolves that company lazily -- the first statement that reads company data lists the
  companies once (``GET companies`` / ``GET Company``) and picks one by id or name, or raises the
  error that lists them -- so ``SELECT * FROM companies`` works without any company;
- scopes each plan to the current company (:func:`~d365conn.bc.company.scope_plan`);
- switches company without reconnecting (:meth:`switch`, behind ``connection.company = ...``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from d365conn.bc.company import (
    COMPANY_TABLES,
    Company,
    choose_company,
    companies_from_rows,
    company_prefix,
    needs_company,
    scope_plan,
)
from d365conn.catalog.service import BCEndpoint, parse_bc_endpoint
from d365conn.config import Config
from d365conn.exceptions import ConfigurationError, ProgrammingError
from d365conn.planner.plan import Plan


def normalise_config(config: Config) -> tuple[Config, BCEndpoint]:
    """The config with its ServiceURL cut back to the surface root, and the parsed endpoint."""
    try:
        endpoint = parse_bc_endpoint(config.service_url)
    except ValueError as problem:
        raise ConfigurationError(
            f"ServiceURL: {problem}; a Business Central ServiceURL ends in .../ODataV4/, .../api/v2.0/ "
            "or .../api/<publisher>/<group>/<version>/"
        ) from None
    changes: dict[str, Any] = {"service_url": endpoint.service_root}
    if not config.company and endpoint.company:
        changes["company"] = endpoint.company
    return config.replace(**changes), endpoint


class BCSession:
    """Company scoping for one connection. ``list_rows`` reads every row of a root-level resource."""

    def __init__(
        self, config: Config, endpoint: BCEndpoint, list_rows: Callable[[str], list[dict[str, Any]]]
    ) -> None:
        self.endpoint = endpoint
        self.surface = endpoint.surface
        self.company_table = COMPANY_TABLES[self.surface]
        self._wanted: str | None = config.company
        self._list_rows = list_rows
        self._companies: list[Company] | None = None
        self._current: Company | None = None
        self._lock = threading.Lock()

    def companies(self, *, refresh: bool = False) -> list[Company]:
        """Every company of the environment (listed once per connection unless ``refresh``)."""
        with self._lock:
            if self._companies is None or refresh:
                self._companies = companies_from_rows(self._list_rows(self.company_table))
            return list(self._companies)

    @property
    def company(self) -> Company:
        """The current company, resolved on first use."""
        current = self._current
        if current is None:
            current = choose_company(self.companies(), self._wanted)
            self._current = current
        return current

    @property
    def wanted(self) -> str | None:
        return self._wanted

    def switch(self, wanted: str) -> Company:
        """Make ``wanted`` (a name or id) the company of every later statement; checked now."""
        try:
            chosen = choose_company(self.companies(), wanted)
        except ProgrammingError:  # perhaps a company created since the list was read
            chosen = choose_company(self.companies(refresh=True), wanted)
        self._wanted, self._current = wanted, chosen
        return chosen

    def prefix(self) -> str:
        return company_prefix(self.company, self.surface)

    def scope(self, plan: Plan) -> Plan:
        """``plan`` running inside the current company (unchanged when it reads only companies)."""
        if not needs_company(plan, self.company_table):
            return plan
        return scope_plan(plan, self.prefix(), self.company_table)


__all__ = ["BCSession", "normalise_config"]
