"""Webhook signatures, Stripe's scheme: ``t=<unix seconds>,v1=<hex HMAC-SHA256("<t>.<body>")>``.

Both webhooks (the generic one's ``Webhook-Signature`` and Stripe's own ``Stripe-Signature``)
are checked by the official ``stripe`` library; this module adds what the library leaves to its
caller: several secrets during a rotation, a timestamp too far in the future, and an error code
for each way a signature fails.
"""
import time

from stripe import SignatureVerificationError, WebhookSignature

HEADER = "Webhook-Signature"
STRIPE_HEADER = "Stripe-Signature"


class SignatureError(Exception):
    """The signature is missing, malformed, stale or matches no secret; ``code`` says which."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def parse_secrets(value) -> list:
    """A secret setting as a list: several comma-separated secrets during rotation."""
    if not value:
        return []
    if isinstance(value, (list, tuple)):
        return [s.strip() for s in value if s and s.strip()]
    return [s.strip() for s in str(value).split(",") if s.strip()]


def sign(secret: str, body: bytes, timestamp=None) -> str:
    """A complete header value for ``body`` (the CLI and the docs' examples use it)."""
    return WebhookSignature.generate_signature_header(body.decode("utf-8"), secret, timestamp)


def _timestamp(header: str) -> int:
    # Read as the library read it, once it has accepted the header (so ``t=`` is an integer).
    for item in header.split(","):
        parts = item.split("=", 2)
        if parts[0] == "t" and len(parts) > 1:
            return int(parts[1])
    raise SignatureError("invalid_signature", "The signature header has no t=.")


def verify(payload, header, secrets, tolerance_s: int, now=None) -> int:
    """Check ``header`` against the body (bytes or its text); return its timestamp or raise
    SignatureError."""
    if not header:
        raise SignatureError("missing_signature", "The signature header is required.")
    if isinstance(payload, bytes):
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError:  # the library signs text: these bytes were not signed
            raise SignatureError("invalid_signature", "The body is not UTF-8 text.")
    if not header.isascii():
        # The library compares with hmac.compare_digest, which refuses non-ASCII text.
        raise SignatureError("invalid_signature", "The signature header is not ASCII.")
    matched = False
    for secret in secrets:
        try:
            # No tolerance here: the window below also refuses timestamps in the future.
            WebhookSignature.verify_header(payload, header, secret, tolerance=None)
        except SignatureVerificationError:
            continue
        matched = True
        break
    if not matched:
        raise SignatureError("invalid_signature",
                             "The signature is malformed or does not match the body.")
    timestamp = _timestamp(header)
    now = int(time.time() if now is None else now)
    if abs(now - timestamp) > tolerance_s:
        raise SignatureError("stale_signature", "The signature timestamp is outside the tolerance.")
    return timestamp
