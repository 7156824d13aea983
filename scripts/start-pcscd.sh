#!/usr/bin/env bash
# Start pcscd (with Debian's vsmartcard-vpcd reader driver) in the background if it is not
# already running, and fail loudly if it cannot be started. Logs go to $PCSCD_LOG.
set -euo pipefail

PCSCD_LOG="${PCSCD_LOG:-/tmp/eportcard-pcscd.log}"
SOCKET="/run/pcscd/pcscd.comm"

die() { echo "start-pcscd: $*" >&2; exit 1; }

command -v pcscd >/dev/null || die "pcscd is not installed (apt-get install pcscd)"
[ -f /etc/reader.conf.d/vpcd ] || die "the vpcd reader driver is not configured (apt-get install vsmartcard-vpcd)"

if pgrep -x pcscd >/dev/null && [ -S "$SOCKET" ]; then
  echo "start-pcscd: pcscd already running"
  exit 0
fi

mkdir -p /run/pcscd
rm -f "$SOCKET"   # left by a pcscd that did not stop cleanly; its presence is our readiness signal
# --foreground keeps logs in our file; nohup + & + detach.py detach it from this shell and its pipes.
nohup python3 "$(dirname "$0")/detach.py" pcscd --foreground --info >"$PCSCD_LOG" 2>&1 &
for _ in $(seq 1 50); do
  if [ -S "$SOCKET" ]; then
    echo "start-pcscd: pcscd started (log: $PCSCD_LOG)"
    exit 0
  fi
  sleep 0.1
done
cat "$PCSCD_LOG" >&2 || true
die "pcscd did not create $SOCKET within 5 s"
