"""Run calls at the same moment in threads; what each returned or raised."""

from __future__ import annotations

import threading
from collections.abc import Callable


def at_once(*calls: Callable[[], object], expected: type[BaseException]) -> list[object]:
    """Start every call together (a barrier); the results, an ``expected`` exception standing for its call's."""
    results: list[object] = []
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], object]) -> None:
        barrier.wait()
        try:
            results.append(call())
        except expected as exc:
            results.append(exc)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results
