"""Issue #10's application bugs through the command line (`eportcard app ...`), on a fresh SQLite deployment."""

from __future__ import annotations

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
