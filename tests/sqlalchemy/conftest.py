"""Engines on the shared sandbox, built from URLs the way users write them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa

# Registers d365conn+http / d365conn+https even when the installed entry points predate them.
import d365conn.sqlalchemy  # noqa: F401


def sandbox_url(sb: Any, **extra: str) -> str:
    """``d365conn+http://127.0.0.1:<port>/api/data/v9.2/?ClientID=...`` for a running sandbox."""
    query = {"ClientID": sb.client_id, "ClientSecret": sb.client_secret, "TokenURI": sb.token_uri, **extra}
    base = sb.service_url.replace("http://", "d365conn+http://", 1)
    return base + "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items())


@pytest.fixture(scope="session")
def url_for() -> Callable[..., str]:
    """``url_for(sandbox, **options)``: a sandbox's SQLAlchemy URL (for tests that need their own engine)."""
    return sandbox_url


@pytest.fixture(scope="module")
def engine(d365_sandbox: Any) -> Iterator[sa.Engine]:
    eng = sa.create_engine(sandbox_url(d365_sandbox))
    yield eng
    eng.dispose()
