"""Login throttling, shared by the API's login and the sign-in page."""
from flask import current_app, request

from portal.extensions import limiter


def _login_limit():
    return current_app.config["LOGIN_RATE_LIMIT"]


def _login_key():
    # Per address and account: one attacker cannot lock every user out, nor try one user fast.
    source = request.get_json(silent=True) if request.is_json else request.form
    email = source.get("email") if hasattr(source, "get") else None  # a JSON list has no get
    email = email if isinstance(email, str) else ""
    return f"{request.remote_addr}|{email.strip().lower()}"


# The API login and the sign-in form count against the same limit.
login_throttle = limiter.shared_limit(_login_limit, scope="login", key_func=_login_key)
