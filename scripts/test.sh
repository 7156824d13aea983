#!/usr/bin/env bash
# The whole test suite, on a fresh machine: system parts, Python packages, PostgreSQL,
# pcscd with the vpcd virtual reader, then lint, types and pytest (SQLite + PostgreSQL,
# virtual card through a real pcscd, Debian's chromium). Extra arguments go to pytest.
# The citation tests read the seed documents from ../shared/seeds (or $EPORTCARD_SEEDS); without them
# they are skipped, under one line of the summary saying where to put them (.ci/run requires them).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system.sh
python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore -e '.[hardware,test]'
EPORTCARD_TEST_PG_URL=$(bash scripts/start-postgres.sh)
export EPORTCARD_TEST_PG_URL
bash scripts/start-pcscd.sh
export EPORTCARD_REQUIRE_REAL_PARTS=1   # a missing PostgreSQL, pcscd or chromium fails, never skips
python3 -m ruff check core plugins tests bench
python3 -m mypy
python3 -m pytest -q -p no:cacheprovider "$@"
