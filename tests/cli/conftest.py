"""The CLI run as users run it: ``python -m d365conn`` in a subprocess, against a sandbox process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from d365conn.sandbox import Sandbox

HERE = Path(__file__).resolve().parent
Run = Callable[..., subprocess.CompletedProcess[str]]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without d365conn settings of the developer's own, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("D365CONN_")}
    env["D365CONN_CONFIG"] = str(HERE / "no-such-profiles.toml")
    env.update(extra)
    return env


@pytest.fixture
def run() -> Run:
    def runner(
        *args: str, env: dict[str, str] | None = None, stdin: str | None = None, cwd: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "d365conn", *args],
            check=False,
            capture_output=True,
            text=True,
            input=stdin,
            env=env or clean_env(),
            timeout=120,
            cwd=cwd,
        )

    return runner


@pytest.fixture(scope="session")
def cli_sandbox() -> Iterator[Any]:
    with Sandbox(rows=300, seed=7, process=True) as sb:
        yield sb
