#!/usr/bin/env bash
# The main job on a fresh machine: install, then run the web front on the embedded SQLite
# database with demo data (enterprises, staff, applications in every state).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system.sh
python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore -e '.[hardware]'
exec eportcard demo --dir ./demo "$@"
