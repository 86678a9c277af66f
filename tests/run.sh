#!/usr/bin/env bash
# The whole test suite, in one command: provisions what the tests need, then runs them.
#
#   tests/run.sh [extra cargo test arguments]
#
# Provisions, when missing (as root; Debian packages and one pinned cargo tool):
#   - Samba (`smbd`, `smbpasswd`, `smbclient`) for the SMB tests, and libsmbclient-dev +
#     pkg-config to build backproof's SMB support;
#   - python3-aiosmtpd and openssl for the SMTP server of the email tests (STARTTLS with a
#     certificate from a test CA, AUTH, a Maildir the tests read);
#   - systemd, for `systemd-analyze verify` and `security` on systemd/backproof.service;
#   - restic, to make real repositories for the tests that verify them;
#   - the Python packages standardwebhooks and jsonschema (pip), for the webhook tests;
#   - prometheus, for `promtool` (tests/web.rs checks /metrics and contrib/prometheus-alerts.yml);
#   - chromium, and Playwright for Python in a virtualenv under $BACKPROOF_TOOLS (python3-venv),
#     for the browser test of the pages (tests/web.rs, tests/browser/fleet.py): Playwright
#     drives Debian's Chromium, it downloads no browser of its own;
#   - Garage 2.5.0, an S3 server, built once with `cargo install` (about 11 minutes on
#     2 cores) into $BACKPROOF_TOOLS (default ~/.cache/backproof-tools).
# The tests start their own servers on 127.0.0.1 (tests/common/servers.rs): each test
# gets a fresh Garage, smbd or SMTP server on free ports in a temporary folder, so a test
# can stop or damage its server. Nothing is reached beyond 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo >/dev/null || { echo "tests/run.sh: cargo is required (https://rustup.rs)" >&2; exit 2; }

packages=()
command -v smbd >/dev/null || [ -x /usr/sbin/smbd ] || packages+=(samba)
command -v smbclient >/dev/null || packages+=(smbclient)
command -v pkg-config >/dev/null || packages+=(pkg-config)
pkg-config --exists smbclient 2>/dev/null || packages+=(libsmbclient-dev)
command -v useradd >/dev/null || [ -x /usr/sbin/useradd ] || packages+=(passwd)
command -v openssl >/dev/null || packages+=(openssl)
/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || packages+=(python3-aiosmtpd)
command -v systemd-analyze >/dev/null || packages+=(systemd)
command -v restic >/dev/null || packages+=(restic)
command -v promtool >/dev/null || packages+=(prometheus)
[ -x /usr/bin/chromium ] || packages+=(chromium)
"${BACKPROOF_TEST_PYTHON:-python3}" -c 'import playwright.sync_api' 2>/dev/null \
  || /usr/bin/python3 -c 'import ensurepip' 2>/dev/null || packages+=(python3-venv)
if [ ${#packages[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "tests/run.sh: needs Debian packages: ${packages[*]} (run as root, or install them)" >&2
    exit 2
  fi
  echo "tests/run.sh: installing ${packages[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
export PATH="$PATH:/usr/sbin:/sbin"

# The webhook tests check signatures and payloads with independent implementations from
# PyPI: standardwebhooks (the Standard Webhooks reference library) and jsonschema.
if ! python3 -c 'import standardwebhooks, jsonschema' 2>/dev/null; then
  echo "tests/run.sh: installing standardwebhooks and jsonschema (pip)" >&2
  python3 -m pip install --quiet standardwebhooks==1.1.0 jsonschema==4.26.0 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages standardwebhooks==1.1.0 jsonschema==4.26.0
fi

GARAGE_VERSION=2.5.0
tools=${BACKPROOF_TOOLS:-$HOME/.cache/backproof-tools}
garage=""
for candidate in "${BACKPROOF_TEST_GARAGE:-}" "$tools/bin/garage" "$(command -v garage || true)"; do
  if [ -n "$candidate" ] && [ -x "$candidate" ] && "$candidate" --version 2>/dev/null | grep -q "cargo:$GARAGE_VERSION"; then
    garage=$candidate
    break
  fi
done
if [ -z "$garage" ]; then
  echo "tests/run.sh: building Garage $GARAGE_VERSION (S3 server for the tests; once, ~11 min)" >&2
  cargo install "garage@$GARAGE_VERSION" --locked --no-default-features \
    --features bundled-libs,sqlite --root "$tools" --quiet
  garage=$tools/bin/garage
fi
export BACKPROOF_TEST_GARAGE=$garage

python=${BACKPROOF_TEST_PYTHON:-python3}
if ! "$python" -c 'import playwright.sync_api' 2>/dev/null; then
  venv=$tools/playwright-venv
  [ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv "$venv"
  "$venv/bin/python" -c 'import playwright.sync_api' 2>/dev/null \
    || "$venv/bin/pip" install --quiet playwright==1.65.2
  python=$venv/bin/python
fi
export BACKPROOF_TEST_PYTHON=$python

cargo test --locked "$@"
