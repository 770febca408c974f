"""Marks on views, read by the request hooks: a route says what it needs where it is defined
(``@public``, ``@raw_body``, ``@no_idempotency`` under ``@blp.route``), not in a list of paths
elsewhere. The same marks tell /api/openapi.json what each operation needs
(portal/openapi/operations.py)."""
from flask import current_app, request

_ATTRIBUTE = "portal_marks"


def _mark(name: str):
    def decorate(view):
        marks = getattr(view, _ATTRIBUTE, frozenset())
        setattr(view, _ATTRIBUTE, marks | {name})  # functools.wraps copies it outwards
        return view
    return decorate


raw_body = _mark("raw_body")
raw_body.__doc__ = "The view reads and checks its raw body itself (no JSON-object guard)."
no_idempotency = _mark("no_idempotency")
no_idempotency.__doc__ = "Idempotency-Key is not honoured here (no caller to scope it to)."
upload = _mark("upload")
upload.__doc__ = ("The view takes a multipart file upload: its body limit is UPLOAD_MAX_BYTES (plus "
                  "room for the form's framing) instead of MAX_CONTENT_LENGTH, and the body is "
                  "not JSON.")
public = _mark("public")
public.__doc__ = "No access token is needed (every other operation needs one)."


def marks_of(view) -> frozenset:
    """The marks a view function carries."""
    return frozenset(getattr(view, _ATTRIBUTE, ()))


def marked(name: str) -> bool:
    """Whether the view this request is routed to carries the mark ``name``."""
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    return name in marks_of(view)
