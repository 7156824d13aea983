"""The language of the web front: Chinese first, English on request (``?lang=en``). The words themselves
are in core.labels, the one catalogue the pages, the CLI and the guide share."""

from __future__ import annotations

from typing import Any

from core.labels import DEFAULT_LANG, LANGS, label


def t(key: str, lang: str = DEFAULT_LANG, **values: Any) -> str:
    """The catalogue's text for ``key`` in ``lang`` with its ``{placeholders}`` filled from ``values``; the key
    itself when it is missing (visible, never a crash)."""
    text = label(key, lang)
    return text.format(**values) if values else text


def pick(text: Any, lang: str = DEFAULT_LANG) -> str:
    """One language out of a ``core.rules.Text``, a (zh, en) pair or a bilingual error; '' for None."""
    if text is None:
        return ""
    if isinstance(text, tuple):
        zh, en = text
    else:
        zh, en = getattr(text, "zh", ""), getattr(text, "en", "")
    return (en or zh) if lang == "en" else (zh or en)


def normalise_lang(value: str | None) -> str | None:
    return value if value in LANGS else None


__all__ = ["DEFAULT_LANG", "LANGS", "normalise_lang", "pick", "t"]
