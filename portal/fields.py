"""Input fields shared by every area: exact numbers and money (never a float)."""
from decimal import Decimal

from marshmallow import fields

from portal.database import places


class ExactNumber(fields.Field):
    """A JSON number read as an exact Decimal; strings, booleans, NaN and Infinity are refused."""

    default_error_messages = {
        "invalid": "Must be a JSON number.",
        "special": "Must be a finite number.",
        "places": "At most {places} decimal places.",
    }

    def __init__(self, max_places: int, **kwargs):
        super().__init__(**kwargs)
        self.max_places = max_places
        self.metadata.setdefault("type", "number")

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


def money_field(**kwargs):
    """A money amount: a JSON number with at most 2 decimals."""
    return ExactNumber(2, **kwargs)
