"""The CLI on a terminal (a pseudo-terminal from the pty module): the progress line, and Ctrl-C."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import clean_env

SLOW_SQL = "SELECT accountid, name, revenue FROM account"


@pytest.fixture
def slow_sandbox(cli_sandbox: Any) -> Iterator[Any]:
    """Every request takes 80 ms more: 300 rows in 10-row pages take about 2.5 s."""
    cli_sandbox.faults.configure(latency_ms=80)
    yield cli_sandbox
    cli_sandbox.faults.reset()


def start_on_terminal(*args: str, stdout: Any) -> tuple[subprocess.Popen[bytes], int]:
    """Run ``d365conn`` with standard error (and standard output when ``stdout`` is None) on a
    pseudo-terminal; return the process and the master fd."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "d365conn", *args],
        stdin=subprocess.DEVNULL,
        stdout=slave if stdout is None else stdout,
        stderr=slave,
        env=clean_env(),
    )
    os.close(slave)
    return proc, master


def read_terminal(
    master: int, proc: subprocess.Popen[bytes], *, until: bytes | None = None, timeout: float = 60
) -> bytes:
    """What the process wrote to the terminal: until it exits, or until ``until`` appears."""
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the process closed its side
                break
            if not chunk:
                break
            seen += chunk
            if until is not None and until in seen:
                return seen
        elif proc.poll() is not None:
            break
    return seen


def test_progress_line_with_rows_and_pages(slow_sandbox: Any, tmp_path: Path) -> None:
    out = tmp_path / "rows.csv"
    with out.open("wb") as fh:
        proc, master = start_on_terminal(
            "query",
            "-c",
            slow_sandbox.connection_string + "PageSize=10;",
            "--format",
            "csv",
            SLOW_SQL,
            stdout=fh,
        )
        screen = read_terminal(master, proc)
        assert proc.wait(timeout=60) == 0
    os.close(master)
    text = screen.decode()
    assert "\r\x1b[K" in text  # the line is redrawn in place
    drawn = [part for part in text.split("\r\x1b[K") if "rows/s" in part]
    assert len(drawn) >= 2, text  # redrawn while the pages arrive, not once at the end
    assert " page" in drawn[-1] and " rows " in drawn[-1]
    assert "300 rows, " in text and " pages in " in text  # the summary after a long read
    assert len(out.read_text().splitlines()) == 301


def test_no_progress_line_when_not_asked(slow_sandbox: Any, tmp_path: Path) -> None:
    out = tmp_path / "rows.csv"
    with out.open("wb") as fh:
        proc, master = start_on_terminal(
            "query",
            "-c",
            slow_sandbox.connection_string + "PageSize=20;",
            "--progress",
            "never",
            "--format",
            "csv",
            SLOW_SQL,
            stdout=fh,
        )
        screen = read_terminal(master, proc)
        assert proc.wait(timeout=60) == 0
    os.close(master)
    assert screen == b""


def test_ctrl_c_stops_cleanly_with_130(slow_sandbox: Any, tmp_path: Path) -> None:
    target = tmp_path / "partial.parquet"
    proc, master = start_on_terminal(
        "query",
        "-c",
        slow_sandbox.connection_string + "PageSize=5;",
        "-o",
        str(target),
        SLOW_SQL,
        stdout=subprocess.DEVNULL,
    )
    # 60 pages of 80 ms: wait for the first progress line (drawn while the first Parquet batch
    # fills), then interrupt the way a terminal does on Ctrl-C.
    screen = read_terminal(master, proc, until=b"rows/s")
    assert b"rows/s" in screen, screen
    proc.send_signal(signal.SIGINT)
    screen += read_terminal(master, proc)
    code = proc.wait(timeout=30)
    os.close(master)
    text = screen.decode()
    assert code == 130, text
    assert "d365conn: interrupted" in text and "Traceback" not in text
    assert not target.exists() and not list(tmp_path.iterdir())  # no half-written file


def test_table_on_the_terminal_is_printed_after_the_line_is_erased(slow_sandbox: Any) -> None:
    proc, master = start_on_terminal(
        "query", "-c", slow_sandbox.connection_string + "PageSize=10;", SLOW_SQL, stdout=None
    )
    screen = read_terminal(master, proc)
    assert proc.wait(timeout=60) == 0
    os.close(master)
    text = screen.decode().replace("\r\n", "\n")
    assert "rows/s" in text
    before, _, table = text.rpartition("\r\x1b[K")  # the last erase comes before the table
    assert "rows/s" in before and "rows/s" not in table
    lines = table.splitlines()
    assert lines[0].split() == ["accountid", "name", "revenue"] and "(300 rows)" in lines


def test_no_line_when_rows_stream_to_the_same_terminal(slow_sandbox: Any) -> None:
    proc, master = start_on_terminal(
        "query",
        "-c",
        slow_sandbox.connection_string + "PageSize=10;",
        "--format",
        "csv",
        SLOW_SQL,
        stdout=None,
    )
    screen = read_terminal(master, proc)
    assert proc.wait(timeout=60) == 0
    os.close(master)
    text = screen.decode()
    assert "rows/s" not in text and "\x1b[K" not in text
    assert len(text.splitlines()) == 301
