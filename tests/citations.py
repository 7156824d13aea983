"""Citations: a rule's source passage must really stand in the cited seed document.

The seed documents (the branch centres' published guides) live outside this repository: in
``../shared/seeds`` beside the clone, or wherever ``EPORTCARD_SEEDS`` points. Without that folder the
citation tests skip, all under one reason that says where to put the documents, unless
``EPORTCARD_REQUIRE_SEEDS=1`` (set by ``.ci/run``) makes a missing folder a failure. A folder that is
there but lacks a cited document always fails: the rule cites a source nobody can check.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEEDS_ENV = "EPORTCARD_SEEDS"
REQUIRE_ENV = "EPORTCARD_REQUIRE_SEEDS"
SEEDS = Path(os.environ.get(SEEDS_ENV) or ROOT.parent / "shared" / "seeds").absolute()
REQUIRED = os.environ.get(REQUIRE_ENV, "") not in ("", "0")

# One reason for every skipped citation test, so pytest's summary folds them into one line.
NO_SEEDS = (f"citation tests need the seed documents: put them in {SEEDS} "
            f"or set {SEEDS_ENV} to the folder holding them")


def seed_text(name: str) -> str:
    """The text of a cited seed document."""
    if not SEEDS.is_dir():
        if REQUIRED:
            pytest.fail(f"{REQUIRE_ENV} is set but the seed folder {SEEDS} does not exist: "
                        f"set {SEEDS_ENV} to the folder holding the seed documents", pytrace=False)
        pytest.skip(NO_SEEDS)
    path = SEEDS / name
    if not path.is_file():
        pytest.fail(f"the cited seed document {name} is not in {SEEDS}", pytrace=False)
    return path.read_text(encoding="utf-8")


def assert_cited(source: str, passage: str) -> None:
    """The passage a rule encodes really stands in the cited document (whitespace-insensitive)."""
    text = "".join(seed_text(source).split())
    assert "".join(passage.split()) in text, f"passage not found in {source}: {passage!r}"
