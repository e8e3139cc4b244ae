"""Typed, frozen connection configuration.

Owns: turning a connection string and keyword options into a :class:`Config` -- canonical names,
``${ENV}`` references, type conversion, defaults and the "did you mean" errors. It knows nothing of
HTTP or OAuth: which grant a config implies is decided by :mod:`d365conn.auth`.

Flow: ``text -> connstr.split_pairs -> ConnectionOptions (canonical names, raw strings)
-> Config.from_options (typed values)``.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .connstr import join_pairs, split_pairs
from .exceptions import ConfigurationError, NotSupportedError
from .options import AUTH_METHODS, BY_NAME, OPTIONS, OptionSpec

#: Environment variable that may hold a whole connection string.
CONNECTION_STRING_ENV = "D365CONN_CONNECTION_STRING"

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

# Names other products use for the grant, folded to ours. ``None`` here means "infer the grant".
_AUTH_ALIASES: dict[str, str | None] = {
    "oauth2": None,
    "oauth": None,
    "24": None,  # DataDirect's numeric code for OAuth2
    "azuread": None,  # CData: delegated OAuth; the grant follows from the tokens given
    "clientcredentials": "ClientCredentials",
    "client_credentials": "ClientCredentials",
    "azureserviceprincipal": "ClientCredentials",
    "azureserviceprincipalcert": "ClientCredentials",
    "refreshtoken": "RefreshToken",
    "refresh_token": "RefreshToken",
    "accesstoken": "AccessToken",
    "access_token": "AccessToken",
    "authorizationcode": "AuthorizationCode",
    "authorization_code": "AuthorizationCode",
    "interactive": "AuthorizationCode",
    "userpassword": "UserPassword",
    "password": "UserPassword",
    "azurepassword": "UserPassword",
    "ropc": "UserPassword",
    "none": "None",
    "anonymous": "None",
    "noauth": "None",
}
_UNSUPPORTED_AUTH = {
    "ntlm": "NTLM (on-premises Dynamics) is not supported; use an OAuth 2.0 grant",
    "6": "AuthenticationMethod=6 (NTLM, on-premises Dynamics) is not supported; use an OAuth 2.0 grant",
    "azuremsi": "managed identities are not supported yet; use ClientCredentials with a secret or a "
    "certificate",
}


class ConnectionOptions(Mapping[str, str]):
    """Raw option values under canonical names, looked up case-insensitively by any name or alias.

    Its repr hides secret values, so it is safe to log.
    """

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._values: dict[str, str] = {}
        for key, value in (values or {}).items():
            self._values[canonical_name(key)] = value

    def __getitem__(self, key: str) -> str:
        return self._values[canonical_name(key)]

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        spec = BY_NAME.get(key.casefold())
        return spec is not None and spec.name in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def merged(self, overrides: Mapping[str, Any]) -> ConnectionOptions:
        """A copy with ``overrides`` (any names, any values; None removes) applied on top."""
        values = dict(self._values)
        for key, value in overrides.items():
            name = canonical_name(key)
            if value is None:
                values.pop(name, None)
            else:
                values[name] = _to_text(value)
        return ConnectionOptions(values)

    def to_connection_string(self, *, reveal_secrets: bool = False) -> str:
        """Write the options back as a connection string; secrets masked unless asked otherwise."""
        pairs = [
            (name, value if reveal_secrets or not BY_NAME[name.casefold()].secret else "***")
            for name, value in self._values.items()
        ]
        return join_pairs(pairs)

    def __repr__(self) -> str:
        return f"ConnectionOptions({self.to_connection_string()!r})"


def canonical_name(key: str) -> str:
    """The canonical name of an option, or ConfigurationError naming the nearest known one."""
    spec = BY_NAME.get(key.strip().casefold())
    if spec is None:
        raise ConfigurationError(_unknown_key_message(key))
    return spec.name


def _unknown_key_message(key: str) -> str:
    names = {name.casefold(): name for spec in OPTIONS for name in (spec.name, *spec.aliases)}
    close = difflib.get_close_matches(key.strip().casefold(), list(names), n=1, cutoff=0.6)
    hint = f"; did you mean {names[close[0]]!r}?" if close else "; see docs/connection-string.md"
    return f"unknown connection option {key.strip()!r}{hint}"


def _to_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_connection_string(text: str) -> ConnectionOptions:
    """Parse a DataDirect-style ``key=value;`` string into options under canonical names.

    ``${NAME}`` inside a value is replaced by the environment variable NAME (a missing variable is
    an error). Unknown keys raise ConfigurationError (a ProgrammingError) naming the nearest known key.
    """
    values: dict[str, str] = {}
    for key, value in split_pairs(text):
        name = canonical_name(key)
        if name in values:
            raise ConfigurationError(f"connection string: option {name!r} is given twice (as {key!r})")
        values[name] = value
    return ConnectionOptions(values)


def _expand_env(name: str, value: str) -> str:
    def replace(match: re.Match[str]) -> str:
        env = match.group(1)
        if env not in os.environ:
            raise ConfigurationError(
                f"option {name} refers to environment variable ${{{env}}}, which is not set"
            )
        return os.environ[env]

    return _ENV_REF.sub(replace, value)


@dataclass(frozen=True)
class Config:
    """Every connection option, typed. Build it with :meth:`from_options` or :func:`build_config`.

    Secret fields are excluded from repr and comparison output.
    """

    service_url: str = ""
    driver: str | None = None
    service_type: str = "auto"
    authentication_method: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    client_certificate: Path | None = None
    client_certificate_password: str | None = field(default=None, repr=False)
    client_assertion: str | None = field(default=None, repr=False)
    client_authentication: str = "Body"
    token_uri: str | None = None
    token_method: str = "POST"
    auth_uri: str | None = None
    redirect_uri: str | None = None
    refresh_token: str | None = field(default=None, repr=False)
    access_token: str | None = field(default=None, repr=False)
    scope: str | None = None
    resource: str | None = None
    tenant_id: str | None = None
    logon_id: str | None = None
    password: str | None = field(default=None, repr=False)
    company: str | None = None
    connect_timeout: float = 30.0
    read_timeout: float = 120.0
    statement_timeout: float = 0.0
    retry_count: int = 5
    page_size: int = 0
    proxy_host: str | None = None
    proxy_port: int | None = None
    proxy_user: str | None = None
    proxy_password: str | None = field(default=None, repr=False)
    ca_certificate: Path | None = None
    verify_server_certificate: bool = True
    include_formatted_values: bool = True
    token_cache_path: Path | None = None
    token_refresh_margin: float = 300.0
    oauth_client: str = "auto"
    authority: str | None = None
    interactive_login: bool = False
    sql_dialect: str = "tsql"
    schema_map: Path | None = None
    schema_refresh: str = "version"
    autocommit: bool = True
    application_name: str | None = None
    continue_on_error: bool = False
    #: None: the service's default (on for Business Central, off for Dataverse).
    optimistic_concurrency: bool | None = None
    allow_unfiltered_writes: bool = False
    batch_size: int = 1000
    use_bulk_actions: str = "auto"
    scan_partitions: int = 1
    partition_column: str = "auto"
    max_concurrency: int = 8

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> Config:
        """Convert raw options (canonical or alias names) into a typed Config."""
        opts = options if isinstance(options, ConnectionOptions) else ConnectionOptions(options)
        kwargs: dict[str, Any] = {}
        for name in opts:
            spec = BY_NAME[name.casefold()]
            raw = _expand_env(spec.name, opts[name])
            kwargs[spec.attr] = _convert(spec, raw)
        token_uri = kwargs.get("token_uri")
        if isinstance(token_uri, str):
            kwargs["token_method"], kwargs["token_uri"] = _split_method(token_uri)
        config = cls(**kwargs)
        config._check()
        return config

    def _check(self) -> None:
        if not self.service_url:
            raise ConfigurationError(
                "ServiceURL is required, e.g. ServiceURL=https://<org>.crm.dynamics.com/api/data/v9.2/ "
                f"(or set ${CONNECTION_STRING_ENV} to a whole connection string)"
            )
        if not re.match(r"^https?://[^/\s]+", self.service_url):
            raise ConfigurationError(
                "ServiceURL must be an absolute http(s) URL, e.g. https://<org>.crm.dynamics.com/api/data/v9.2/"
            )
        if not 1 <= self.batch_size <= 1000:
            raise ConfigurationError(
                f"BatchSize must be between 1 and 1000 (the $batch limit); got {self.batch_size}"
            )
        if not 1 <= self.scan_partitions <= 256:
            raise ConfigurationError(
                f"ScanPartitions must be between 1 (off) and 256; got {self.scan_partitions}"
            )
        if not 1 <= self.max_concurrency <= 26:
            raise ConfigurationError(
                f"MaxConcurrency must be between 1 and 26 (half the service's 52 concurrent requests); "
                f"got {self.max_concurrency}"
            )
        if self.page_size < 0 or self.retry_count < 0:
            raise ConfigurationError("WSFetchSize and WSRetryCount must not be negative")
        if self.read_timeout <= 0 or self.connect_timeout <= 0 or self.statement_timeout < 0:
            raise ConfigurationError("ConnectTimeout and WSTimeout must be positive, StatementTimeout >= 0")

    @property
    def service_root(self) -> str:
        """ServiceURL with exactly one trailing slash."""
        return self.service_url.rstrip("/") + "/"

    @property
    def proxy_url(self) -> str | None:
        """The proxy URL from ProxyHost/ProxyPort/ProxyUser/ProxyPassword, or None (it may carry the
        password: never log it). The token requests and the service requests both use it."""
        if not self.proxy_host:
            return None
        host = self.proxy_host.strip()
        scheme, sep, rest = host.partition("://")
        if not sep:
            scheme, rest = "http", host
        # A port written in ProxyHost wins over ProxyPort (the bracket keeps IPv6 colons out of it).
        if self.proxy_port and ":" not in rest.rstrip("/").rsplit("]", 1)[-1]:
            rest = f"{rest.rstrip('/')}:{self.proxy_port}"
        if self.proxy_user:
            credentials = quote(self.proxy_user, safe="")
            if self.proxy_password:
                credentials += ":" + quote(self.proxy_password, safe="")
            rest = f"{credentials}@{rest}"
        return f"{scheme}://{rest}"

    @property
    def tls_verify(self) -> bool | str:
        """``verify`` for requests: False (VerifyServerCertificate=false), the CACertificate path, or True."""
        if not self.verify_server_certificate:
            return False
        if self.ca_certificate is not None:
            return str(self.ca_certificate)
        return True

    def replace(self, **changes: Any) -> Config:
        """A copy with some fields changed."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Config(**values)


def _split_method(value: str) -> tuple[str, str]:
    """``"POST https://..."`` -> ("POST", "https://..."): some products write the method first."""
    match = re.match(r"^\s*(GET|POST)\s+(\S+)\s*$", value, re.IGNORECASE)
    if match:
        return match.group(1).upper(), match.group(2)
    if re.search(r"\s", value.strip()):
        raise ConfigurationError(
            "TokenURI must be a URL, optionally preceded by the method: TokenURI=POST https://..."
        )
    return "POST", value.strip()


def _convert(spec: OptionSpec, raw: str) -> Any:
    text = raw.strip() if spec.kind != "secret" else raw
    if spec.kind in ("str", "secret"):
        return text if text != "" else None
    if text == "":
        return spec.default
    if spec.kind == "int":
        try:
            return int(text)
        except ValueError:
            raise ConfigurationError(f"option {spec.name} must be a whole number, got {text!r}") from None
    if spec.kind == "float":
        try:
            return float(text)
        except ValueError:
            raise ConfigurationError(
                f"option {spec.name} must be a number of seconds, got {text!r}"
            ) from None
    if spec.kind == "bool":
        folded = text.casefold()
        if folded in ("1", "true", "yes", "on"):
            return True
        if folded in ("0", "false", "no", "off"):
            return False
        raise ConfigurationError(f"option {spec.name} must be true or false, got {text!r}")
    if spec.kind == "path":
        return Path(os.path.expanduser(text))
    if spec.name == "AuthenticationMethod":
        return _auth_method(text)
    for choice in spec.choices:
        if choice.casefold() == text.casefold():
            return choice
    raise ConfigurationError(f"option {spec.name} must be one of {', '.join(spec.choices)}; got {text!r}")


def _auth_method(text: str) -> str | None:
    folded = text.casefold()
    if folded in _UNSUPPORTED_AUTH:
        raise NotSupportedError(_UNSUPPORTED_AUTH[folded])
    if folded in _AUTH_ALIASES:
        return _AUTH_ALIASES[folded]
    raise ConfigurationError(
        f"AuthenticationMethod {text!r} is not known; use one of {', '.join(AUTH_METHODS)} "
        "(or OAuth2 to infer)"
    )


def build_config(connection_string: str | None = None, **options: Any) -> Config:
    """The Config for ``connect()``: the string (or $D365CONN_CONNECTION_STRING), keywords on top."""
    if connection_string is None:
        connection_string = os.environ.get(CONNECTION_STRING_ENV, "")
    parsed = parse_connection_string(connection_string)
    return Config.from_options(parsed.merged(options))
