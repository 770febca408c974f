"""Request guards that apply to every endpoint: bodies within their limit, JSON bodies must be
JSON objects, and no text a client sends may hold characters the database cannot store; and
no Flask session cookie."""
from flask import current_app, request
from flask.sessions import SessionInterface

from portal.errors import BadRequest, NotFound, ValidationFailed
from portal.routes import marked

UNSTORABLE = "Must not contain NUL characters or unpaired surrogates."
TOO_DEEP = "Nested too deeply."
# An upload's body is the file plus the multipart framing around it (boundaries, part headers).
UPLOAD_FRAMING_BYTES = 64 * 1024
# Our deepest body is an invoice: lines → line → field. Anything far deeper is refused before
# a parser or a schema walks it (deep enough nesting overflows their recursion).
MAX_DEPTH = 16


def unstorable(text: str) -> bool:
    """True for text no column can hold: PostgreSQL refuses NUL, UTF-8 unpaired surrogates."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _problem(value):
    """Why ``value`` (one field of a body) cannot be accepted as it is, or None.

    Iterative on purpose: a recursive walk of a body nested a few hundred levels deep would
    itself hit the recursion limit.
    """
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return TOO_DEEP
        if isinstance(item, str):
            if unstorable(item):
                return UNSTORABLE
        elif isinstance(item, dict):
            for key, inner in item.items():
                stack.append((key, depth))
                stack.append((inner, depth + 1))
        elif isinstance(item, list):
            stack.extend((inner, depth + 1) for inner in item)
    return None


def unstorable_fields(body: dict) -> dict:
    """``{field: [message]}`` for each top-level field whose name or value holds text no column
    can store, or is nested deeper than any of our bodies is."""
    problems = {}
    for key, value in body.items():
        problem = _problem(key) or _problem(value)
        if problem:
            problems[key.encode("utf-8", "backslashreplace").decode()] = [problem]
    return problems


def _refuse_unstorable_url():
    # Ids travel in the path: a NUL makes PostgreSQL fail the lookup; no such resource exists.
    if "\x00" in request.path:
        raise NotFound()
    bad = {key: [UNSTORABLE] for key, value in request.args.items(multi=True)
           if unstorable(key) or unstorable(value)}
    if bad:
        raise ValidationFailed("The query string is not valid.", details=bad)


def _upload_body_limit():
    # Set before anything reads the body: the JSON limit stays small for every other route.
    if marked("upload"):
        request.max_content_length = (current_app.config["UPLOAD_MAX_BYTES"]
                                      + UPLOAD_FRAMING_BYTES)


def _require_json_object():
    if request.method not in ("POST", "PUT", "PATCH") or not request.path.startswith("/api/"):
        return None
    if marked("raw_body") or marked("upload"):  # the view reads its body itself
        return None
    raw = request.get_data(cache=True)
    if not raw.strip():
        return None  # an empty body is read as {}; the schema says what is missing
    if not request.is_json:
        raise BadRequest("The body must be JSON (Content-Type: application/json).",
                         code="invalid_json")
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # nested deeper than the parser goes: not JSON we can read
        body = None
    require_json_object(body)
    return None


def require_json_object(body) -> dict:
    """``body`` (parsed JSON; None when it did not parse) if it is an object whose text can all
    be stored: otherwise 400 ``invalid_json``, or 422 naming the fields with unstorable text."""
    if body is None:
        raise BadRequest("The body is not valid JSON.", code="invalid_json")
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object.", code="invalid_json")
    bad = unstorable_fields(body)
    if bad:
        raise ValidationFailed(details=bad)
    return body


class NoSessionCookie(SessionInterface):
    """No Flask session: every request gets Flask's null session (writing to it raises)."""

    def open_session(self, app, request):
        return None

    def save_session(self, app, session, response):
        return None


def init_app(app):
    """Register the guards."""
    app.before_request(_upload_body_limit)
    app.before_request(_refuse_unstorable_url)
    app.before_request(_require_json_object)
