"""Signing and checking the sandbox's JWT-shaped tokens.

Owns: the RSA signing key of one token service, RS256 JSON Web Tokens (``header.payload.signature``
in unpadded base64url) and the JSON Web Key Set that publishes the public half, as Entra's
``discovery/keys`` does. A token is only ever accepted after its signature checks out against this
key, so tokens cannot be forged or guessed; a fresh key per service means tokens of one sandbox
are worthless at another.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _int_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


class TokenSigner:
    """Issues and verifies RS256 JWTs with a key generated for this instance."""

    def __init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._public = self._key.public_key()
        numbers = self._public.public_numbers()
        # Entra's kid and x5t are a base64url SHA-1 thumbprint; ours is taken over the modulus.
        self.kid = b64url(hashlib.sha1(_int_bytes(numbers.n)).digest())  # noqa: S324 - an id, not security
        self._jwk = {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": b64url(_int_bytes(numbers.n)),
            "e": b64url(_int_bytes(numbers.e)),
        }

    def jwks(self, issuer: str) -> dict[str, Any]:
        return {"keys": [dict(self._jwk, issuer=issuer)]}

    def sign(self, claims: dict[str, Any]) -> str:
        header = {"typ": "JWT", "alg": "RS256", "x5t": self.kid, "kid": self.kid}
        signing_input = (
            b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        signature = self._key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + b64url(signature)

    def verify(self, token: str) -> dict[str, Any] | None:
        """The claims of ``token`` if it is well formed and signed by this key, else None."""
        parts = token.split(".")
        if len(parts) != 3 or not all(parts):
            return None
        try:
            header = json.loads(b64url_decode(parts[0]))
            if not isinstance(header, dict) or header.get("alg") != "RS256" or header.get("kid") != self.kid:
                return None
            signature = b64url_decode(parts[2])
            self._public.verify(
                signature, f"{parts[0]}.{parts[1]}".encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
            )
            claims = json.loads(b64url_decode(parts[1]))
        except (ValueError, InvalidSignature, UnicodeEncodeError):
            return None
        return claims if isinstance(claims, dict) else None


def unsigned_id(prefix: str = "") -> str:
    """An opaque, unguessable identifier (256 bits) for refresh tokens and codes."""
    return prefix + secrets.token_urlsafe(32)
