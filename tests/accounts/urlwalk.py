"""Every route of the URLconf, with what it declares: the input of the deny-by-default tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver


@dataclass(frozen=True)
class Route:
    pattern: str
    view_name: str
    namespace: str
    callback: Any

    @property
    def view_class(self):
        return getattr(self.callback, "cls", None) or getattr(self.callback, "view_class", None)


def routes() -> list[Route]:
    found: list[Route] = []

    def walk(patterns, prefix: str, namespaces: list[str]) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                spaces = [*namespaces, entry.namespace] if entry.namespace else namespaces
                walk(entry.url_patterns, prefix + str(entry.pattern), spaces)
            elif isinstance(entry, URLPattern):
                namespace = ":".join(namespaces)
                name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name or ""
                found.append(Route(prefix + str(entry.pattern), name, namespace, entry.callback))

    walk(get_resolver().url_patterns, "/", [])
    return found
