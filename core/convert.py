"""Private cattrs converters (never the global one), made by factories.

* ``make_json_converter``: domain objects <-> JSON-safe dicts (database rows, API, files).
* ``make_config_converter``: TOML documents -> frozen objects, unknown keys rejected.
"""

from __future__ import annotations

from datetime import date, datetime

import cattrs
from cattrs.preconf.json import make_converter as _make_json

from core.rules import Text


def _text_hook(value, _type) -> Text:
    # Region TOML may write a plain string where only Chinese is known.
    if isinstance(value, str):
        return Text(value)
    if isinstance(value, dict):
        extra = set(value) - {"zh", "en"}
        if extra:
            raise ValueError(f"unknown keys {sorted(extra)} in text (use zh / en)")
        return Text(value["zh"], value.get("en", ""))
    raise ValueError("expected a string or a table with zh / en")


def make_json_converter() -> cattrs.Converter:
    conv = _make_json(forbid_extra_keys=False)
    conv.register_structure_hook(Text, _text_hook)
    return conv


def make_config_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True, prefer_attrib_converters=False)
    conv.register_structure_hook(Text, _text_hook)
    conv.register_structure_hook(date, lambda v, _: v if isinstance(v, date) else date.fromisoformat(v))
    conv.register_structure_hook(
        datetime, lambda v, _: v if isinstance(v, datetime) else datetime.fromisoformat(v))
    return conv


def describe_errors(exc: BaseException) -> list[str]:
    """Readable ``path: reason`` lines for a cattrs structuring failure."""
    if isinstance(exc, (cattrs.ClassValidationError, cattrs.IterableValidationError)):
        return list(cattrs.transform_error(exc, path="$"))
    return [f"$: {exc}"]
