"""Case 2 of issue 9: Microsoft's Python SDK for Dataverse (``powerplatform-dataverse-client``).

The SDK cannot be pointed at the plain sandbox as it is:

- ``DataverseClient(base_url, credential)`` raises ``ValueError`` unless ``base_url`` starts with
  ``https://`` (client.py: "Dataverse only serves HTTPS"), so the sandbox runs with ``tls=True`` and
  its test CA is trusted through ``REQUESTS_CA_BUNDLE`` (the SDK's HTTP layer is ``requests``);
- it takes an ``azure.core.credentials.TokenCredential`` -- not a client id and secret -- so a small
  credential class hands it the token d365conn obtained from the sandbox's token endpoint;
- it appends ``/api/data/v9.2`` to ``base_url`` itself, so ``base_url`` is the sandbox's origin.

With that it reads the same 34 columns through ``client.records.get(..., page_size=5000)`` (pages
of ``Record`` objects with the service's JSON values, no type conversion). d365conn reads the same
columns from the same TLS sandbox, so both pay for TLS.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import d365conn
from benchmarks.common import Figure, interleaved
from benchmarks.extract import PAGE, PROPERTIES, SQL
from d365conn.sandbox import Sandbox


class StaticCredential:
    """An ``azure.core`` TokenCredential that returns a bearer token obtained elsewhere."""

    def __init__(self, authorization: str) -> None:
        self._token = authorization.split(" ", 1)[1]

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken(self._token, int(time.time()) + 3000)

    def get_token_info(self, *scopes: str, options: Any = None) -> Any:
        from azure.core.credentials import AccessTokenInfo

        return AccessTokenInfo(self._token, int(time.time()) + 3000)


def case2(rows: int, runs: int, data_dir: str) -> list[Figure]:
    try:
        from PowerPlatform.Dataverse.client import DataverseClient
    except ImportError:
        return [
            Figure("2", "Microsoft SDK", 0.0, "rows/s", note="powerplatform-dataverse-client not installed")
        ]
    with Sandbox(rows=rows, process=True, tls=True, data_dir=data_dir) as sb:
        ca = sb.ca_path or ""
        os.environ["REQUESTS_CA_BUNDLE"] = ca
        with d365conn.connect(sb.connection_string + f"PageSize={PAGE};CACertificate={ca};") as conn:
            credential = StaticCredential(conn.service.token_source.authorization())
            client = DataverseClient(sb.origin, credential)  # type: ignore[arg-type]

            def sdk_read() -> int:
                count = 0
                for page in client.records.get("account", select=PROPERTIES, page_size=PAGE):
                    count += len(page)
                return count

            def ours() -> Callable[[], int]:
                def run() -> int:
                    cur = conn.cursor()
                    cur.execute(SQL)
                    return len(cur.fetchall())

                return run

            conn.cursor().execute("SELECT TOP 1 name FROM account")  # token and catalog outside the timing
            try:
                timed = interleaved({"sdk": sdk_read, "ours": ours()}, runs)
            except Exception as problem:  # the SDK's failure is the finding; report it
                failure = f"SDK failed against the TLS sandbox: {type(problem).__name__}: {problem}"
                return [Figure("2", "Microsoft SDK extract", 0.0, "rows/s", note=failure[:300])]
            (sdk_t, sdk_n), (our_t, our_n) = timed["sdk"], timed["ours"]
    ratio = sdk_t / our_t
    return [
        Figure(
            "2",
            f"extract {our_n:,} rows over TLS: fetchall()",
            our_n / our_t,
            "rows/s",
            sdk_n / sdk_t,
            "Microsoft powerplatform-dataverse-client records.get (https sandbox, static TokenCredential)",
            ratio,
            ">= 1.5x",
            ratio >= 1.5,
            runs,
            note="SDK needs https:// and an azure-core TokenCredential (see benchmarks/sdk.py)",
            extra={"sdk_rows": sdk_n, "seconds": our_t, "baseline_seconds": sdk_t},
        )
    ]
