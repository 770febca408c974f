"""How values look in JSON, as marshmallow fields: exact numbers and money (never a float on
the way in), UTC timestamps with ``Z``, dates as YYYY-MM-DD."""
import math
from datetime import date, datetime, timezone
from decimal import Decimal

from marshmallow import fields

from portal.money import money_json, places
from portal.schemas import fast_format


def iso(value):
    """Format a datetime as UTC ISO 8601 with ``Z`` (dates as YYYY-MM-DD); None stays None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        text = value.isoformat(timespec="milliseconds") if value.microsecond else \
            value.isoformat(timespec="seconds")
        return text + "Z"
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not a date: {value!r}")


@fast_format(iso)
class Timestamp(fields.DateTime):
    """A stored naive-UTC datetime, written as ISO 8601 with ``Z`` (``2025-11-06T09:00:00Z``)."""

    def _serialize(self, value, attr, obj, **kwargs):
        return iso(value)


@fast_format(float)
class ExactNumber(fields.Decimal):
    """A JSON number read as an exact Decimal (strings, booleans, NaN and Infinity are refused)
    and written as a JSON number. Described as ``type: number`` with ``multipleOf`` 10^-places
    (portal/openapi/converter.py)."""

    default_error_messages = {
        "invalid": "Must be a JSON number.",
        "special": "Must be a finite number.",
        "places": "At most {places} decimal places.",
    }

    def __init__(self, max_places: int, **kwargs):
        super().__init__(**kwargs)
        self.max_places = max_places

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else float(value)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
            raise self.make_error("invalid")
        # Floats only come from a parser that is not ours: repr is the literal the client sent.
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        if not number.is_finite():
            raise self.make_error("special")
        if places(number) > self.max_places:
            raise self.make_error("places", places=self.max_places)
        return number


@fast_format(money_json)
class Money(ExactNumber):
    """A money amount: a JSON number with at most 2 decimals, exact in and out."""

    def __init__(self, **kwargs):
        super().__init__(2, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return money_json(value)


class WholeNumber(fields.Integer):
    """A JSON integer. ``3.0`` is the same number (JSON Schema counts it an integer, and so do
    generated clients); ``3.5``, ``"3"`` and booleans are refused."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, (float, Decimal)) and math.isfinite(value) and value == int(value):
            value = int(value)
        return super()._deserialize(value, attr, data, **kwargs)


class JsonBoolean(fields.Boolean):
    """A body's JSON ``true`` or ``false`` and nothing else ("yes", 1 and "true" are refused)."""

    default_error_messages = {"invalid": "Must be true or false."}

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value
