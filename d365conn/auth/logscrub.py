"""Keeping MSAL's DEBUG log free of secrets.

Owns: a :class:`logging.Filter` installed on MSAL's loggers when the MSAL client is used. MSAL masks
tokens, secrets and passwords in its token-cache events, but logs the authorization ``code`` and the
PKCE ``code_verifier`` of an auth-code exchange in clear; this filter masks those (and any token-like
field that a future MSAL might add) before a handler sees the record.
"""

from __future__ import annotations

import logging
import re

_MSAL_LOGGERS = (
    "msal.application",
    "msal.token_cache",
    "msal.authority",
    "msal.telemetry",
    "msal.region",
    "msal.mex",
    "msal.wstrust_request",
    "msal.oauth2cli.oauth2",
    "msal.oauth2cli.oidc",
    "msal.oauth2cli.authcode",
    "msal.oauth2cli.assertion",
)
_FIELDS = (
    r"code|code_verifier|access_token|refresh_token|id_token|client_secret|client_assertion|password|"
    r"assertion"
)
_JSON_FIELD = re.compile(r'("(?:' + _FIELDS + r')"\s*:\s*)"(?!\*{3,})[^"]*"')
_QUERY_FIELD = re.compile(r"(\b(?:" + _FIELDS + r")=)(?!\*{3,})[^&\s'\"]+")
_DICT_FIELD = re.compile(r"('(?:" + _FIELDS + r")'\s*:\s*)'(?!\*{3,})[^']*'")


def scrub(text: str) -> str:
    text = _JSON_FIELD.sub(r'\1"********"', text)
    text = _DICT_FIELD.sub(r"\1'********'", text)
    return _QUERY_FIELD.sub(r"\1********", text)


class SecretScrubber(logging.Filter):
    """Rewrites a record's message with secret fields masked; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


_SCRUBBER = SecretScrubber()


def install_msal_scrubber() -> None:
    """Attach the scrubber to MSAL's loggers (idempotent: a logger keeps one instance once)."""
    for name in _MSAL_LOGGERS:
        logger = logging.getLogger(name)
        if _SCRUBBER not in logger.filters:
            logger.addFilter(_SCRUBBER)
