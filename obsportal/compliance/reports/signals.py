"""A report run requested, a schedule made: sent inside the change's transaction; the trail's
record is written by `receivers` (so the pages that request reports never import the trail's
write path, the same inversion as the integrity incident signals)."""

from django.dispatch import Signal

# kwargs: actor (a user or None), action (a trail action), target (the row), details (dict)
report_changed = Signal()
