"""Webhook signatures, Stripe's scheme: ``t=<unix seconds>,v1=<hex HMAC-SHA256("<t>.<body>")>``."""
import hashlib
import hmac
import time

HEADER = "Webhook-Signature"
SCHEME = "v1"
MAX_T_DIGITS = 12  # unix seconds stay below 10**12 for the next 30,000 years


class SignatureError(Exception):
    """The signature is missing, malformed, stale or matches no secret; ``code`` says which."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def parse_secrets(value) -> list:
    """``PAYMENT_WEBHOOK_SECRET`` as a list: several comma-separated secrets during rotation."""
    if not value:
        return []
    if isinstance(value, (list, tuple)):
        return [s.strip() for s in value if s and s.strip()]
    return [s.strip() for s in str(value).split(",") if s.strip()]


def compute(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"<t>.<body>"`` under one secret."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp=None) -> str:
    """A complete header value for ``body`` (the CLI, the docs and the tests use it)."""
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={timestamp},{SCHEME}={compute(secret, timestamp, body)}"


def _parse(header: str):
    timestamp, candidates = None, []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            # Plain unix seconds only: a 400-digit t would overflow the float compare below.
            value = value.strip()
            if not (value.isascii() and value.isdigit()) or len(value) > MAX_T_DIGITS:
                raise SignatureError("invalid_signature",
                                     "The signature timestamp is not a number.")
            timestamp = int(value)
        elif key == SCHEME:
            candidates.append(value.strip())
    if timestamp is None or not candidates:
        raise SignatureError("invalid_signature",
                             "The Webhook-Signature header needs t= and at least one v1=.")
    return timestamp, candidates


def verify(body: bytes, header, secrets, tolerance_s: int, now=None) -> int:
    """Check ``header`` against ``body``; return its timestamp or raise SignatureError."""
    if not header:
        raise SignatureError("missing_signature", "The Webhook-Signature header is required.")
    timestamp, candidates = _parse(header)
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance_s:
        raise SignatureError("stale_signature", "The signature timestamp is outside the tolerance.")
    matched = False
    for secret in secrets:
        expected = compute(secret, timestamp, body)
        for candidate in candidates:
            # No early exit: the time taken does not depend on which entry matched.
            matched |= hmac.compare_digest(expected.encode(), candidate.encode("ascii", "replace"))
    if not matched:
        raise SignatureError("invalid_signature", "The signature does not match the body.")
    return timestamp
