"""The pages: caller, one call, ``render_template``. A live region is a partial template that
its page includes and that a ``/fragments/…`` URL renders alone, for the live script to swap."""
from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask_jwt_extended import unset_jwt_cookies

from portal.auth import service as auth
from portal.auth.principal import caller
from portal.auth.throttle import login_throttle
from portal.auth.tokens import set_session_cookies
from portal.errors import Conflict, NotFound, PayloadTooLarge, Unauthorized, ValidationFailed
from portal.finance import statement as statements
from portal.routes import upload
from portal.tickets.state import STATUSES
from portal.web import reads, writes
from portal.web.session import page, safe_next, signed_in
from portal.web.templating import register_templating

blp = Blueprint("web", __name__, template_folder="templates", static_folder="static",
                static_url_path="/assets")
register_templating(blp)


def _see_other(endpoint, **values):
    return redirect(url_for(endpoint, **values), code=303)


FIX_FIELDS = "Please check the fields marked below."


def _refused(template, exc, context) -> tuple:
    """A form that could not be taken: the same page again, its messages, the error's status."""
    message = FIX_FIELDS if isinstance(exc, ValidationFailed) and exc.details else exc.message
    return render_template(template, **context, errors=exc.details or {}, error=message,
                           form=request.form), exc.status


@blp.route("/")
def home():
    return redirect(url_for("web.board" if signed_in() else "web.login"))


@blp.route("/login", methods=["GET"])
def login():
    next_path = safe_next(request.args.get("next"))
    if signed_in():
        return redirect(next_path)
    return render_template("login.html", next=next_path, form={})


@blp.route("/login", methods=["POST"])
@login_throttle
def sign_in():
    next_path = safe_next(request.form.get("next"))
    try:
        tokens = writes.sign_in(request.form)
    except (Unauthorized, ValidationFailed) as exc:
        return _refused("login.html", exc, {"next": next_path})
    return set_session_cookies(redirect(next_path, code=303), tokens)


@blp.route("/logout", methods=["POST"])
@page
def logout():
    auth.logout(caller())
    response = _see_other("web.login")
    unset_jwt_cookies(response)
    return response


def _status_filter():
    status = request.args.get("status") or None
    if status is not None and status not in STATUSES:
        raise ValidationFailed(details={"status": ["Not a ticket status."]})
    return status


@blp.route("/maintenance")
@page
def board():
    return render_template("board.html", **reads.board(caller(), _status_filter(),
                                                       request.args.get("cursor")))


@blp.route("/fragments/board")
@page
def board_fragment():
    return render_template("_board.html", **reads.board(caller(), _status_filter(),
                                                        request.args.get("cursor")))


@blp.route("/tickets/new", methods=["GET"])
@page
def new_ticket():
    return render_template("ticket_new.html", **reads.new_ticket(caller()), form={}, errors={})


@blp.route("/tickets/new", methods=["POST"])
@page
def file_ticket():
    try:
        ticket = writes.file_ticket(caller(), request.form)
    except ValidationFailed as exc:
        return _refused("ticket_new.html", exc, reads.new_ticket(caller()))
    return _see_other("web.ticket", ticket_id=ticket.id)


@blp.route("/tickets/<ticket_id>")
@page
def ticket(ticket_id):
    return render_template("ticket.html", **reads.ticket(caller(), ticket_id), errors={})


@blp.route("/fragments/tickets/<ticket_id>")
@page
def ticket_fragment(ticket_id):
    return render_template("_ticket.html", **reads.ticket(caller(), ticket_id), errors={})


@blp.route("/tickets/<ticket_id>/comment", methods=["POST"])
@page
def comment_on_ticket(ticket_id):
    try:
        writes.comment(caller(), ticket_id, request.form)
    except ValidationFailed as exc:
        return _refused("ticket.html", exc, reads.ticket(caller(), ticket_id))
    return _see_other("web.ticket", ticket_id=ticket_id, _anchor="thread")


@blp.route("/tickets/<ticket_id>/photo", methods=["POST"])
@upload
@page
def attach_to_ticket(ticket_id):
    try:
        writes.attach(caller(), ticket_id, request.files)
    except (ValidationFailed, PayloadTooLarge) as exc:
        return _refused("ticket.html", exc, reads.ticket(caller(), ticket_id))
    return _see_other("web.ticket", ticket_id=ticket_id, _anchor="thread")


@blp.route("/tickets/<ticket_id>/<action>", methods=["POST"])
@page
def act_on_ticket(ticket_id, action):
    try:
        writes.act_on_ticket(caller(), ticket_id, action, request.form)
    except (ValidationFailed, Conflict) as exc:
        return _refused("ticket.html", exc, reads.ticket(caller(), ticket_id))
    return _see_other("web.ticket", ticket_id=ticket_id)


@blp.route("/invoices", methods=["GET"])
@page
def invoices():
    return render_template("invoices.html", **reads.invoices(caller()), form={}, errors={})


@blp.route("/invoices", methods=["POST"])
@page
def issue_invoice():
    try:
        writes.issue_invoice(caller(), request.form)
    except ValidationFailed as exc:
        return _refused("invoices.html", exc, reads.invoices(caller()))
    return _see_other("web.invoices")


@blp.route("/fragments/invoices")
@page
def invoices_fragment():
    return render_template("_invoices.html", **reads.invoices(caller()))


@blp.route("/invoices/<invoice_id>")
@page
def invoice(invoice_id):
    return render_template("invoice.html", **reads.invoice(caller(), invoice_id))


@blp.route("/fragments/invoices/<invoice_id>")
@page
def invoice_fragment(invoice_id):
    return render_template("_invoice.html", **reads.invoice(caller(), invoice_id))


@blp.route("/statement")
@page
def statement():
    return render_template("statement.html", **reads.statement(caller(),
                                                               request.args.get("tenancyId")))


@blp.route("/fragments/statement")
@page
def statement_fragment():
    return render_template("_statement.html", **reads.statement(caller(),
                                                                request.args.get("tenancyId")))


@blp.route("/statement.csv")
@page
def statement_csv():
    found = reads.statement(caller(), request.args.get("tenancyId"))["statement"]
    if found is None:
        raise NotFound("No tenancy to show a statement of.")
    return Response(statements.to_csv(found), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="statement-{found["tenancy_id"]}.csv"'})


@blp.route("/billing", methods=["GET"])
@page
def billing():
    return render_template("billing.html", **reads.billing(caller()), form={}, errors={})


@blp.route("/billing/late-fees", methods=["POST"])
@page
def set_late_fee_policy():
    try:
        writes.set_late_fee_policy(caller(), request.form)
    except ValidationFailed as exc:
        return _refused("billing.html", exc, {**reads.billing(caller()), "failed": "late-fees"})
    return _see_other("web.billing")


@blp.route("/billing/tenancies/<tenancy_id>", methods=["POST"])
@page
def set_rent_billing(tenancy_id):
    try:
        writes.set_rent_billing(caller(), tenancy_id, request.form)
    except ValidationFailed as exc:
        return _refused("billing.html", exc, {**reads.billing(caller()), "failed": tenancy_id})
    return _see_other("web.billing")


@blp.route("/notifications", methods=["GET"])
@page
def notifications():
    return render_template("notifications.html", **reads.inbox(caller()))


@blp.route("/notifications/read", methods=["POST"])
@page
def mark_all_read():
    writes.mark_all_read(caller())
    return _see_other("web.notifications")


@blp.route("/fragments/notifications")
@page
def notifications_fragment():
    return render_template("_notifications.html", **reads.inbox(caller()))


@blp.route("/fragments/bell")
@page
def bell():
    return render_template("_bell.html", **reads.bell(caller()))
