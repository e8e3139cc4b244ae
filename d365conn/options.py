"""The table of connection options: canonical names, aliases, types, defaults, meaning.

Owns: which options exist. DataDirect's names are canonical (our users come from its ODBC/JDBC
drivers); CData's and other tools' names are aliases. :mod:`d365conn.config` turns strings into a
typed :class:`~d365conn.config.Config` using this table, and ``docs/connection-string.md`` mirrors
it (a test keeps the two in step).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["str", "secret", "int", "float", "bool", "choice", "path"]


@dataclass(frozen=True)
class OptionSpec:
    """One connection option."""

    name: str  # canonical (DataDirect) name
    attr: str  # field of Config
    kind: Kind
    doc: str
    aliases: tuple[str, ...] = ()
    default: str | int | float | bool | None = None
    choices: tuple[str, ...] = ()

    @property
    def secret(self) -> bool:
        return self.kind == "secret"


AUTH_METHODS = (
    "ClientCredentials",
    "RefreshToken",
    "AccessToken",
    "AuthorizationCode",
    "UserPassword",
    "None",
)

SQL_DIALECTS = ("tsql", "postgres", "mysql", "spark", "duckdb", "sqlite", "bigquery", "snowflake", "trino")

OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec("Driver", "driver", "str", "Accepted and kept for ODBC tools; d365conn does not need it."),
    OptionSpec(
        "ServiceURL",
        "service_url",
        "str",
        "Root of the service: `https://<org>.crm.dynamics.com/api/data/v9.2/` (Dataverse), "
        "`https://api.businesscentral.dynamics.com/v2.0/<tenant>/<env>/ODataV4/` or `.../api/v2.0/` "
        "(Business Central), or any OData v4 service root.",
        aliases=("OrganizationUrl", "URL", "ServiceRoot", "ServiceUri"),
    ),
    OptionSpec(
        "ServiceType",
        "service_type",
        "choice",
        "Which service the URL points at; `auto` tells it from the URL (`/api/data/` is Dataverse, "
        "`businesscentral.dynamics.com` or `/ODataV4/` is Business Central, anything else plain OData v4).",
        aliases=("Flavour", "Flavor", "ServiceKind"),
        default="auto",
        choices=("auto", "dataverse", "businesscentral", "odata"),
    ),
    OptionSpec(
        "AuthenticationMethod",
        "authentication_method",
        "choice",
        "The OAuth 2.0 grant. Without it the grant is inferred from the other options "
        "(docs/authentication.md). Accepts DataDirect's `OAuth2`/`24` (infer the grant) and CData's "
        "AuthScheme names.",
        aliases=("AuthScheme", "AM", "AuthMethod", "GrantType"),
        choices=AUTH_METHODS,
    ),
    OptionSpec(
        "ClientID",
        "client_id",
        "str",
        "Application (client) id of the app registration.",
        aliases=("OAuthClientId", "AppId", "ApplicationId"),
    ),
    OptionSpec(
        "ClientSecret",
        "client_secret",
        "secret",
        "Client secret of the app registration.",
        aliases=("OAuthClientSecret",),
    ),
    OptionSpec(
        "ClientCertificate",
        "client_certificate",
        "path",
        "PEM file holding the private key and certificate for certificate-based client credentials.",
        aliases=("OAuthJWTCert", "CertificatePath"),
    ),
    OptionSpec(
        "ClientCertificatePassword",
        "client_certificate_password",
        "secret",
        "Passphrase of the private key in ClientCertificate.",
        aliases=("OAuthJWTCertPassword",),
    ),
    OptionSpec(
        "ClientAssertion",
        "client_assertion",
        "secret",
        "A signed JWT client assertion (federated credentials), used instead of a secret.",
    ),
    OptionSpec(
        "ClientAuthentication",
        "client_authentication",
        "choice",
        "How the client authenticates at the token endpoint: in the form `Body` or with HTTP `Basic`.",
        aliases=("CredentialType", "ClientAuthMethod"),
        default="Body",
        choices=("Body", "Basic"),
    ),
    OptionSpec(
        "TokenURI",
        "token_uri",
        "str",
        "Token endpoint. `POST https://...` (method first) is accepted. Derived from TenantID when absent.",
        aliases=("OAuthAccessTokenUrl", "TokenURL", "TokenEndpoint", "AccessTokenURL"),
    ),
    OptionSpec(
        "AuthURI",
        "auth_uri",
        "str",
        "Authorization endpoint for the interactive login.",
        aliases=("OAuthAuthorizationUrl", "AuthURL", "AuthorizationURL", "AuthorizeURL"),
    ),
    OptionSpec(
        "RedirectURI",
        "redirect_uri",
        "str",
        "Redirect URI registered on the app; `http://localhost` lets `d365conn login` pick a free port.",
        aliases=("CallbackURL", "RedirectURL", "ReplyURL"),
    ),
    OptionSpec(
        "RefreshToken",
        "refresh_token",
        "secret",
        "OAuth refresh token (rotated tokens are kept).",
        aliases=("OAuthRefreshToken",),
    ),
    OptionSpec(
        "AccessToken",
        "access_token",
        "secret",
        "OAuth access token, used as given until it expires.",
        aliases=("OAuthAccessToken",),
    ),
    OptionSpec(
        "Scope",
        "scope",
        "str",
        "Space-separated scopes (Entra v2). Default: `<origin>/.default` for app-only grants, "
        "`<origin>/user_impersonation offline_access` for delegated ones.",
        aliases=("OAuthScope", "Scopes"),
    ),
    OptionSpec(
        "Resource",
        "resource",
        "str",
        "Resource (Entra v1 endpoints). Default: the service origin.",
        aliases=("ResourceURL", "ResourceURI"),
    ),
    OptionSpec(
        "TenantID",
        "tenant_id",
        "str",
        "Entra tenant (GUID or domain); derives TokenURI and AuthURI.",
        aliases=("AzureTenant", "Tenant", "DirectoryId"),
    ),
    OptionSpec(
        "LogonID",
        "logon_id",
        "str",
        "User name for the UserPassword grant.",
        aliases=("User", "UserName", "UID", "UserId"),
    ),
    OptionSpec("Password", "password", "secret", "Password for the UserPassword grant.", aliases=("PWD",)),
    OptionSpec(
        "Company",
        "company",
        "str",
        "Business Central company, by name or id.",
        aliases=("CompanyName", "CompanyId"),
    ),
    OptionSpec(
        "ConnectTimeout",
        "connect_timeout",
        "float",
        "Seconds to wait for a TCP/TLS connection.",
        aliases=("LoginTimeout",),
        default=30.0,
    ),
    OptionSpec(
        "WSTimeout",
        "read_timeout",
        "float",
        "Seconds to wait for a response to one web service request (DataDirect WSTimeout).",
        aliases=("ReadTimeout", "Timeout"),
        default=120.0,
    ),
    OptionSpec(
        "StatementTimeout",
        "statement_timeout",
        "float",
        "Seconds a whole statement may run, all pages and retries included; 0 = no limit.",
        aliases=("QueryTimeout", "CommandTimeout"),
        default=0.0,
    ),
    OptionSpec(
        "WSRetryCount",
        "retry_count",
        "int",
        "How many times a failed read request (429, 502/503/504, dropped connection) is retried.",
        aliases=("RetryCount", "MaxRetries"),
        default=5,
    ),
    OptionSpec(
        "WSFetchSize",
        "page_size",
        "int",
        "Rows per page asked of the service (`Prefer: odata.maxpagesize`); 0 = the service maximum.",
        aliases=("PageSize", "MaxPageSize", "FetchSize"),
        default=0,
    ),
    OptionSpec("ProxyHost", "proxy_host", "str", "HTTP proxy host."),
    OptionSpec("ProxyPort", "proxy_port", "int", "HTTP proxy port.", default=None),
    OptionSpec("ProxyUser", "proxy_user", "str", "HTTP proxy user."),
    OptionSpec("ProxyPassword", "proxy_password", "secret", "HTTP proxy password."),
    OptionSpec(
        "CACertificate",
        "ca_certificate",
        "path",
        "PEM bundle of CAs to trust for the service and the token endpoint (test CAs, proxies).",
        aliases=("CABundle", "TrustStore", "SSLCertificate"),
    ),
    OptionSpec(
        "VerifyServerCertificate",
        "verify_server_certificate",
        "bool",
        "Verify TLS certificates. Turning it off is for diagnosis only.",
        aliases=("ValidateServerCertificate", "VerifySSL"),
        default=True,
    ),
    OptionSpec(
        "IncludeFormattedValues",
        "include_formatted_values",
        "bool",
        "Ask for formatted values so `<lookup>name` and `<choice>name` columns are filled.",
        aliases=("FormattedValues",),
        default=True,
    ),
    OptionSpec(
        "TokenCachePath",
        "token_cache_path",
        "path",
        "File that keeps tokens between runs (created 0600); rotated refresh tokens are saved there.",
        aliases=("TokenCache", "OAuthSettingsLocation"),
    ),
    OptionSpec(
        "TokenRefreshMargin",
        "token_refresh_margin",
        "float",
        "Seconds before expiry at which an access token is renewed (at most half its lifetime).",
        aliases=("RefreshMargin", "TokenRenewMargin"),
        default=300.0,
    ),
    OptionSpec(
        "OAuthClient",
        "oauth_client",
        "choice",
        "Which OAuth client talks to the issuer: `auto` (MSAL for Microsoft Entra v2 endpoints, the "
        "plain OAuth 2.0 client otherwise), `MSAL` or `Plain` (docs/authentication.md).",
        aliases=("OAuthLibrary", "TokenClient"),
        default="auto",
        choices=("auto", "MSAL", "Plain"),
    ),
    OptionSpec(
        "Authority",
        "authority",
        "str",
        "OpenID Connect issuer URL: TokenURI and AuthURI are discovered from "
        "`<Authority>/.well-known/openid-configuration` when absent; MSAL uses it for "
        "non-Microsoft issuers.",
        aliases=("Issuer", "OIDCAuthority", "AuthorityURL"),
    ),
    OptionSpec(
        "InteractiveLogin",
        "interactive_login",
        "bool",
        "Let connect() open a browser for the AuthorizationCode grant when no token is cached "
        "(otherwise run `d365conn login` first).",
        aliases=("OpenBrowser", "LaunchBrowser"),
        default=False,
    ),
    OptionSpec(
        "SQLDialect",
        "sql_dialect",
        "choice",
        "How SQL text is read: `tsql` (default; TOP and LIMIT both work) or a BI tool's dialect.",
        aliases=("Dialect", "InputDialect"),
        default="tsql",
        choices=SQL_DIALECTS,
    ),
    OptionSpec(
        "SchemaMap",
        "schema_map",
        "path",
        "Directory where table metadata is cached between runs (DataDirect's schema map).",
        aliases=("SchemaCache", "MetadataCache"),
    ),
    OptionSpec(
        "SchemaRefresh",
        "schema_refresh",
        "choice",
        "When cached metadata is reloaded: `reuse` it, when the service's metadata `version` changes, "
        "or `always`.",
        aliases=("MetadataRefresh",),
        default="version",
        choices=("reuse", "version", "always"),
    ),
    OptionSpec(
        "Autocommit",
        "autocommit",
        "bool",
        "Apply each write at once (default) or queue writes until commit().",
        default=True,
    ),
    OptionSpec(
        "ApplicationName",
        "application_name",
        "str",
        "Added to the User-Agent header.",
        aliases=("UserAgent", "AppName"),
    ),
    OptionSpec(
        "ContinueOnError",
        "continue_on_error",
        "bool",
        "executemany() with autocommit: keep going after a failed row and report every failed row "
        "in one BatchError (the rows that succeeded stay applied; no change sets). Off: each batch "
        "is one atomic change set that stops at the first failure (docs/writes.md).",
        aliases=("ContinueOnErrors",),
        default=False,
    ),
    OptionSpec(
        "OptimisticConcurrency",
        "optimistic_concurrency",
        "bool",
        "UPDATE and DELETE send each row's etag as `If-Match`, so a row changed after it was read fails "
        "with ConcurrencyError instead of being overwritten; `false` means last writer wins. Unset: on "
        "for Business Central (which requires If-Match), off for Dataverse.",
        aliases=("ConcurrencyCheck",),
        default=None,
    ),
    OptionSpec(
        "AllowUnfilteredWrites",
        "allow_unfiltered_writes",
        "bool",
        "Allow UPDATE and DELETE without a WHERE clause (every row of the table).",
        aliases=("AllowUpdateWithoutWhere",),
        default=False,
    ),
    OptionSpec(
        "BatchSize",
        "batch_size",
        "int",
        "Rows per `$batch` request or bulk action call (1-1000: a `$batch` holds at most 1,000).",
        aliases=("WriteBatchSize",),
        default=1000,
    ),
    OptionSpec(
        "UseBulkActions",
        "use_bulk_actions",
        "choice",
        "executemany() through CreateMultiple/UpdateMultiple/UpsertMultiple: `auto` when the table "
        "supports them (probed once), `true` always, `false` never (then `$batch`).",
        aliases=("BulkActions",),
        default="auto",
        choices=("auto", "true", "false"),
    ),
    OptionSpec(
        "ScanPartitions",
        "scan_partitions",
        "int",
        "Split a whole-table read into this many range queries fetched in parallel (1 = off). Used "
        "only for reads without TOP/LIMIT, aggregation, or an ORDER BY other than the partition "
        "column; rows and order match a plain read (docs/performance.md). 16 suits big extracts.",
        aliases=("PartitionCount", "ParallelScans"),
        default=1,
    ),
    OptionSpec(
        "PartitionColumn",
        "partition_column",
        "str",
        "What ScanPartitions splits on: `auto` (ranges of a Dataverse GUID primary key between its "
        "smallest and largest value, in SQL Server's uniqueidentifier order; else `createdon` date "
        "ranges), `key` (only the primary key) or the name of a date/datetime column.",
        aliases=("PartitionBy",),
        default="auto",
    ),
    OptionSpec(
        "MaxConcurrency",
        "max_concurrency",
        "int",
        "Most partitions of one statement read at once (1-26); each keeps at most one more page in "
        "flight, so a statement stays under Dataverse's 52 concurrent requests.",
        aliases=("MaxParallelRequests", "Parallelism"),
        default=8,
    ),
)


def _build_index() -> dict[str, OptionSpec]:
    index: dict[str, OptionSpec] = {}
    for spec in OPTIONS:
        for name in (spec.name, *spec.aliases):
            folded = name.casefold()
            if folded in index:  # pragma: no cover - guards the table itself
                raise RuntimeError(f"option name {name!r} is listed twice")
            index[folded] = spec
    return index


BY_NAME: dict[str, OptionSpec] = _build_index()
