#!/usr/bin/env bash
# Starts the local PostgreSQL cluster and makes the test role and database.
# Prints the URL the tests use. Fails (non-zero) if PostgreSQL cannot start.
set -euo pipefail
exec 3>&1 1>&2   # stdout carries only the URL; everything else goes to stderr
ver=$(ls /usr/lib/postgresql | sort -V | tail -1)
pg_lsclusters -h | grep -q "^$ver main" || pg_createcluster "$ver" main >/dev/null
python3 "$(dirname "$0")/detach.py" pg_ctlcluster "$ver" main start 2>/dev/null || pg_ctlcluster "$ver" main status >/dev/null
for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 && break; sleep 0.5; done
pg_isready -h 127.0.0.1 >/dev/null
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='eportcard'\"" | grep -q 1 ||
  su postgres -c "psql -qc \"CREATE ROLE eportcard LOGIN PASSWORD 'eportcard' CREATEDB\""
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='eportcard_test'\"" | grep -q 1 ||
  su postgres -c "createdb -O eportcard eportcard_test"
echo "postgresql+psycopg://eportcard:eportcard@127.0.0.1:5432/eportcard_test" >&3
