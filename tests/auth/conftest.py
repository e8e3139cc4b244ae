"""Fixtures of the auth tests: a live sandbox token service, a clean token-source registry, a browser."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable, Iterator
from urllib.parse import urljoin, urlsplit

import pytest
import requests

from d365conn.auth import clear_token_sources
from d365conn.auth.endpoints import is_loopback
from tests.auth.harness import TokenHarness, running


@pytest.fixture(autouse=True)
def _fresh_registry() -> Iterator[None]:
    clear_token_sources()
    yield
    clear_token_sources()


@pytest.fixture
def harness() -> Iterator[TokenHarness]:
    with running() as h:
        yield h


def follow_sign_in(url: str, verify: bool | str = True, deliver: bool = True) -> str:
    """Play the user's browser: follow the authorize redirects (auto sign-in and consent) until they
    reach the loopback redirect URI; deliver that last request with urllib (which logs nothing) unless
    ``deliver`` is False. Returns the final redirect URL (it carries ``code`` and ``state``)."""
    session = requests.Session()
    session.trust_env = False
    for _ in range(20):
        response = session.get(url, allow_redirects=False, verify=verify, timeout=10)
        location = response.headers.get("Location")
        if response.status_code not in (301, 302, 303, 307) or not location:
            raise AssertionError(f"sign-in stopped at HTTP {response.status_code}: {response.text[:300]}")
        url = urljoin(url, location)
        if urlsplit(url).scheme == "http" and is_loopback(url) and ("code=" in url or "error=" in url):
            if deliver:
                with urllib.request.urlopen(url, timeout=10) as answer:
                    answer.read()
            return url
    raise AssertionError("too many redirects during the sign-in")


@pytest.fixture
def browser() -> Iterator[Callable[..., Callable[[str], None]]]:
    """``browser(verify)`` -> an ``open_browser(url)`` that signs in from a thread, like a real browser."""
    import threading

    threads: list[threading.Thread] = []

    def make(verify: bool | str = True) -> Callable[[str], None]:
        def open_browser(url: str) -> None:
            thread = threading.Thread(target=follow_sign_in, args=(url, verify), daemon=True)
            thread.start()
            threads.append(thread)

        return open_browser

    yield make
    for thread in threads:
        thread.join(10)
