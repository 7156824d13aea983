"""Issue #10's application bugs through the command line (`eportcard app ...`), on a fresh SQLite deployment."""

from __future__ import annotations

import json

from test_cli import EXAMPLE, cli, submit_json

__all__ = ["cli"]  # the fixture


def test_a_rejected_enrolment_holds_the_slot(cli):
    first = submit_json(cli)
    cli("app", "accept", first["acceptance_no"])
    cli("app", "reject", first["acceptance_no"], "--reason", "remarks")
    refused = cli("app", "submit", str(EXAMPLE), ok=False).output
    assert "another enrolment" in refused and "未办结的新办申请单" in refused


def test_a_file_choosing_another_regions_making_centre_is_refused(cli, tmp_path):
    foreign = tmp_path / "foreign.toml"
    foreign.write_text(EXAMPLE.read_text(encoding="utf-8").replace(
        'remarks = ""', 'remarks = ""\nmaking_centre = "xa_service_desk"'), encoding="utf-8")
    refused = cli("app", "submit", str(foreign), ok=False).output
    assert "making_centre:" in refused and "shenzhen_east_hall" in refused
    assert "(none)" in cli("app", "list").output
    own = tmp_path / "own.toml"
    own.write_text(EXAMPLE.read_text(encoding="utf-8").replace(
        'remarks = ""', 'remarks = ""\nmaking_centre = "shenzhen_east_hall"'), encoding="utf-8")
    done = submit_json(cli, own)
    assert done["region"] == "shenzhen" and done["acceptance_no"].startswith("WSZ")


def test_make_and_complete_take_the_version_and_completion_needs_every_card(cli):
    app = submit_json(cli)
    no = app["acceptance_no"]
    cli("app", "accept", no)
    produced = json.loads(cli("app", "produce", no, "--json").output)
    stale = cli("app", "make", no, "1", "--expect-version", str(produced["version"] - 1), ok=False).output
    assert "changed meanwhile" in stale and "已被他人修改" in stale
    made = json.loads(cli("app", "make", no, "1", "--expect-version", str(produced["version"]), "--json").output)
    assert [i["made"] for i in made["items"]] == [True, False]
    refused = cli("app", "complete", no, ok=False).output
    assert "card(s) 2 not made" in refused and "第2张卡尚未制作" in refused
    assert cli("app", "make", no, "3", ok=False).output.count("no item 3") == 1
    done = json.loads(cli("app", "complete", no, "--unmade-reason", "操作员离职，企业撤回", "--json").output)
    assert done["state"] == "completed" and "操作员离职，企业撤回" in done["history"][-1]["note"]


def test_deliver_and_return_a_mailed_card(cli, tmp_path):
    mailed = tmp_path / "mail.toml"
    mailed.write_text(EXAMPLE.read_text(encoding="utf-8").replace('method = "counter"', '''method = "mail"
mail_to = { recipient = "孙敏", phone = "13900000071", address = "广东省深圳市福田区福中三路示例大厦7楼" }'''),
                      encoding="utf-8")
    no = submit_json(cli, mailed)["acceptance_no"]
    for step in (("accept",), ("produce",), ("make", "1"), ("make", "2"), ("complete",)):
        cli("app", step[0], no, *step[1:])
    shipped = json.loads(cli("app", "ship", no, "--tracking", "SF1", "--json").output)
    back = json.loads(cli("app", "return", no, "--note", "查无此人", "--expect-version", str(shipped["version"]),
                          "--json").output)
    assert back["delivery"] == "returned" and back["history"][-1]["note"] == "查无此人"
    assert "cannot deliver" in cli("app", "deliver", no, ok=False).output
    cli("app", "ship", no, "--tracking", "SF2")
    done = json.loads(cli("app", "deliver", no, "--json").output)
    assert done["delivery"] == "delivered"
    assert "intact" in cli("audit", "verify").output


def test_a_completed_enrolment_with_its_cards_made_holds_the_slot_for_good(cli):
    no = submit_json(cli)["acceptance_no"]
    for step in (("accept",), ("produce",), ("make", "1"), ("make", "2"), ("complete",)):
        cli("app", step[0], no, *step[1:])
    refused = cli("app", "submit", str(EXAMPLE), ok=False).output
    assert "already holds a legal card" in refused and "本单位已有法人卡" in refused
