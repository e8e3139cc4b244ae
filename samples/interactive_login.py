"""Interactive sign-in (authorization code + PKCE), as a desktop user does it.

``InteractiveLogin=true`` lets ``connect()`` open the browser when no token is cached; the tokens
are stored in ``TokenCachePath`` and the next connection signs in silently. ``d365conn login`` is
the command-line form (it prints a ready connection string).

Run ``python samples/interactive_login.py`` against a sandbox it starts itself. The sandbox's
token service signs its test user in and consents at once, so the "browser" here is a few lines
that follow the sign-in redirects (installed with Python's ``webbrowser.register``). On a real
desktop, leave the browser alone: pass your org's connection string and sign in yourself::

    python samples/interactive_login.py "ServiceURL=https://contoso.crm.dynamics.com/api/data/v9.2/;
        ClientID=<app id>;TenantID=<tenant>;RedirectURI=http://localhost"   (one line)

(the app registration needs the redirect URI ``http://localhost`` under "Mobile and desktop
applications" and "Allow public client flows": see docs/getting-started.md).
"""

from __future__ import annotations

import sys
import tempfile
import threading
import urllib.request
import webbrowser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

import d365conn


class SandboxBrowser(webbrowser.BaseBrowser):
    """Plays the user's browser against the sandbox: follows the authorize redirects to the loopback."""

    def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:
        threading.Thread(target=self._sign_in, args=(url,), daemon=True).start()
        return True

    @staticmethod
    def _sign_in(url: str) -> None:
        for _ in range(10):
            answer = requests.get(url, allow_redirects=False, timeout=10)
            url = urljoin(url, answer.headers.get("Location", ""))
            if urlsplit(url).hostname in ("localhost", "127.0.0.1") and "code=" in url:
                with urllib.request.urlopen(url, timeout=10) as done:  # the driver's loopback listener
                    done.read()
                return


def main(connection_string: str) -> None:
    cache = Path(tempfile.mkdtemp()) / "tokens.json"
    options = f"AuthenticationMethod=AuthorizationCode;InteractiveLogin=true;TokenCachePath={cache};"
    with d365conn.connect(connection_string + options) as conn:
        cur = conn.cursor()
        cur.execute("SELECT TOP 3 fullname FROM systemuser ORDER BY fullname")  # opens the browser
        print("signed in; users:", ", ".join(name for (name,) in cur.fetchall()))
    print(f"tokens cached in {cache.name} ({cache.stat().st_size} bytes)")

    # A new connection (another process would do the same) reads the cache: no browser this time.
    with d365conn.connect(connection_string + options) as conn:
        cur = conn.cursor()
        cur.execute("SELECT COUNT(*) FROM account")
        print("second connection, silent sign-in; accounts:", cur.fetchone()[0])


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        from d365conn.sandbox import Sandbox

        webbrowser.register("sandbox-sign-in", None, SandboxBrowser("sandbox-sign-in"), preferred=True)
        with Sandbox(rows=50) as sandbox:
            # A public client: ClientID without a secret, and the loopback redirect URI.
            public = sandbox.connection_string.replace(f"ClientSecret={sandbox.client_secret};", "")
            main(public + "RedirectURI=http://localhost;")
