"""The token cache file named by TokenCachePath: tokens that outlive the process.

Owns: one JSON document per file, created with mode 0600 (its directory 0700 when we create it),
written atomically (temporary file + rename) under a lock shared by threads and -- through a
``.lock`` file and ``fcntl`` where available -- processes. Where MSAL is used its own cache sits at
the top level in MSAL's format (``AccessToken``, ``RefreshToken``, ``Account``...); d365conn's records
(the newest refresh token and access token per set of credentials) live under the ``d365conn`` key,
which MSAL ignores. A record remembers a digest of the refresh token it descends from (``seed``),
so a token pasted into a new connection string wins over an older family in the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..exceptions import ConfigurationError

_flock: Callable[[int, int], None] | None
try:
    import fcntl

    _flock, _LOCK_EX, _LOCK_UN = fcntl.flock, fcntl.LOCK_EX, fcntl.LOCK_UN
except ImportError:  # pragma: no cover - Windows: the thread lock only
    _flock, _LOCK_EX, _LOCK_UN = None, 0, 0

log = logging.getLogger("d365conn.auth")

SECTION = "d365conn"
_locks: dict[str, threading.RLock] = {}
_locks_guard = threading.Lock()


def digest(value: str | None) -> str | None:
    """A short, one-way name for a secret (never reversible into it)."""
    if not value:
        return None
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _thread_lock(path: Path) -> threading.RLock:
    key = str(path)
    with _locks_guard:
        return _locks.setdefault(key, threading.RLock())


class TokenCacheFile:
    """One cache file. Every method may be called from any thread."""

    def __init__(self, path: Path) -> None:
        self.path = path.expanduser().absolute()
        self._lock = _thread_lock(self.path)

    def __repr__(self) -> str:
        return f"TokenCacheFile({str(self.path)!r})"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        with self._lock:
            if _flock is None:
                yield
                return
            self._ensure_dir()
            fd = os.open(str(self.path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                _flock(fd, _LOCK_EX)
                yield
            finally:
                _flock(fd, _LOCK_UN)
                os.close(fd)

    def _ensure_dir(self) -> None:
        parent = self.path.parent
        if not parent.exists():
            parent.mkdir(parents=True, mode=0o700, exist_ok=True)

    def read(self) -> dict[str, Any]:
        """The whole document ({} when the file does not exist yet)."""
        with self._lock:
            try:
                text = self.path.read_text(encoding="utf-8")
            except FileNotFoundError:
                return {}
            except OSError as exc:
                raise ConfigurationError(
                    f"TokenCachePath {str(self.path)!r} cannot be read: {exc.strerror}"
                ) from None
            self._tighten()
            if not text.strip():
                return {}
            try:
                doc = json.loads(text)
            except json.JSONDecodeError:
                raise ConfigurationError(
                    f"TokenCachePath {str(self.path)!r} is not a token cache (not JSON); "
                    "delete it or name another file"
                ) from None
            if not isinstance(doc, dict):
                raise ConfigurationError(
                    f"TokenCachePath {str(self.path)!r} is not a token cache (not a JSON object)"
                )
            return doc

    def _tighten(self) -> None:
        # A cache copied around may have lost its mode; it holds refresh tokens, so fix it.
        try:
            mode = stat.S_IMODE(self.path.stat().st_mode)
            if mode & 0o077:
                log.warning("token cache %s had mode %o; setting 0600", self.path, mode)
                os.chmod(self.path, 0o600)
        except OSError:
            pass

    def write(self, doc: dict[str, Any]) -> None:
        """Replace the document atomically; the file is 0600 from its first byte."""
        with self._lock:
            self._ensure_dir()
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            fd = os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump(doc, handle, indent=1, sort_keys=True)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.chmod(tmp, 0o600)
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise

    # --- d365conn records ----------------------------------------------------------------------

    def record(self, key: str) -> dict[str, Any] | None:
        section = self.read().get(SECTION)
        if isinstance(section, dict):
            value = section.get(key)
            if isinstance(value, dict):
                return value
        return None

    def put_record(self, key: str, record: dict[str, Any]) -> None:
        with self.locked():
            doc = self.read()
            section = doc.get(SECTION)
            if not isinstance(section, dict):
                section = {}
            section[key] = record
            doc[SECTION] = section
            self.write(doc)

    # --- MSAL's part ---------------------------------------------------------------------------

    def msal_state(self) -> str:
        """The document for ``SerializableTokenCache.deserialize`` (our section is ignored by MSAL)."""
        doc = self.read()
        return json.dumps(doc) if doc else ""

    def put_msal_state(self, serialized: str) -> None:
        """Store MSAL's serialized cache, keeping the d365conn records as they are on disk now."""
        with self.locked():
            current = self.read()
            doc = json.loads(serialized) if serialized else {}
            if not isinstance(doc, dict):
                return
            if SECTION in current:
                doc[SECTION] = current[SECTION]
            self.write(doc)
