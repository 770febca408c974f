"""Attachment tasks: CPU work on images happens here, never on a web worker."""
from celery import shared_task
from sqlalchemy.exc import InterfaceError, OperationalError

from portal import tasks
from portal.attachments import service


@shared_task(name=tasks.MAKE_THUMBNAIL, autoretry_for=(OperationalError, InterfaceError, OSError),
             retry_backoff=True, retry_backoff_max=60, max_retries=5)
def make_thumbnail(attachment_id: str):
    """Store the thumbnail of one image attachment (a rerun changes nothing)."""
    return service.make_thumbnail(attachment_id)


@shared_task(name=tasks.MAKE_MISSING_THUMBNAILS)
def make_missing_thumbnails() -> int:
    """Make the thumbnails whose task was lost."""
    return service.make_missing_thumbnails()
