"""Each distinct token's signature verified once per process, its time claims on every request.

Flask-JWT-Extended decodes a token four times per request (claims and header unverified, then
verified), each time re-checking every base64 character in Python: a fifth of a read request's
CPU. The verified claims of a token depend only on its exact bytes, the key and the CSRF value
it is checked against, so they are kept per app, keyed by (token, CSRF value); a kept entry is
used only while ``exp`` and ``nbf`` still hold (with the configured leeway), otherwise the token
goes through the full decode again (which raises the usual expiry error). Everything decided
after decoding (token type, the revocation check in Redis, fresh-token rules) still runs on
every request.
"""
import threading
import time

from flask import current_app
from flask_jwt_extended import JWTManager
from flask_jwt_extended.config import config

MAX_KEPT = 10_000
_EXTENSION = "portal.verified_tokens"


class _Kept:
    """A bounded map of verified claims (oldest dropped first), safe across threads."""

    def __init__(self, size: int):
        self.size = size
        self.entries = {}
        self.lock = threading.Lock()

    def get(self, key):
        return self.entries.get(key)

    def put(self, key, claims):
        with self.lock:
            if len(self.entries) >= self.size:
                self.entries.pop(next(iter(self.entries)))
            self.entries[key] = claims

    def drop(self, key):
        with self.lock:
            self.entries.pop(key, None)


def _still_valid(claims: dict) -> bool:
    now, leeway = time.time(), config.leeway
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if exp is not None and now >= exp + leeway:
        return False
    return nbf is None or now >= nbf - leeway


class VerifyOnceJWTManager(JWTManager):
    """JWTManager whose decode reuses the verified claims of a token seen before."""

    def init_app(self, app, add_context_processor: bool = False) -> None:
        super().init_app(app, add_context_processor=add_context_processor)
        app.extensions[_EXTENSION] = _Kept(MAX_KEPT)

    def _decode_jwt_from_config(self, encoded_token, csrf_value=None, allow_expired=False):
        kept = current_app.extensions.get(_EXTENSION)
        if kept is None or allow_expired:
            return super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
        key = (encoded_token, csrf_value)
        claims = kept.get(key)
        if claims is not None:
            if _still_valid(claims):
                return dict(claims)
            kept.drop(key)
        claims = super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
        kept.put(key, dict(claims))
        return claims
