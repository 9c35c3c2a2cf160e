"""Minimal HS256 JWT (upload tokens for /pages/assets/*)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(claims: dict, secret: bytes) -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    sig = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(sig)}"


def decode(token: str, secret: bytes, now: float) -> dict:
    """Return the claims or raise ValueError('invalid'|'expired')."""
    try:
        header, payload, sig = token.split(".")
        expected = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(sig)):
            raise ValueError("invalid")
        if json.loads(_unb64(header)).get("alg") != "HS256":
            raise ValueError("invalid")
        claims = json.loads(_unb64(payload))
    except ValueError:
        raise
    except Exception:  # malformed base64/JSON
        raise ValueError("invalid") from None
    if not isinstance(claims, dict) or not isinstance(claims.get("exp"), (int, float)):
        raise ValueError("invalid")
    if claims["exp"] <= now:
        raise ValueError("expired")
    return claims
