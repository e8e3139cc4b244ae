"""The catalog: tables and columns of the service, as SQL sees them.

Data flows: the connection gives ``open_catalog`` its Config, service kind and transport; the
Catalog lists tables and loads each on first use through a loader (``dataverse`` for the Dataverse
Web API, ``odata`` for any ``$metadata``: Business Central, SAP CAP...), caching them on disk
(``cache``); the planner sees it through ``model.CatalogView``.
"""

from __future__ import annotations

from d365conn.catalog.catalog import Catalog, make_loader, open_catalog
from d365conn.catalog.loader import Changes, Loader, TableEntry
from d365conn.catalog.model import CatalogView, Column, ForeignKey, Option, Table
from d365conn.catalog.service import BCEndpoint, detect_service_kind, parse_bc_endpoint

__all__ = [
    "BCEndpoint",
    "Catalog",
    "CatalogView",
    "Changes",
    "Column",
    "ForeignKey",
    "Loader",
    "Option",
    "Table",
    "TableEntry",
    "detect_service_kind",
    "make_loader",
    "open_catalog",
    "parse_bc_endpoint",
]
