"""`d365conn sandbox`: run a sandbox from the command line until interrupted.

Owns: the command's options, printing the ready connection string as the first line of stdout
(a test credential of this local sandbox, so printing it is intended), and clean shutdown on
SIGINT / SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 picks a free one)")
    parser.add_argument("--rows", type=int, default=1000, help="number of account rows to generate")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated data")
    parser.add_argument("--data-dir", default=None, help="keep the database here across runs")
    parser.add_argument("--tls", action="store_true", help="serve https with a generated test certificate")
    parser.add_argument("--tls-dir", default=None, help="where the test CA and certificate live")
    parser.add_argument("--token-lifetime", type=float, default=3600.0, help="access token lifetime, seconds")
    parser.add_argument("--latency", type=float, default=0.0, help="added latency per request, milliseconds")
    parser.add_argument(
        "--flavour", choices=("dataverse", "business-central"), default="dataverse",
        help="which service to imitate: the Dataverse Web API, or Business Central (API v2.0 and ODataV4)",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from d365conn.sandbox.launcher import Sandbox

    sandbox = Sandbox(
        rows=args.rows,
        seed=args.seed,
        data_dir=args.data_dir,
        tls=args.tls,
        token_lifetime=args.token_lifetime,
        port=args.port,
        latency_ms=args.latency,
        tls_dir=args.tls_dir,
        flavour=args.flavour,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sandbox.start()
    try:
        sys.stdout.write(sandbox.connection_string + "\n")
        sys.stdout.flush()
        if sandbox.tls and sandbox.ca_path:
            sys.stderr.write(f"test CA certificate: {sandbox.ca_path}\n")
        stop.wait()
    finally:
        sandbox.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="d365conn sandbox", description="A local Dataverse-compatible Web API."
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
