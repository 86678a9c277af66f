#!/usr/bin/env bash
# Renders the report emails in headless Chromium so a person can look at them:
#   tests/screenshot-report.sh      -> target/screenshots/*.png (kept out of git)
# Renders the HTML snapshots (tests/snapshots/*.html, checked by tests/report_snapshots.rs)
# at a desktop and at a phone width.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
out=target/screenshots
mkdir -p "$out"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
for page in report_fail digest; do
  for size in 900,1400 390,1600; do
    name="$out/$page-${size%%,*}px.png"
    chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
      --disable-background-networking --disable-component-update --disable-sync \
      --user-data-dir="$profile" --hide-scrollbars --window-size="$size" \
      --screenshot="$PWD/$name" "file://$PWD/tests/snapshots/$page.html" >/dev/null 2>&1
    echo "$name"
  done
done
