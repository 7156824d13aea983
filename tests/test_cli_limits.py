"""Limits on input at the command line (issue #9, items 5 and 11): `app submit` refuses text over its
maximum length and files nested too deeply, `app attach` a material the region does not define; each
with one bilingual line and nothing stored."""

from __future__ import annotations

import json

import pytest
from test_cli import EXAMPLE, cli, submit_json  # noqa: F401  (the fixture)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.mark.parametrize("draft", [False, True])
def test_app_submit_refuses_remarks_over_1000_characters_and_stores_nothing(cli, tmp_path, draft):  # noqa: F811
    long = tmp_path / "long.toml"
    long.write_text(EXAMPLE.read_text(encoding="utf-8").replace('remarks = ""', f'remarks = "{"备" * 1001}"'),
                    encoding="utf-8")
    refused = cli("app", "submit", str(long), *(["--draft"] if draft else []), ok=False)
    assert "remarks" in refused.output and "1000" in refused.output
    assert "最多" in refused.output and "at most" in refused.output
    assert "(none)" in cli("app", "list").output
    fine = tmp_path / "fine.toml"
    fine.write_text(long.read_text(encoding="utf-8").replace("备" * 1001, "备" * 1000), encoding="utf-8")
    assert submit_json(cli, fine)["state"] == "submitted"


@pytest.mark.parametrize("suffix, text", [
    (".json", '{"x": ' + "[" * 2000 + "]" * 2000 + "}"),
    (".toml", "x = " + "[" * 2000 + "]" * 2000),
    (".toml", "x = " + "[" * 40 + "]" * 40),
], ids=["json-2000", "toml-2000", "toml-40"])
def test_app_submit_refuses_a_file_nested_too_deeply_in_one_line(cli, tmp_path, suffix, text):  # noqa: F811
    deep = tmp_path / f"deep{suffix}"
    deep.write_text(text, encoding="utf-8")
    refused = cli("app", "submit", str(deep), ok=False)
    assert "嵌套过深" in refused.output and "nests too deeply" in refused.output
    assert "Traceback" not in refused.output and len(refused.output.splitlines()) == 1


def test_app_attach_takes_only_a_material_the_region_defines_for_the_business(cli, tmp_path):  # noqa: F811
    app_id = json.loads(cli("app", "submit", str(EXAMPLE), "--draft", "--json").output)["id"]
    scan = tmp_path / "licence.png"
    scan.write_bytes(PNG)
    refused = cli("app", "attach", app_id, str(scan), "--material", "no_such_material", ok=False)
    assert "licence_photo" in refused.output and "Choose one of the materials" in refused.output
    assert json.loads(cli("app", "show", app_id, "--json").output)["attachments"] == []
    cli("app", "attach", app_id, str(scan), "--material", "licence_photo")
    assert [a["material"] for a in json.loads(cli("app", "show", app_id, "--json").output)["attachments"]] == \
        ["licence_photo"]
