"""Which service a command talks to: ``--connection``, ``--profile``, the environment, or ``--sandbox``.

Owns: the connection arguments every service command shares and their order of precedence:

1. ``--sandbox``: start the embedded sandbox for this command;
2. ``-c/--connection "ServiceURL=...;..."``;
3. ``-p/--profile NAME``: a profile of the profiles file (``profiles.py``);
4. ``$D365CONN_CONNECTION_STRING``;
5. ``$D365CONN_PROFILE``, else the file's ``default`` profile.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator

from ..config import CONNECTION_STRING_ENV
from ..exceptions import ConfigurationError
from .profiles import config_path, default_profile, load_profiles, profile_connection_string


def add_connection_arguments(parser: argparse.ArgumentParser, *, sandbox: bool = True) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-c", "--connection", help=f"connection string (default: ${CONNECTION_STRING_ENV})")
    group.add_argument("-p", "--profile", help=f"a named profile of {config_path()}")
    if sandbox:
        group.add_argument(
            "--sandbox", action="store_true",
            help="start the embedded sandbox (a local Dataverse-compatible service) and use it",
        )
        parser.add_argument(
            "--sandbox-rows", type=int, default=1000, help="accounts in the --sandbox (default 1000)"
        )


def chosen_connection_string(args: argparse.Namespace) -> str | None:
    """The connection string the arguments and environment choose (None: nothing configured)."""
    if getattr(args, "connection", None):
        return str(args.connection)
    if getattr(args, "profile", None):
        return profile_connection_string(str(args.profile))
    env = os.environ.get(CONNECTION_STRING_ENV)
    if env:
        return env
    document = load_profiles()
    name = default_profile(document)
    if name:
        return profile_connection_string(name, document)
    return None


@contextlib.contextmanager
def connection_string(args: argparse.Namespace) -> Iterator[str]:
    """The connection string for a command; with ``--sandbox``, of a sandbox running meanwhile."""
    if getattr(args, "sandbox", False):
        from ..sandbox import Sandbox

        with Sandbox(rows=args.sandbox_rows) as sb:
            yield sb.connection_string
        return
    text = chosen_connection_string(args)
    if not text:
        raise ConfigurationError(
            f"no connection: pass --connection \"ServiceURL=...;...\" or --profile NAME, set "
            f"${CONNECTION_STRING_ENV}, add a default profile to {config_path()}, or use --sandbox"
        )
    yield text
