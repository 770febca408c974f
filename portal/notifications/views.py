"""Notification endpoints (docs/events.md): the caller's own only."""
from flask_smorest import Blueprint

from portal.auth.principal import authenticated, caller
from portal.notifications import service
from portal.notifications.schemas import (MarkReadSchema, NotificationListArgsSchema,
                                          NotificationPageSchema, UnreadCountSchema,
                                          UpdatedSchema)

blp = Blueprint("notifications", __name__, url_prefix="/api/notifications",
                description="In-app notifications")


@blp.route("", methods=["GET"])
@authenticated
@blp.arguments(NotificationListArgsSchema, location="query", as_kwargs=True)
@blp.response(200, NotificationPageSchema)
def list_notifications(unread, limit, cursor):
    """The caller's notifications, newest first (``?unread=true`` for unread only)."""
    return service.list_notifications(caller(), unread=unread, limit=limit,
                                      cursor=cursor)


@blp.route("/unread-count", methods=["GET"])
@authenticated
@blp.response(200, UnreadCountSchema)
def unread_count():
    """How many of the caller's notifications are unread."""
    return {"count": service.unread_count(caller())}


@blp.route("/read", methods=["POST"])
@authenticated
@blp.arguments(MarkReadSchema)
@blp.response(200, UpdatedSchema)
def mark_read(body):
    """Mark notifications read by id, or all of them; ids that are not the caller's are skipped."""
    updated = service.mark_read(caller(), ids=body.get("ids"),
                                all_=bool(body.get("all")))
    return {"updated": updated}
