"""Without the seed documents a plain clone skips only the citation tests, under one summary line that
says where to put them; with ``EPORTCARD_REQUIRE_SEEDS=1`` (``.ci/run``) their absence fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from citations import REQUIRE_ENV, ROOT, SEEDS_ENV

# Two citation tests (one per seed document) and their file's other tests, which need no seed.
CITING = ["tests/core/test_ids.py::test_customs_code_dual_format_is_from_the_shenzhen_guide",
          "tests/core/test_ids.py::test_standin_rule_is_from_the_hangzhou_guide"]
NOT_CITING = "tests/core/test_ids.py::test_known_published_examples"


def _pytest(seeds: Path, *, require: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "EPORTCARD_REQUIRE_SEEDS"))}
    env.update({SEEDS_ENV: str(seeds), "CI": "true"})  # CI alone no longer makes the seeds required
    if require:
        env[REQUIRE_ENV] = "1"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *CITING, NOT_CITING],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_missing_seeds_skip_the_citation_tests_under_one_line(tmp_path):
    nowhere = tmp_path / "seeds"
    run = _pytest(nowhere, require=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed, 2 skipped" in run.stdout, run.stdout
    said = [line for line in run.stdout.splitlines() if str(nowhere) in line]
    assert len(said) == 1, run.stdout
    assert said[0].startswith("SKIPPED [2] ") and SEEDS_ENV in said[0], said


def test_required_seeds_fail_when_missing(tmp_path):
    run = _pytest(tmp_path / "seeds", require=True)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "2 failed, 1 passed" in run.stdout, run.stdout
    assert f"{REQUIRE_ENV} is set but the seed folder {tmp_path / 'seeds'} does not exist" in run.stdout


def test_a_cited_document_missing_from_the_seed_folder_fails(tmp_path):
    run = _pytest(tmp_path, require=False)  # the folder exists, the documents do not
    assert run.returncode == 1, run.stdout + run.stderr
    assert "2 failed, 1 passed" in run.stdout, run.stdout
    assert f"the cited seed document 000_acc9b246733ddaa2.txt is not in {tmp_path}" in run.stdout
