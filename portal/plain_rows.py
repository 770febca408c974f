"""Rows read to be shown, not changed: plain objects instead of mapped ones.

A list page reads up to 101 rows only to dump them. As mapped objects, each row costs SQLAlchemy
an instance state, an identity-map entry and its change tracking: about a tenth of the CPU of a
page of 50 tickets. A plain row holds the model's columns as attributes under the same names, and
the computed properties of the model's :class:`Derived` mixins, so a schema or a template reads it
as it reads the model. It belongs to no session: changing one changes nothing, and it never loads
anything lazily.
"""
import functools

import sqlalchemy as sa

from portal.extensions import db


class Derived:
    """Base of a mixin of properties computed from a model's columns (a ticket's ``overdue``):
    the mapped class and its plain rows both inherit it, so there is one definition of each."""


class PlainRow:
    """One row's columns as attributes (see the module's docstring)."""

    def __init__(self, values: dict):
        self.__dict__.update(values)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.__dict__.get('id')!r}>"


@functools.cache
def _shape(model):
    """(the columns to select, labelled with their attribute names; the plain row class)."""
    columns = tuple(prop.columns[0].label(prop.key) for prop in sa.inspect(model).column_attrs)
    derived = tuple(base for base in model.__mro__[1:]
                    if issubclass(base, Derived) and base is not Derived)
    row_class = type(f"{model.__name__}Row", derived + (PlainRow,),
                     {"__module__": model.__module__,
                      "__doc__": f"A plain row of {model.__name__} (portal/plain_rows.py)."})
    return columns, row_class


def plain_rows(statement, model) -> list:
    """Run ``statement`` (a ``select(model)``, with its filters, order and limit) for ``model``'s
    columns only, and return each row as a plain object.

    It runs on the session's connection (its transaction, its bind) as a Core statement: the
    ORM's result layer would process every row once more to hand back the same tuples. So the
    session does not autoflush first, and its pending changes are not seen: read pages where
    nothing is pending (a ``GET``).
    """
    columns, row_class = _shape(model)
    result = db.session.connection().execute(statement.with_only_columns(*columns))
    keys = tuple(result.keys())
    return [row_class(dict(zip(keys, row))) for row in result]
