"""Who is signed in on a page: the API's own JWT cookie (and its double-submit CSRF token)."""
import functools
from typing import Optional
from urllib.parse import urlsplit

from flask import redirect, request, url_for
from flask_jwt_extended import get_jwt
from flask_jwt_extended.exceptions import CSRFError, JWTExtendedException
from jwt import PyJWTError

from portal.auth.principal import Principal, current_principal
from portal.errors import Unauthorized

HOME = "/maintenance"
FRAGMENTS = "/fragments/"


def signed_in() -> Optional[Principal]:
    """The caller when the request carries a live session, else None.

    A signed-in write whose form lacks this session's CSRF token raises CSRFError (a 403 page
    that changes nothing); any other token problem (none, expired, forged, logged out) is
    simply "signed out".
    """
    try:
        return current_principal()
    except CSRFError:
        raise
    except (JWTExtendedException, PyJWTError, Unauthorized):
        return None


def csrf_token() -> str:
    """This session's double-submit token, for the hidden field of every form."""
    return get_jwt().get("csrf", "")


def safe_next(value, default=HOME) -> str:
    """``value`` if it is a path on this site, else ``default`` (never an open redirect)."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        return default
    if "\\" in value or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def _here() -> Optional[str]:
    if request.method != "GET":
        return None  # after signing in, a form is filled in again, never re-posted
    return request.full_path.rstrip("?")


def page(view):
    """Pages need a session: signed out, a page sends the browser to ``/login?next=…`` and a
    fragment (fetched by the live script) answers 401."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if signed_in() is None:
            if request.path.startswith(FRAGMENTS):
                raise Unauthorized("Your session has ended; sign in again.")
            return redirect(url_for("web.login", next=_here()))
        return view(*args, **kwargs)
    return wrapper
