"""The HTTP client the Web API tests hold: a `requests` session with a bearer token."""

from __future__ import annotations

import requests

from d365conn.sandbox.launcher import Sandbox

#: Enough accounts to cross the 5,000-row page and count caps.
ROWS = 12_000


class Api:
    """A `requests` session with a bearer token and the service root, as a client would hold them."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.url = sandbox.service_url
        self.session = requests.Session()
        self.session.headers.update(
            {
                "Authorization": f"Bearer {sandbox.access_token()}",
                "Accept": "application/json",
                "OData-MaxVersion": "4.0",
                "OData-Version": "4.0",
            }
        )

    def get(self, path: str, **headers: str) -> requests.Response:
        return self.session.get(self.url + path, headers=headers)

    def request(self, method: str, path: str, body: object = None, **headers: str) -> requests.Response:
        return self.session.request(method, self.url + path, json=body, headers=headers)
