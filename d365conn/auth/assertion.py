"""Certificate client credentials: a PEM key and certificate turned into a signed JWT assertion.

Owns: loading ClientCertificate (private key + certificate in one PEM file, optionally encrypted with
ClientCertificatePassword) and signing the RFC 7523 client assertion the plain OAuth client sends
(``client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer``). MSAL signs its
own assertions from the same PEM parts (:func:`load_certificate`). Built on ``cryptography`` only.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from ..exceptions import ConfigurationError

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_LIFETIME = 600  # seconds; Entra accepts up to ten minutes of validity


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class ClientCertificate:
    """The PEM parts of ClientCertificate and the thumbprints the assertion header names."""

    private_key_pem: str = field(repr=False)
    certificate_pem: str
    sha1_thumbprint: str  # hex, for MSAL
    x5t: str  # base64url SHA-1 thumbprint
    x5t_s256: str  # base64url SHA-256 thumbprint


def load_certificate(path: Path, password: str | None) -> ClientCertificate:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"ClientCertificate {str(path)!r} cannot be read: {exc.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password.encode() if password else None)
    except (ValueError, TypeError):
        raise ConfigurationError(
            f"ClientCertificate {str(path)!r} holds no private key that can be read "
            "(wrong ClientCertificatePassword, or not PEM)"
        ) from None
    try:
        cert = x509.load_pem_x509_certificate(data)
    except ValueError:
        raise ConfigurationError(
            f"ClientCertificate {str(path)!r} must hold the certificate too (PEM, after the private key)"
        ) from None
    der = cert.public_bytes(serialization.Encoding.DER)
    sha1 = cert.fingerprint(hashes.SHA1())  # noqa: S303 - the x5t header is defined as a SHA-1 thumbprint
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    return ClientCertificate(
        private_key_pem=key_pem,
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        sha1_thumbprint=sha1.hex(),
        x5t=_b64url(sha1),
        x5t_s256=_b64url(cert.fingerprint(hashes.SHA256())) if der else "",
    )


def sign_assertion(cert: ClientCertificate, client_id: str, audience: str) -> str:
    """A fresh client assertion for ``audience`` (the token endpoint URL)."""
    key = serialization.load_pem_private_key(cert.private_key_pem.encode("ascii"), None)
    now = int(time.time())
    claims = {
        "aud": audience,
        "iss": client_id,
        "sub": client_id,
        "jti": str(uuid.uuid4()),
        "nbf": now,
        "iat": now,
        "exp": now + _LIFETIME,
    }
    if isinstance(key, rsa.RSAPrivateKey):
        alg = "RS256"
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        alg = "ES256"
    else:
        raise ConfigurationError("ClientCertificate: only RSA and EC keys can sign a client assertion")
    header = {"alg": alg, "typ": "JWT", "x5t": cert.x5t, "x5t#S256": cert.x5t_s256}
    signing_input = (
        _b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64url(json.dumps(claims, separators=(",", ":")).encode())
    ).encode("ascii")
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    else:
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        size = (key.curve.key_size + 7) // 8  # JWS wants r || s, each padded to the curve size
        signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return signing_input.decode("ascii") + "." + _b64url(signature)
