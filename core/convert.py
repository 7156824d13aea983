"""Private cattrs converters (never the global one), made by factories.

* ``make_json_converter``: domain objects <-> JSON-safe dicts (database rows, API, files).
* ``make_config_converter``: TOML documents -> frozen objects, unknown keys rejected.
* ``parse_json`` / ``refuse_deep``: JSON text in, nested no deeper than ``MAX_NESTING``.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any, get_args, get_origin

import cattrs
from cattrs.preconf.json import make_converter as _make_json
from cattrs.v import format_exception

from core.errors import InvalidInput
from core.rules import Text

# Our documents nest at most six deep (application -> items -> holder -> ...); 32 leaves room for any
# client, while 2,000 nested brackets would exhaust Python's recursion in the parser or the converter.
MAX_NESTING = 32


class Unreadable(ValueError):
    """Raised by our hooks with the precise reason (a bad date, a string where a list belongs)."""


def _text_hook(value, _type) -> Text:
    # Region TOML may write a plain string where only Chinese is known.
    if isinstance(value, str):
        return Text(value)
    if isinstance(value, dict):
        extra = set(value) - {"zh", "en"}
        if extra:
            raise Unreadable(f"unknown keys {sorted(extra)} in text (use zh / en)")
        return Text(value["zh"], value.get("en", ""))
    raise Unreadable("expected a string or a table with zh / en")


def make_json_converter() -> cattrs.Converter:
    conv = _make_json(forbid_extra_keys=False)
    conv.register_structure_hook(Text, _text_hook)
    return conv


def _is_homogeneous_tuple(t: Any) -> bool:
    args = get_args(t)
    return get_origin(t) is tuple and len(args) == 2 and args[1] is Ellipsis


def _list_only(conv: cattrs.Converter):
    """``tuple[X, ...]`` from a list only: cattrs would turn ``"xian"`` into ``('x', 'i', 'a', 'n')``."""
    def factory(t: Any):
        inner = get_args(t)[0]

        def structure(value: Any, _: Any) -> tuple:
            if not isinstance(value, list | tuple):
                raise Unreadable(f"expected a list, got {type(value).__name__} {value!r}")
            return tuple(conv.structure(item, inner) for item in value)
        return structure
    return factory


def lists_only(conv: cattrs.Converter) -> cattrs.Converter:
    """``conv``, building ``tuple[X, ...]`` from a list only (an API body's ``"items": ""`` is no
    empty tuple)."""
    conv.register_structure_hook_factory(_is_homogeneous_tuple, _list_only(conv))
    return conv


def make_config_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True, prefer_attrib_converters=False)
    conv.register_structure_hook_factory(_is_homogeneous_tuple, _list_only(conv))
    conv.register_structure_hook(Text, _text_hook)
    conv.register_structure_hook(date, _date)
    conv.register_structure_hook(datetime, _datetime)
    return conv


def _reason(exc: BaseException, type_: Any) -> str:
    return str(exc) if isinstance(exc, Unreadable) else format_exception(exc, type_)


def _date(value: Any, _: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise Unreadable(f"not a date (YYYY-MM-DD): {value!r}") from None


def _datetime(value: Any, _: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise Unreadable(f"not a date and time (ISO 8601): {value!r}") from None


def describe_errors(exc: BaseException) -> list[str]:
    """Readable ``path: reason`` lines for a cattrs structuring failure."""
    if isinstance(exc, (cattrs.ClassValidationError, cattrs.IterableValidationError)):
        return list(cattrs.transform_error(exc, path="$", format_exception=_reason))
    return [f"$: {exc}"]


def nesting(value: Any, limit: int = MAX_NESTING) -> int:
    """How deep lists and objects nest in ``value`` (``[]`` is 1), counted without recursion and
    given up as ``limit + 1`` once past ``limit``."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > limit:
            return depth
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def refuse_deep(value: Any, field: str = "body") -> Any:
    """``value`` (parsed JSON or TOML) unless it nests deeper than :data:`MAX_NESTING`."""
    if nesting(value) > MAX_NESTING:
        raise too_deep(field)
    return value


def parse_json(text: str | bytes, field: str = "body") -> Any:
    """``json.loads`` that refuses nesting deeper than :data:`MAX_NESTING` with a bilingual
    :class:`InvalidInput`, never a ``RecursionError``. Malformed text raises ``ValueError`` as before."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise too_deep(field) from None
    return refuse_deep(value, field)


def too_deep(field: str) -> InvalidInput:
    return InvalidInput(f"内容嵌套过深（最多 {MAX_NESTING} 层）。",
                        f"The content nests too deeply (at most {MAX_NESTING} levels).", field=field)
