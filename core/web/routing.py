"""Starlette's router, with the routes of fixed paths found by one dict lookup.

Starlette tries each route's pattern in turn: with some fifty routes, the JSON API's hot reads sat
behind dozens of failed regex matches on every request. A route without path parameters whose
path no earlier route also matches is looked up by its path first; everything else (parameters,
mounts, 405s, slash redirects) goes through Starlette's own scan, so the outcome never differs.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute, Match, Mount, Route, Router, WebSocketRoute, get_route_path
from starlette.types import Receive, Scope, Send


def fixed_paths(routes: list[BaseRoute]) -> dict[str, list[Route]]:
    """Path -> the routes (in order) that are the first to match exactly that path."""
    fixed: dict[str, list[Route]] = {}
    for index, route in enumerate(routes):
        if type(route) is not Route or route.param_convertors:
            continue
        earlier = routes[:index]
        if any(isinstance(r, Route | WebSocketRoute | Mount) and r.path_regex.match(route.path)
               and r.path != route.path for r in earlier):
            continue  # an earlier pattern would win: leave it to the scan
        if any(not isinstance(r, Route | WebSocketRoute | Mount) for r in earlier):
            continue  # a route type we cannot reason about comes first
        fixed.setdefault(route.path, []).append(route)
    return fixed


class FixedPathRouter(Router):
    """See the module docstring. The index follows ``self.routes`` (rebuilt when its length changes)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fixed: dict[str, list[Route]] = {}
        self._indexed = -1

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if self._indexed != len(self.routes):
                self._fixed, self._indexed = fixed_paths(self.routes), len(self.routes)
            for route in self._fixed.get(get_route_path(scope), ()):
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope.setdefault("router", self)
                    scope["route"] = route
                    scope.update(child_scope)
                    await route.handle(scope, receive, send)
                    return
        await super().app(scope, receive, send)


__all__ = ["FixedPathRouter", "fixed_paths"]
