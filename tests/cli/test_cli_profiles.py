"""Connections from named profiles: ${ENV} secrets, the system keyring, defaults, precedence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import HERE, Run, clean_env


def write_profiles(tmp_path: Path, sb: Any, secret_line: str, extra: str = "") -> Path:
    path = tmp_path / "profiles.toml"
    path.write_text(
        f'default = "sandbox"\n{extra}\n'
        f'[sandbox]\nServiceURL = "{sb.service_url}"\nClientID = "{sb.client_id}"\n'
        f'TokenURI = "{sb.token_uri}"\n'
        f"{secret_line}\n"
        '[broken]\nServiceURL = "https://x.crm.dynamics.com/api/data/v9.2/"\nClientSecrt = "x"\n',
        encoding="utf-8",
    )
    return path


def test_default_profile_with_an_env_secret(run: Run, cli_sandbox: Any, tmp_path: Path) -> None:
    path = write_profiles(tmp_path, cli_sandbox, 'ClientSecret = "${SANDBOX_SECRET}"')
    env = clean_env(D365CONN_CONFIG=str(path), SANDBOX_SECRET=cli_sandbox.client_secret)
    result = run("query", "--format", "csv", "SELECT TOP 2 name FROM account", env=env)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 3
    # The secret's variable missing: a usage error that names the variable, not a value.
    result = run("query", "SELECT TOP 2 name FROM account", env=clean_env(D365CONN_CONFIG=str(path)))
    assert result.returncode == 2 and "SANDBOX_SECRET" in result.stderr


def test_secret_from_the_system_keyring(run: Run, cli_sandbox: Any, tmp_path: Path) -> None:
    path = write_profiles(
        tmp_path, cli_sandbox, 'ClientSecret = { keyring = "d365conn", username = "sandbox" }'
    )
    store = tmp_path / "keyring.json"
    store.write_text(json.dumps({"d365conn\x00sandbox": cli_sandbox.client_secret}))
    env = clean_env(
        D365CONN_CONFIG=str(path),
        PYTHON_KEYRING_BACKEND="file_keyring.FileKeyring",
        TEST_KEYRING_FILE=str(store),
        PYTHONPATH=str(HERE),
    )
    result = run(
        "query", "--profile", "sandbox", "--format", "csv", "SELECT TOP 1 name FROM account", env=env
    )
    assert result.returncode == 0, result.stderr
    assert cli_sandbox.client_secret not in result.stdout + result.stderr
    store.write_text("{}")
    result = run("query", "-p", "sandbox", "SELECT TOP 1 name FROM account", env=env)
    assert result.returncode == 2 and "keyring set d365conn sandbox" in result.stderr


def test_precedence_and_errors(run: Run, cli_sandbox: Any, tmp_path: Path) -> None:
    path = write_profiles(tmp_path, cli_sandbox, f'ClientSecret = "{cli_sandbox.client_secret}"')
    env = clean_env(D365CONN_CONFIG=str(path))
    # --connection beats the default profile; a broken --connection proves which one was used.
    result = run("query", "-c", "ServiceURL=https://x/api/data/v9.2/;ClientSecrt=1", "SELECT 1", env=env)
    assert result.returncode == 2 and "did you mean 'ClientSecret'" in result.stderr
    result = run("query", "-p", "broken", "SELECT 1", env=env)
    assert result.returncode == 2 and "did you mean 'ClientSecret'" in result.stderr
    result = run("query", "-p", "nosuch", "SELECT 1", env=env)
    assert (
        result.returncode == 2
        and "no profile 'nosuch'" in result.stderr
        and "broken, sandbox" in result.stderr
    )
    # $D365CONN_PROFILE names the profile when the file's default is not wanted.
    result = run("query", "SELECT 1", env={**env, "D365CONN_PROFILE": "broken"})
    assert result.returncode == 2 and "ClientSecrt" in result.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("default = \n", encoding="utf-8")
    result = run("query", "SELECT 1", env=clean_env(D365CONN_CONFIG=str(bad)))
    assert result.returncode == 2 and "not valid TOML" in result.stderr


def test_test_command_takes_a_profile(run: Run, cli_sandbox: Any, tmp_path: Path) -> None:
    path = write_profiles(tmp_path, cli_sandbox, f'ClientSecret = "{cli_sandbox.client_secret}"')
    result = run("test", "--profile", "sandbox", env=clean_env(D365CONN_CONFIG=str(path)))
    assert result.returncode == 0, result.stderr
    assert "WhoAmI" in result.stdout + result.stderr
    assert cli_sandbox.client_secret not in result.stdout + result.stderr
