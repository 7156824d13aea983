"""FixedPathRouter answers exactly as Starlette's Router would: the same route for every method and path
(fixed paths looked up, patterns that shadow them respected, 405 and slash redirects left to the scan), on
generated route tables and on the app's own routes."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.testclient import TestClient

from core.web.app import collect_routes
from core.web.routing import FixedPathRouter, fixed_paths

SEGMENTS = ("a", "b", "{x}", "{n:int}")
METHODS = ("GET", "POST", "PUT")


def _endpoint(label: str):
    async def answer(request):
        return PlainTextResponse(f"{label} {sorted(request.path_params.items())}")
    return answer


def _table(spec: list[tuple[tuple[str, ...], tuple[str, ...], bool]]) -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    for index, (segments, methods, mount) in enumerate(spec):
        # parameter names must differ within a path: number them by position
        path = "/" + "/".join(s.replace("x", f"x{i}").replace("n:", f"n{i}:") for i, s in enumerate(segments))
        if mount:
            routes.append(Mount(path, routes=[Route("/", _endpoint(f"mounted{index}"))]))
        else:
            routes.append(Route(path, _endpoint(f"route{index}"), methods=list(methods)))
    return routes


def _answers(router: Router, method: str, path: str) -> tuple[int, str, str]:
    reply = TestClient(router).request(method, path, follow_redirects=False)
    return reply.status_code, reply.text, reply.headers.get("location", "")


route_specs = st.lists(st.tuples(st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=3).map(tuple),
                                 st.lists(st.sampled_from(METHODS), min_size=1, max_size=2, unique=True).map(tuple),
                                 st.booleans()),
                       min_size=1, max_size=8)
requests = st.lists(st.tuples(st.sampled_from(METHODS),
                              st.lists(st.sampled_from(("a", "b", "7", "zz")), min_size=1, max_size=3)
                              .map(lambda parts: "/" + "/".join(parts)) | st.just("/a/")),
                    min_size=1, max_size=6)


def _own_paths(spec) -> list[str]:
    """A concrete path each route of the table matches (parameters filled in): where tables disagree."""
    return ["/" + "/".join({"{x}": "a", "{n:int}": "7"}.get(s, s) for s in segments) + ("/" if mount else "")
            for segments, _, mount in spec]


@settings(max_examples=100, deadline=None)
@given(spec=route_specs, asked=requests)
def test_the_same_answers_as_starlettes_router(spec, asked):
    routes = _table(spec)
    plain, fast = Router(routes), FixedPathRouter(routes)
    for method, path in [*asked, *((m, p) for p in _own_paths(spec) for m in METHODS)]:
        assert _answers(fast, method, path) == _answers(plain, method, path), (method, path)


def test_a_pattern_listed_first_keeps_its_fixed_path_out_of_the_index():
    routes = [Route("/apps/{app_id}", _endpoint("pattern")), Route("/apps/new", _endpoint("fixed")),
              Route("/apps", _endpoint("list"), methods=["GET"]), Route("/apps", _endpoint("add"), methods=["POST"])]
    index = fixed_paths(routes)
    assert "/apps/new" not in index and index["/apps"] == routes[2:]
    fast = TestClient(FixedPathRouter(routes))
    assert fast.get("/apps/new").text.startswith("pattern")
    assert fast.post("/apps").text.startswith("add") and fast.delete("/apps").status_code == 405


def test_every_route_of_the_app_is_found_as_before():
    routes = collect_routes()
    plain, fast = Router(routes), FixedPathRouter(routes)
    index = fixed_paths(routes)
    assert "/api/progress" in index and "/api/staff/queue" in index  # the hot reads take the short way
    for route in routes:
        if not isinstance(route, Route):
            continue
        path = route.path.replace("{index:int}", "0")
        for name in route.param_convertors:
            path = path.replace("{" + name + "}", "X1")
        for method in sorted(route.methods or {"GET"}):
            plain_scope = _matched(plain, method, path)
            assert _matched(fast, method, path) == plain_scope, (method, path)


def _matched(router: Router, method: str, path: str):
    """The route and parameters ``router`` picks for a request (its endpoint is not run)."""
    seen: dict = {}

    async def capture(scope, receive, send):
        seen.update(route=scope.get("route"), params=scope.get("path_params"))

    scope = {"type": "http", "method": method, "path": path, "root_path": "", "query_string": b"", "headers": [],
             "scheme": "http", "server": ("t", 80)}
    original = {id(r): r.handle for r in router.routes}
    for r in router.routes:
        r.handle = capture  # type: ignore[method-assign]
    try:
        asyncio.run(router.app(scope, None, None))  # type: ignore[arg-type]
    finally:
        for r in router.routes:
            r.handle = original[id(r)]  # type: ignore[method-assign]
    return seen.get("route"), seen.get("params")
