"""The token source under the real driver: reads through d365conn.connect against the full sandbox,
with tokens that expire and are revoked in the middle of following @odata.nextLink pages."""

from __future__ import annotations

import d365conn
from d365conn.sandbox import Sandbox


def read_all(sb: Sandbox, revoke_after: int = 0) -> list[str]:
    connection = d365conn.connect(sb.connection_string + "WSFetchSize=100;")
    cursor = connection.cursor()
    cursor.execute("SELECT accountid, name FROM account")
    ids: list[str] = []
    while True:
        rows = cursor.fetchmany(100)
        if not rows:
            break
        ids.extend(str(row[0]) for row in rows)
        if revoke_after and len(ids) == revoke_after and sb.tokens is not None:
            sb.tokens.handle_admin("POST", "/_sandbox/tokens", b'{"expire_access_tokens": true}')
    connection.close()
    return ids


def test_tokens_renewed_ahead_of_expiry_during_paging() -> None:
    # Ten pages of 100 at 100 ms each (plus metadata): over a second of paging with 1-second tokens.
    with Sandbox(rows=1000, token_lifetime=1, latency_ms=100) as sb:
        assert sb.tokens is not None
        ids = read_all(sb)
        stats = sb.tokens.stats()
    assert len(ids) == 1000 and len(set(ids)) == 1000
    assert stats["token_requests"]["total"] >= 3  # renewed while the pages were followed
    assert stats["bearer"]["rejected"] == 0  # always ahead of expiry: the service never saw a stale token


def test_revoked_token_mid_paging_is_renewed_once_and_the_page_replayed() -> None:
    with Sandbox(rows=1000) as sb:
        assert sb.tokens is not None
        ids = read_all(sb, revoke_after=300)
        stats = sb.tokens.stats()
    assert len(ids) == 1000 and len(set(ids)) == 1000
    assert stats["bearer"]["rejected"] == 1  # one 401 ...
    assert stats["token_requests"]["total"] == 2  # ... one renewal, then the page was replayed
