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
