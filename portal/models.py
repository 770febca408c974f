"""Imports every model module so the metadata (and Alembic) sees every table."""
from portal import idempotency  # noqa: F401
from portal.attachments import models as attachments_models  # noqa: F401
from portal.auth import models as auth_models  # noqa: F401
from portal.directory import models as directory_models  # noqa: F401
from portal.events import models as events_models  # noqa: F401
from portal.finance import models as finance_models  # noqa: F401
from portal.notifications import models as notifications_models  # noqa: F401
from portal.tickets import models as tickets_models  # noqa: F401
