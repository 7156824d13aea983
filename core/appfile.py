"""Application files (TOML or JSON) for ``eportcard app submit FILE``.

The file mirrors :class:`core.model.Application` with a few conveniences a person
typing it expects: ``customs_codes = "A&B"``, ID validity as ``YYYYMMDD`` with
``00000000`` for long-term, ``agent = "legal_rep"``. See ``examples/``.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from core import ids
from core.convert import describe_errors, make_config_converter, parse_json, refuse_deep, too_deep
from core.errors import InvalidInput
from core.model import Application

ID_DATES = ("id_valid_from", "id_valid_to")


def _person(raw: Any, where: str) -> Any:
    if not isinstance(raw, dict):
        return raw
    out = dict(raw)
    for key in ID_DATES:
        value = out.get(key)
        if isinstance(value, str | int) and len(str(value)) == 8 and str(value).isdigit():
            out[key] = ids.parse_id_validity(str(value), f"{where}.{key}")
    return out


def _prepare(raw: dict[str, Any]) -> dict[str, Any]:
    data = dict(raw)
    data.setdefault("id", "")
    ent = dict(data.get("enterprise") or {})
    codes = ent.get("customs_codes")
    if isinstance(codes, str):
        ent["customs_codes"] = ids.validate_customs_code(codes) if codes.strip() else ()
    if "legal_rep" in ent:
        ent["legal_rep"] = _person(ent["legal_rep"], "enterprise.legal_rep")
    data["enterprise"] = ent
    data["items"] = [dict(i, holder=_person(i.get("holder"), f"items[{n}].holder")) if isinstance(i, dict) else i
                     for n, i in enumerate(data.get("items") or [], start=1)]
    agent = data.get("agent")
    if agent == "legal_rep":
        data["agent"] = ent.get("legal_rep")
    elif isinstance(agent, dict):
        data["agent"] = _person(agent, "agent")
    for forbidden in ("state", "history", "acceptance_no", "version", "steps_done", "delivery", "tracking_no"):
        if forbidden in data:
            raise InvalidInput(f"申请文件不能设置 {forbidden}（由系统维护）",
                               f"an application file cannot set {forbidden!r} (the system keeps it)",
                               field=forbidden)
    return data


def parse_application(text: str, fmt: str) -> Application:
    try:
        raw = parse_json(text, "file") if fmt == "json" else refuse_deep(tomllib.loads(text), "file")
    except RecursionError:  # tomllib recurses into nested arrays and tables
        raise too_deep("file") from None
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        kind = "JSON" if fmt == "json" else "TOML"
        raise InvalidInput(f"申请文件不是合法的 {kind}：{exc}", f"the application file is not valid {kind}: {exc}",
                           field="file") from exc
    if not isinstance(raw, dict):
        raise InvalidInput("申请文件应为一个对象", "the application file must be an object", field="file")
    try:
        return make_config_converter().structure(_prepare(raw), Application)
    except InvalidInput:
        raise
    except Exception as exc:
        lines = "; ".join(describe_errors(exc))
        raise InvalidInput(f"申请文件有误：{lines}", f"the application file is invalid: {lines}", field="file") from exc


def load_application(path: Path | str) -> Application:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"无法读取申请文件 {path}：{exc}", f"cannot read the application file {path}: {exc}",
                           field="file") from exc
    return parse_application(text, "json" if path.suffix.lower() == ".json" else "toml")


__all__ = ["load_application", "parse_application"]
