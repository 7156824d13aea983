"""Private cattrs converters (never the global one), made by factories.

* ``make_json_converter``: domain objects <-> JSON-safe dicts (database rows, API, files).
* ``make_config_converter``: TOML documents -> frozen objects, strict: unknown keys, a value of the wrong
  TOML type (``"no"`` for a bool, ``3.7`` or ``"3"`` for an int) and a value outside an enum are errors.
* ``mistakes``: each problem of a failed structuring with its path (list indexes kept) and a bilingual reason.
* ``parse_json`` / ``refuse_deep``: JSON text in, nested no deeper than ``MAX_NESTING``.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from enum import Enum, IntEnum, StrEnum
from typing import Any, get_args, get_origin

import attrs
import cattrs
from attrs import frozen
from cattrs.errors import ForbiddenExtraKeysError, IterableValidationNote
from cattrs.preconf.json import make_converter as _make_json
from cattrs.v import format_exception

from core.errors import InvalidInput
from core.rules import Text

# Our documents nest at most six deep (application -> items -> holder -> ...); 32 leaves room for any
# client, while 2,000 nested brackets would exhaust Python's recursion in the parser or the converter.
MAX_NESTING = 32


class Unreadable(ValueError):
    """Raised by our hooks with the precise reason (a bad date, a string where a list belongs);
    ``str()`` is the English reason, ``zh`` the Chinese one."""

    def __init__(self, en: str, zh: str = "") -> None:
        super().__init__(en)
        self.en = en
        self.zh = zh or en


def _shown(value: Any) -> str:
    """``str 'no'``: the TOML/JSON type a person wrote, and the value (cut short)."""
    kind = {bool: "bool", int: "int", float: "float", str: "str", list: "array", dict: "table"}.get(
        type(value), type(value).__name__)
    text = repr(value)
    return f"{kind} {text if len(text) <= 60 else text[:57] + '...'}"


def _text_hook(value, _type) -> Text:
    # Region TOML may write a plain string where only Chinese is known.
    if isinstance(value, str):
        return Text(value)
    if isinstance(value, dict):
        extra = set(value) - {"zh", "en"}
        if extra:
            raise Unreadable(f"unknown keys {sorted(extra)} in text (use zh / en)",
                             f"文本中有未知的键 {sorted(extra)}（只能用 zh / en）")
        zh, en = value.get("zh"), value.get("en", "")
        if not isinstance(zh, str) or not isinstance(en, str):
            raise Unreadable("a text needs zh (and may have en), both strings",
                             "文本须有字符串 zh（可再加字符串 en）")
        return Text(zh, en)
    raise Unreadable(f"expected a string or a table with zh / en, got {_shown(value)}",
                     f"应为字符串或含 zh / en 的表，实际为 {_shown(value)}")


# What each scalar type accepts from a document. TOML (https://toml.io/en/v1.0.0#integer, #float, #boolean)
# keeps integers, floats and booleans apart; cattrs' default hooks call int() / bool() / str(), which would
# turn 3.7 into 3, "3" into 3 and "no" into True. bool is a subclass of int in Python, so the checks are on
# the exact type.
_SCALARS: dict[type, tuple[tuple[type, ...], str, str]] = {
    bool: ((bool,), "bool (true or false)", "布尔值（true 或 false）"),
    int: ((int,), "int (a whole number)", "整数"),
    float: ((float, int), "float (a number)", "数值"),
    str: ((str,), "str (a quoted string)", "字符串（加引号）"),
}


def _strict_scalar(kind: type):
    accepted, en, zh = _SCALARS[kind]

    def structure(value: Any, _: Any) -> Any:
        if type(value) not in accepted:
            raise Unreadable(f"expected {en}, got {_shown(value)}", f"应为{zh}，实际为 {_shown(value)}")
        return kind(value)
    return structure


def _enum(value: Any, t: type[Enum]) -> Enum:
    try:
        return t(value)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in t)
        raise Unreadable(f"{value!r} is not one of: {allowed}", f"{value!r} 不是可选值之一：{allowed}") from None


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
                raise Unreadable(f"expected a list, got {_shown(value)}", f"应为列表，实际为 {_shown(value)}")
            items, errors = [], []
            for index, item in enumerate(value):
                try:
                    items.append(conv.structure(item, inner))
                except Exception as exc:
                    # As cattrs' own list hook does: the note is what keeps "[index]" in the error's path.
                    exc.add_note(IterableValidationNote(f"Structuring {t} @ index {index}", index, inner))
                    errors.append(exc)
            if errors:
                raise cattrs.IterableValidationError(f"While structuring {t!r}", errors, t)
            return tuple(items)
        return structure
    return factory


def lists_only(conv: cattrs.Converter) -> cattrs.Converter:
    """``conv``, building ``tuple[X, ...]`` from a list only (an API body's ``"items": ""`` is no
    empty tuple)."""
    conv.register_structure_hook_factory(_is_homogeneous_tuple, _list_only(conv))
    return conv


def _tables_only(conv: cattrs.Converter):
    """An attrs class from a table only (a TOML ``courier = "yes"`` would fail on ``.keys()``)."""
    def factory(cl: Any):
        build = conv.gen_structure_attrs_fromdict(cl)

        def structure(value: Any, t: Any) -> Any:
            if not isinstance(value, dict):
                raise Unreadable(f"expected a table, got {_shown(value)}", f"应为表，实际为 {_shown(value)}")
            return build(value, t)
        return structure
    return factory


def make_config_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True, prefer_attrib_converters=False)
    conv.register_structure_hook_factory(attrs.has, _tables_only(conv))
    conv.register_structure_hook_factory(_is_homogeneous_tuple, _list_only(conv))
    for kind in _SCALARS:
        conv.register_structure_hook(kind, _strict_scalar(kind))
    # Class hooks dispatch along the MRO (functools.singledispatch), where a StrEnum meets StrEnum before str.
    for kind in (Enum, StrEnum, IntEnum):
        conv.register_structure_hook(kind, _enum)
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
        raise Unreadable(f"not a date (YYYY-MM-DD): {value!r}", f"不是日期（YYYY-MM-DD）：{value!r}") from None


def _datetime(value: Any, _: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise Unreadable(f"not a date and time (ISO 8601): {value!r}", f"不是日期时间（ISO 8601）：{value!r}") from None


def describe_errors(exc: BaseException) -> list[str]:
    """Readable ``path: reason`` lines for a cattrs structuring failure."""
    if isinstance(exc, (cattrs.ClassValidationError, cattrs.IterableValidationError)):
        return list(cattrs.transform_error(exc, path="$", format_exception=_reason))
    return [f"$: {exc}"]


PathPart = str | int


@frozen
class Mistake:
    """One problem in a structured document: where (keys and list indexes) and why, in both languages."""

    path: tuple[PathPart, ...]
    zh: str
    en: str

    @property
    def where(self) -> str:
        """The path as ``$.businesses[0].materials[2].form``."""
        return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in self.path)


def mistakes(exc: BaseException, path: tuple[PathPart, ...] = ()) -> list[Mistake]:
    """Every problem in a failed ``structure()`` call, walking cattrs' exception groups as
    ``cattrs.transform_error`` does (https://catt.rs/en/stable/validation.html#transforming-exceptions-into-error-messages),
    but with the path kept as parts (to find its line) and an unknown key reported at the key itself."""
    if isinstance(exc, cattrs.IterableValidationError | cattrs.ClassValidationError):
        with_notes, without = exc.group_exceptions()
        found: list[Mistake] = []
        for sub, note in with_notes:
            part = note.index if isinstance(note, IterableValidationNote) else note.name
            found += mistakes(sub, (*path, part))
        for sub in without:
            found += mistakes(sub, path)
        return found
    if isinstance(exc, ForbiddenExtraKeysError):
        allowed = ", ".join(a.name for a in attrs.fields(exc.cl)) if attrs.has(exc.cl) else ""
        return [Mistake((*path, key), f"未知的键 {key!r}（可用：{allowed}）", f"unknown key {key!r} (allowed: {allowed})")
                for key in sorted(exc.extra_fields)]
    if isinstance(exc, KeyError):
        return [Mistake(path, "缺少必填项", "required field missing")]
    if isinstance(exc, Unreadable):
        return [Mistake(path, exc.zh, exc.en)]
    en = format_exception(exc, None)
    return [Mistake(path, f"值无效（{en}）", en)]


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
