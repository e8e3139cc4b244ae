"""The sandbox's Business Central flavour: API v2.0 and ODataV4 web services on 127.0.0.1.

Built from the real API v2.0 ``$metadata`` (``data/api-v2.0-metadata.xml``, 87 entity sets) with
generated, deterministic data, answering in the shapes of the real captured responses and with
Business Central's rules (company scoping, OR across fields refused, no ``$apply``, 20,000-row
pages, ``If-Match`` on writes, JSON ``$batch``). Shares no OData code with the driver.

Modules: ``schema`` (entity sets, pages), ``store`` (rows, etags, snapshots), ``datagen``,
``query`` (``$filter``... server side), ``rows`` (JSON shapes), ``service`` (resources),
``writes``, ``batch``, ``errors``, ``launcher`` (``BCSandbox``).
"""

from __future__ import annotations

from d365conn.sandbox.bc.launcher import BCSandbox

__all__ = ["BCSandbox"]
