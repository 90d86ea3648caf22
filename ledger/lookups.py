"""``in`` on an integer column, without the values the column cannot hold.

Django already answers ``pk=10**30`` with no row (its ``exact`` knows the column's range),
but ``pk__in=[10**30]`` went to the database as it came: PostgreSQL compares it as a
numeric and finds nothing, SQLite's driver cannot bind it and raises OverflowError, a 500.
Forms send what the browser sent straight to ``pk__in``: a ModelMultipleChoiceField
(co-responsible departments, a notice's annex rounds), and Django's admin with its list's
editable rows and its actions. Here ``in`` leaves out the values outside the column's
range, which no row can have, on every database; none left, it matches nothing, as an
empty list does. Registered when the app is ready (``ledger.apps``).
"""

from __future__ import annotations

from django.db.models import IntegerField
from django.db.models.lookups import In


@IntegerField.register_lookup
class IntegerFieldIn(In):
    def process_rhs(self, compiler, connection):
        if self.rhs_is_direct_value():
            low, high = connection.ops.integer_field_range(
                self.lhs.output_field.get_internal_type()
            )
            self.rhs = [
                value
                for value in self.rhs
                if not isinstance(value, int)
                or ((low is None or value >= low) and (high is None or value <= high))
            ]
        return super().process_rhs(compiler, connection)
