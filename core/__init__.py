"""eportcard core engine: cards, certificates and the application lifecycle.

Region plugins write ``from core import hookimpl`` and register under the
``eportcard.regions`` entry-point group.
"""

import pluggy

PROJECT = "eportcard"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

__version__ = "0.1.0"
__all__ = ["PROJECT", "__version__", "hookimpl", "hookspec"]
