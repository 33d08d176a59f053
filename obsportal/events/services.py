"""What changes state in the events app: saved searches (exports are in `exports`)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import QueryDict

from obsportal.accounts.services import record_portal_change as record_change
from obsportal.events.exports import search_query
from obsportal.events.models import SavedSearch
from obsportal.events.selectors import search_events

MAX_SAVED = 100


class SearchNotSaved(ValueError):
    """A saved search refused: no name, too many, or a query the filter refuses."""


def save_search(user: Any, name: str, params: QueryDict) -> SavedSearch:
    """Keep `params` (filters only) under `name` for `user`; the same name replaces it."""
    name = name.strip()
    if not name or len(name) > 120:
        raise SearchNotSaved("Give the search a name of 1 to 120 characters.")
    query = search_query(params)
    search_events(QueryDict(query), user)  # a query the filter refuses is not kept
    with transaction.atomic():
        if SavedSearch.objects.filter(user=user).exclude(name=name).count() >= MAX_SAVED:
            raise SearchNotSaved(f"You have {MAX_SAVED} saved searches; delete one first.")
        saved, _ = SavedSearch.objects.update_or_create(
            user=user, name=name, defaults={"query": query}
        )
        record_change(user, "searches.change", saved, {"saved": name})
    return saved


def delete_search(user: Any, search_id: int) -> bool:
    with transaction.atomic():
        saved = SavedSearch.objects.filter(user=user, pk=search_id).first()
        if saved is None:
            return False
        record_change(user, "searches.change", saved, {"deleted": saved.name})
        saved.delete()
    return True


def saved_searches(user: Any) -> list[SavedSearch]:
    return list(SavedSearch.objects.filter(user=user))
