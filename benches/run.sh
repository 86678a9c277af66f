#!/usr/bin/env bash
# Every benchmark of backproof against the tools technicians already trust, in one run,
# ending with one table of every row (medians of ROUNDS=5 alternating runs: wall time,
# spread, CPU seconds per GiB, peak RSS, ratio backproof / peer).
#
#   benches/run.sh            (run tests/run.sh once first: it provisions Garage and Samba)
#
# Sections, each also runnable on its own (see its header for what it measures):
#   benches/local.sh     local restores vs cp+b3sum and rclone check --download, peak RSS
#   benches/listing.sh   listings of 100k, 300k and 1M files vs rclone lsf -R, disk writes
#   benches/restic.sh    a restic repository vs restic check --read-data
#   benches/remote.sh    S3 (Garage) vs rclone, SMB (smbd) vs smbclient
#   benches/catalog.sh   fleet page, /metrics, start-up and status with 100,000 runs
#   benches/tiny.sh      a tiny job in text mode vs --json
# SKIP="remote catalog" leaves sections out; the goals are printed under the table.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
export BIN=$PWD/target/release/backproof
export BENCH_COMBINED=1
export MEASURE_LOG
MEASURE_LOG=$(mktemp /var/tmp/backproof-measure.XXXXXX)
trap 'rm -f "$MEASURE_LOG"' EXIT
for section in local listing restic remote catalog tiny; do
  if [[ " ${SKIP:-} " == *" $section "* ]]; then continue; fi
  echo "######## benches/$section.sh"
  # In its own session: smbd, stopping, signals its whole process group.
  setsid "benches/$section.sh" || echo "benches/$section.sh failed (exit $?)"
  echo
done
echo "######## every row"
BENCH_COMBINED= . benches/measure.sh
BENCH_COMBINED= table
cat <<'GOALS'
Goals: ratio <= 1.0 for restores (local, S3, SMB, restic) and the tiny job; <= 1.5 for
listings, with peak RSS <= 64 MiB whatever the count; start-up and status with 100,000
runs within 1.2 x of one run (printed by benches/catalog.sh above).
GOALS
