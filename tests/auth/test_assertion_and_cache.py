"""Certificate client assertions, the cache file (mode, atomic writes, MSAL coexistence), proxies."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from d365conn.auth.assertion import load_certificate, sign_assertion
from d365conn.auth.cache import TokenCacheFile
from d365conn.auth.http import proxies_for
from d365conn.config import build_config
from d365conn.exceptions import ConfigurationError


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_pem(path: Path, password: str | None = None) -> rsa.RSAPrivateKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "d365conn test app")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    encryption = (
        serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    )
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
        + cert.public_bytes(serialization.Encoding.PEM)
    )
    return key


def test_signed_client_assertion(tmp_path: Path) -> None:
    pem = tmp_path / "app.pem"
    key = make_pem(pem, password="pem-pass")
    cert = load_certificate(pem, "pem-pass")
    token = sign_assertion(cert, "client-1", "https://login.microsoftonline.com/t/oauth2/v2.0/token")
    header_b64, claims_b64, signature = token.split(".")
    header, claims = json.loads(_b64(header_b64)), json.loads(_b64(claims_b64))
    assert header["alg"] == "RS256" and header["x5t"] == cert.x5t
    assert claims["iss"] == claims["sub"] == "client-1" and claims["aud"].endswith("/token")
    assert claims["exp"] - claims["nbf"] == 600
    key.public_key().verify(
        _b64(signature), f"{header_b64}.{claims_b64}".encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    with pytest.raises(ConfigurationError, match="ClientCertificatePassword"):
        load_certificate(pem, "wrong")
    assert "pem-pass" not in repr(cert) and "PRIVATE" not in repr(cert)


def test_cache_file_mode_and_sections(tmp_path: Path) -> None:
    path = tmp_path / "new-dir" / "tokens.json"
    cache = TokenCacheFile(path)
    cache.put_record("k1", {"refresh_token": "rt-1"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    cache.put_msal_state(json.dumps({"RefreshToken": {"x": {"secret": "msal-rt"}}}))
    doc = json.loads(path.read_text())
    assert doc["d365conn"]["k1"]["refresh_token"] == "rt-1" and "RefreshToken" in doc  # both kept
    os.chmod(path, 0o644)  # a copied cache that lost its mode is tightened on read
    assert cache.record("k1") == {"refresh_token": "rt-1"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not list(path.parent.glob(".*.tmp"))  # atomic writes leave nothing behind
    path.write_text("not json")
    with pytest.raises(ConfigurationError, match="not a token cache"):
        cache.read()


def test_proxy_options_apply_to_token_requests() -> None:
    config = build_config(
        "ServiceURL=https://o.crm.dynamics.com/api/data/v9.2/;ProxyHost=proxy.corp;ProxyPort=3128;"
        "ProxyUser=dom\\me;ProxyPassword=p@ss:word"
    )
    proxies = proxies_for(config)
    assert proxies["https"] == "http://dom%5Cme:p%40ss%3Aword@proxy.corp:3128"
