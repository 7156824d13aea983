"""Citations: a rule's source passage must really stand in the cited seed document."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEEDS = Path(os.environ.get("EPORTCARD_SEEDS", ROOT.parent / "shared" / "seeds"))
IN_CI = bool(os.environ.get("CI"))


def seed_text(name: str) -> str:
    """The text of a cited seed document. In CI the seeds must be present."""
    path = SEEDS / name
    if not path.exists():
        if IN_CI:
            pytest.fail(f"seed document {path} is missing (set EPORTCARD_SEEDS)")
        pytest.skip(f"seed document {name} not available outside CI")
    return path.read_text(encoding="utf-8")


def assert_cited(source: str, passage: str) -> None:
    """The passage a rule encodes really stands in the cited document (whitespace-insensitive)."""
    text = "".join(seed_text(source).split())
    assert "".join(passage.split()) in text, f"passage not found in {source}: {passage!r}"
