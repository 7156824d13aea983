#!/usr/bin/env bash
# Installs the system parts eportcard runs against: PC/SC (pcscd + the vpcd virtual
# reader driver), the build tools pyscard needs, Debian's chromium for browser tests,
# PostgreSQL, OpenSSL, poppler (pdftotext), a CJK TrueType font for PDF receipts and wrk
# (the HTTP load generator bench/bench_web.py drives), systemd (systemd-analyze checks deploy/systemd/)
# nginx (the reverse proxy of deploy/nginx/, checked with nginx -t and proxied through in the tests)
# and softhsm2 (a PKCS#11 token the CA key tests make and sign on, as on an HSM).
# Idempotent: packages already present are skipped quickly.
set -euo pipefail
packages=(pcscd vsmartcard-vpcd pcsc-tools opensc swig libpcsclite-dev
          chromium postgresql openssl poppler-utils fonts-wqy-zenhei wrk iproute2 procps systemd nginx-light
          softhsm2)
packages+=(libnss3-tools ca-certificates)  # certutil and update-ca-certificates: `eportcard agent trust`
packages+=(postgresql-client)  # pg_dump and pg_restore: `eportcard backup` of a PostgreSQL deployment, `backup verify`
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
