"""Form posts read through the API's own schemas: the same rules, messages keyed by form field."""
from decimal import Decimal, InvalidOperation

from marshmallow import ValidationError

from portal.errors import ValidationFailed

NOT_A_NUMBER = "Must be a number, e.g. 150.00."
MISSING = "Missing data for required field."  # marshmallow's wording, for an API client
REQUIRED = "Please fill this in."


def values(form, names, numbers=()) -> dict:
    """The named fields of a form: blanks left out (the schema says what is required), the
    ``numbers`` read as exact decimals (never floats)."""
    data, problems = {}, {}
    for name in names:
        raw = form.get(name, "")
        if not isinstance(raw, str) or not raw.strip():
            continue
        if name in numbers:
            try:
                number = Decimal(raw.strip().replace(",", ""))
            except InvalidOperation:
                problems[name] = [NOT_A_NUMBER]
                continue
            if not number.is_finite():
                problems[name] = [NOT_A_NUMBER]
                continue
            data[name] = number
        else:
            data[name] = raw
    if problems:
        raise ValidationFailed(details=problems)
    return data


def flatten(messages) -> dict:
    """Marshmallow's nested messages ({"lines": {0: {"qty": [...]}}}) keyed by leaf field."""
    flat = {}
    stack = [messages]
    while stack:
        item = stack.pop()
        for key, value in item.items():
            if isinstance(value, dict):
                stack.append(value)
            else:
                messages_ = value if isinstance(value, list) else [value]
                flat.setdefault(str(key), []).extend(
                    REQUIRED if m == MISSING else m for m in messages_)
    return flat


def load(schema, data: dict) -> dict:
    """``schema.load(data)``, its refusals as a 422 naming the fields."""
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise ValidationFailed(details=flatten(exc.messages)) from None
