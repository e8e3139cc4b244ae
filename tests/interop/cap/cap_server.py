"""Running the SAP CAP project of ``project/`` as a real OData v4 server for the interop tests.

Owns: installing the locked npm dependencies once (``npm ci`` into ``project/node_modules``, which git
ignores, redone when ``package-lock.json`` changes), copying the project into a temporary directory with
the CSV files CAP loads at startup (``db/data/d365-<entity>.csv``: the sandbox's rows, never committed),
starting ``cds-serve --in-memory --port 0`` there, reading the port it chose from its log, waiting until
``$metadata`` answers, and stopping it. The project's ``server.js`` binds the server to 127.0.0.1.

Versions: ``@sap/cds`` 9.9.3 (CAP 9 runs on Node 20, which the machines have; CAP 10 needs Node 22)
with ``@cap-js/sqlite`` 2.4.2, locked in ``project/package-lock.json``.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

PROJECT = Path(__file__).resolve().parent / "project"
SERVICE_PATH = "/odata/v4/crm/"
NAMESPACE = "d365"
STAMP = ".d365conn-lock-sha256"
LISTENING = re.compile(r"server listening on \{ url: 'http://localhost:(\d+)' \}")
#: CDS element type -> the reference engine's column type.
CDS_TYPES = {
    "UUID": "UUID",
    "String": "VARCHAR",
    "Decimal": "DECIMAL(38,10)",
    "Integer": "INTEGER",
    "Boolean": "BOOLEAN",
    "Double": "DOUBLE",
    "DateTime": "TIMESTAMPTZ",
    "Date": "DATE",
}


def model_columns() -> dict[str, list[tuple[str, str]]]:
    """Entity -> [(element, CDS type)] as declared in ``project/db/schema.cds``."""
    text = (PROJECT / "db" / "schema.cds").read_text(encoding="utf-8")
    entities: dict[str, list[tuple[str, str]]] = {}
    for match in re.finditer(r"entity\s+(\w+)\s*\{(.*?)\}", text, re.S):
        elements = re.findall(r"^\s*(?:key\s+)?(\w+)\s*:\s*(\w+)", match.group(2), re.M)
        entities[match.group(1)] = elements
    return entities


def _lock_digest() -> str:
    return hashlib.sha256((PROJECT / "package-lock.json").read_bytes()).hexdigest()


def ensure_node_modules(timeout: float = 600) -> Path:
    """``npm ci`` the locked dependencies unless ``node_modules`` already matches the lock file."""
    modules = PROJECT / "node_modules"
    digest = _lock_digest()
    stamp = modules / STAMP
    if stamp.is_file() and stamp.read_text().strip() == digest and (modules / "@sap" / "cds").is_dir():
        return modules
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not on PATH: the CAP interop tests need Node.js 20+ and npm")
    env = dict(os.environ)
    if (Path("/usr/include/node") / "node.h").is_file():
        # better-sqlite3 compiles against Node's headers; without a nodedir node-gyp would download
        # them from the internet, which test machines cannot reach. Debian's nodejs ships them here.
        env.setdefault("npm_config_nodedir", "/usr")
    answer = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if answer.returncode != 0:
        raise RuntimeError(
            f"npm ci failed ({answer.returncode}):\n{answer.stdout[-2000:]}\n{answer.stderr[-4000:]}"
        )
    stamp.write_text(digest)
    return modules


def csv_value(value: Any) -> str:
    """One value as CAP's CSV loader reads it (empty = NULL)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value)


def write_project(target: Path, data: Mapping[str, tuple[Sequence[str], Iterable[Sequence[Any]]]]) -> Path:
    """A copy of the CAP project in ``target`` with one CSV per entity: entity -> (columns, rows)."""
    for part in ("db", "srv"):
        shutil.copytree(PROJECT / part, target / part, dirs_exist_ok=True)
    for name in ("package.json", "server.js"):
        shutil.copy2(PROJECT / name, target / name)
    (target / "node_modules").symlink_to(PROJECT / "node_modules", target_is_directory=True)
    folder = target / "db" / "data"
    folder.mkdir(parents=True, exist_ok=True)
    for entity, (columns, rows) in data.items():
        with open(folder / f"{NAMESPACE}-{entity}.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            writer.writerows([csv_value(v) for v in row] for row in rows)
    return target


class CapServer:
    """``cds-serve`` on a free loopback port for the project in ``directory``; a context manager."""

    def __init__(self, directory: Path, startup_timeout: float = 90) -> None:
        self.directory = directory
        self.startup_timeout = startup_timeout
        self.port = 0
        self.log_path = directory / "cds-serve.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def service_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{SERVICE_PATH}"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def start(self) -> CapServer:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is not on PATH: the CAP interop tests need Node.js 20+")
        serve = self.directory / "node_modules" / "@sap" / "cds" / "bin" / "serve.js"
        env = {**os.environ, "NODE_ENV": "development", "CDS_ENV": "development", "NO_COLOR": "1"}
        with open(self.log_path, "wb") as log:
            self._process = subprocess.Popen(
                [node, str(serve), "--in-memory", "--port", "0"],
                cwd=self.directory,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        deadline = time.monotonic() + self.startup_timeout
        while not self.port:
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"cds-serve did not start:\n{self.log()[-4000:]}")
            found = LISTENING.search(self.log())
            if found:
                self.port = int(found.group(1))
            else:
                time.sleep(0.1)
        self._wait_ready(deadline)
        return self

    def _wait_ready(self, deadline: float) -> None:
        with requests.Session() as session:
            session.trust_env = False
            while True:
                try:
                    if session.get(self.service_url + "$metadata", timeout=5).status_code == 200:
                        return
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"CAP never answered $metadata:\n{self.log()[-4000:]}")
                time.sleep(0.1)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)

    def __enter__(self) -> CapServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
