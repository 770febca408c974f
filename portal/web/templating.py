"""What every template may use: the header, the CSRF token, and a few display filters; and the
HTML error page that the app's one error handler answers for pages."""
from datetime import datetime
from decimal import Decimal

from flask import render_template

from portal.auth.principal import verified_principal
from portal.database import utcnow
from portal.web import reads
from portal.web.session import csrf_token

# The pages of each role, in the header's order (the bell links to the notifications).
NAV = {
    "TENANT": (("web.board", "Requests"), ("web.new_ticket", "Report a problem"),
               ("web.invoices", "Invoices"), ("web.statement", "Statement")),
    "LANDLORD": (("web.board", "Maintenance"), ("web.invoices", "Invoices"),
                 ("web.statement", "Statements"), ("web.billing", "Billing")),
    "CONTRACTOR": (("web.board", "Jobs"),),
    "OPS": (("web.board", "Maintenance"),),
}


def status_label(code) -> str:
    """IN_PROGRESS → In progress (the badge's text; its colour is the CSS's)."""
    return (code or "").replace("_", " ").capitalize()


def sentence(text) -> str:
    """The first letter in capitals, the rest as it was (names keep their own capitals)."""
    return text[:1].upper() + text[1:] if text else ""


def money(value) -> str:
    if value is None:
        return ""
    return f"{Decimal(value):,.2f}"


def age(moment) -> str:
    """How long ago, in the largest whole unit: "just now", "5 min", "3 h", "2 d"."""
    if not isinstance(moment, datetime):
        return ""
    seconds = max((utcnow() - moment).total_seconds(), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now"


def render_error(status, code, message, details):
    """The HTML error page (no header: it must render even when the database is down)."""
    return render_template("error.html", status=status, code=code, message=message,
                           details=details or {})


def register_templating(blp):
    """Hook the filters, globals and the error page into the app the blueprint joins."""
    for name, function in (("status_label", status_label), ("money", money), ("age", age),
                           ("sentence", sentence)):
        blp.add_app_template_filter(function, name)

    @blp.app_context_processor
    def _globals():
        principal = verified_principal()
        return {"header": lambda: reads.header(principal), "csrf_token": csrf_token,
                "principal": principal, "nav": NAV.get(principal.role, ()) if principal else ()}

    blp.record_once(lambda state: state.app.extensions.setdefault("page_errors", render_error))
