"""Named connection profiles for the command line, read from a TOML file.

Owns: finding the profiles file, reading a profile into a connection string, and fetching secrets
from the system keyring (the optional ``keyring`` package). Secrets never need to be written in
the file: a value may be a ``${ENV}`` reference (expanded by the driver when it connects) or a
keyring reference ``{ keyring = "<service>", username = "<name>" }``.

The file (``$D365CONN_CONFIG``, else ``$XDG_CONFIG_HOME/d365conn/profiles.toml``, else
``~/.config/d365conn/profiles.toml``; ``%APPDATA%\\d365conn\\profiles.toml`` on Windows)::

    default = "contoso"                  # the profile used when none is named

    [contoso]                            # one table per profile: connection options by name
    ServiceURL = "https://contoso.crm.dynamics.com/api/data/v9.2/"
    TenantID = "contoso.onmicrosoft.com"
    ClientID = "7a1e6f0a-..."
    ClientSecret = "${CONTOSO_SECRET}"

    [contoso-keyring]
    connection = "ServiceURL=https://contoso.crm.dynamics.com/api/data/v9.2/;ClientID=7a1e...;TenantID=..."
    ClientSecret = { keyring = "d365conn", username = "contoso" }
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..config import canonical_name
from ..connstr import join_pairs, split_pairs
from ..exceptions import ConfigurationError

CONFIG_ENV = "D365CONN_CONFIG"
PROFILE_ENV = "D365CONN_PROFILE"


def config_path() -> Path:
    """Where the profiles file is looked for (it need not exist)."""
    explicit = os.environ.get(CONFIG_ENV)
    if explicit:
        return Path(explicit).expanduser()
    if sys.platform == "win32" and os.environ.get("APPDATA"):
        return Path(os.environ["APPDATA"]) / "d365conn" / "profiles.toml"
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path("~/.config").expanduser())
    return Path(base) / "d365conn" / "profiles.toml"


def _toml_loads(text: str) -> dict[str, Any]:
    tomllib: Any
    try:
        tomllib = importlib.import_module("tomllib")
    except ImportError:  # Python 3.10: the same parser is the tomli package
        try:
            tomllib = importlib.import_module("tomli")
        except ImportError:
            raise ConfigurationError(
                "reading profiles.toml needs Python 3.11+ or the tomli package (pip install tomli)"
            ) from None
    try:
        document: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigurationError(f"{config_path()}: not valid TOML: {err}") from None
    return document


def load_profiles(path: Path | None = None) -> dict[str, Any]:
    """The parsed profiles file, or an empty dict when there is none."""
    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as err:
        raise ConfigurationError(f"cannot read the profiles file {path}: {err.strerror}") from None
    return _toml_loads(text)


def profile_names(document: Mapping[str, Any]) -> list[str]:
    return sorted(name for name, value in document.items() if isinstance(value, Mapping))


def default_profile(document: Mapping[str, Any]) -> str | None:
    """The profile to use when none is named: ``$D365CONN_PROFILE``, else the file's ``default``."""
    name = os.environ.get(PROFILE_ENV) or document.get("default")
    return str(name) if name else None


def _keyring_secret(option: str, ref: Mapping[str, Any]) -> str:
    service, username = ref.get("keyring"), ref.get("username")
    if not isinstance(service, str) or not isinstance(username, str):
        raise ConfigurationError(
            f"profile option {option}: a keyring reference is "
            '{ keyring = "<service>", username = "<name>" }'
        )
    try:
        import keyring
        import keyring.errors
    except ImportError:
        raise ConfigurationError(
            f"profile option {option} is kept in the system keyring, which needs the keyring package: "
            "pip install keyring"
        ) from None
    try:
        secret = keyring.get_password(service, username)
    except keyring.errors.KeyringError as err:
        raise ConfigurationError(f"profile option {option}: the system keyring failed: {err}") from None
    if secret is None:
        raise ConfigurationError(
            f"profile option {option}: the keyring has no entry for service {service!r}, user {username!r} "
            f"(store one with: keyring set {service} {username})"
        )
    return str(secret)


def _value(option: str, value: Any) -> str:
    if isinstance(value, Mapping):
        return _keyring_secret(option, value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise ConfigurationError(
        f"profile option {option}: use a string, a number, a boolean or a keyring reference"
    )


def profile_connection_string(name: str, document: Mapping[str, Any] | None = None) -> str:
    """The connection string of profile ``name`` (``connection`` first, other options on top)."""
    document = load_profiles() if document is None else document
    profile = document.get(name)
    if not isinstance(profile, Mapping):
        known = ", ".join(profile_names(document)) or "none"
        raise ConfigurationError(f"no profile {name!r} in {config_path()} (profiles: {known})")
    base = profile.get("connection", "")
    if not isinstance(base, str):
        raise ConfigurationError(f"profile {name!r}: connection must be a connection string")
    pairs = split_pairs(base) if base else []
    options = {key: _value(key, value) for key, value in profile.items() if key != "connection"}
    overridden = {canonical_name(key) for key in options}
    merged = [(k, v) for k, v in pairs if canonical_name(k) not in overridden]
    merged.extend(options.items())
    return join_pairs(merged)
