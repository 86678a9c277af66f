#!/usr/bin/env bash
# Benchmark of the local pipeline, measured side by side with reference tools in one run.
#
#   benches/local.sh            (needs: b3sum, rclone, GNU time; installed when missing)
#
# Prints one table (medians of ROUNDS=5 alternating runs, CPU seconds per GiB, ratio =
# backproof's wall time / the peer's, goal <= 1.0 in every row):
#  1. test restore of one 1 GiB file, and of 1,000 files of 1 MiB, with `restore =
#     "stream"` (the default: hashed as it streams) and `restore = "disk"` (also written,
#     flushed and read back past the page cache), against `cp SRC DST && b3sum
#     --num-threads 1 DST` and `rclone check --download` (rclone reads both sides);
#  2. peak RSS while restoring a 2 GiB file (goal: at most 64 MiB).
# Listings are measured by benches/listing.sh.
# Files are in page cache for every contender (read again before each run, not timed).
# BENCH_DIR picks the folder (default: a new folder under /var/tmp); BIN another binary
# (e.g. an older build, with MODES=stream); MODES the restore modes measured; BEFORE an
# older build measured alongside (its own catalog, default settings).
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/measure.sh

need b3sum b3sum
need rclone rclone
[ -x /usr/bin/time ] || need /usr/bin/time time
need bc bc

if [ -z "${BIN:-}" ]; then cargo build --release --quiet; BIN=$PWD/target/release/backproof; fi
MODES=${MODES:-stream disk}
WORK=${BENCH_DIR:-$(mktemp -d /var/tmp/backproof-bench.XXXXXX)}
mkdir -p "$WORK"
trap 'rm -rf "$WORK"; measure_cleanup' EXIT

setup_job() { # name folder sample_files [restore mode]: configuration and catalog in $WORK/cfg-<name>
  mkdir -p "$WORK/cfg-$1/jobs.d"
  printf 'data_dir = "data"\n[policy]\nmax_age = "off"\nsample_bytes = "1TB"\nsample_files = %s\n' "$3" > "$WORK/cfg-$1/backproof.toml"
  if [ -n "${4:-}" ]; then printf 'restore = "%s"\n' "$4" >> "$WORK/cfg-$1/backproof.toml"; fi
  printf 'client = "Bench"\nschedule = "0 3 * * *"\n[[targets]]\nname = "t"\nurl = "file://%s"\n' "$2" > "$WORK/cfg-$1/jobs.d/bench.toml"
}
rss_kib() { /usr/bin/time -f '%M' -o "$WORK/rss" "$@" >/dev/null 2>&1 || true; cat "$WORK/rss"; }
run_job() { echo "$BIN --config $WORK/cfg-$1/backproof.toml run bench"; }

echo "== 1. Test restores, side by side =="
mkdir -p "$WORK/one" "$WORK/many" "$WORK/dst"
head -c $((1 << 30)) /dev/urandom > "$WORK/one/backup-1g.bin"
for i in $(seq -w 1 1000); do head -c $((1 << 20)) /dev/urandom > "$WORK/many/file-$i.bin"; done
cat "$WORK/one/backup-1g.bin" "$WORK"/many/* > /dev/null
# Read before every run (not timed): the machine's memory manager may drop pages that sat
# unused while the other contenders ran.
WARM_ONE="cat $WORK/one/backup-1g.bin > /dev/null"
WARM_MANY="cat $WORK/many/* > /dev/null"
CP_ONE="cp $WORK/one/backup-1g.bin $WORK/dst/copy && b3sum --num-threads 1 $WORK/dst/copy"
CP_MANY="cp -r $WORK/many $WORK/dst/many && b3sum --num-threads 1 $WORK/dst/many/*"
for mode in $MODES; do
  [ "$mode" = stream ] && opt="" || opt=$mode
  setup_job "one-$mode" "$WORK/one" 1 "$opt"
  setup_job "many-$mode" "$WORK/many" 1000 "$opt"
  $(run_job "one-$mode") >/dev/null; $(run_job "many-$mode") >/dev/null   # baselines
done
ONE=(); MANY=()
if [ -n "${BEFORE:-}" ]; then
  setup_job one-before "$WORK/one" 1; setup_job many-before "$WORK/many" 1000
  "$BEFORE" --config "$WORK/cfg-one-before/backproof.toml" run bench >/dev/null
  "$BEFORE" --config "$WORK/cfg-many-before/backproof.toml" run bench >/dev/null
  ONE+=("backproof before|$WARM_ONE|$BEFORE --config $WORK/cfg-one-before/backproof.toml run bench")
  MANY+=("backproof before|$WARM_MANY|$BEFORE --config $WORK/cfg-many-before/backproof.toml run bench")
fi
for mode in $MODES; do
  ONE+=("backproof restore=$mode|$WARM_ONE|$(run_job "one-$mode")")
  MANY+=("backproof restore=$mode|$WARM_MANY|$(run_job "many-$mode")")
done
alternate "local, 1 GiB" 1 "${ONE[@]}" \
  "cp+b3sum|rm -rf $WORK/dst/copy; $WARM_ONE|$CP_ONE" \
  "rclone check --download|$WARM_ONE|rclone check --download $WORK/one $WORK/one"
alternate "local, 1000 x 1 MiB" 0.9765625 "${MANY[@]}" \
  "cp+b3sum|rm -rf $WORK/dst/many; $WARM_MANY|$CP_MANY" \
  "rclone check --download|$WARM_MANY|rclone check --download $WORK/many $WORK/many"
table
rm -rf "$WORK/one/backup-1g.bin" "$WORK/many" "$WORK/dst"

echo
echo "== 2. Peak RSS restoring a 2 GiB file =="
head -c $((2 << 30)) /dev/urandom > "$WORK/one/backup-2g.bin"
setup_job restore "$WORK/one" 1 "$(echo "$MODES" | grep -qw disk && echo disk || true)"
kib=$(rss_kib "$BIN" --config "$WORK/cfg-restore/backproof.toml" run bench)
printf 'peak RSS: %.1f MiB (goal <= 64 MiB)\n' "$(echo "$kib / 1024" | bc -l)"
rm -rf "$WORK/one"

