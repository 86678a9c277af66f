#!/usr/bin/env bash
# Benchmark of the local pipeline, measured side by side with reference tools in one run.
#
#   benches/local.sh            (needs: b3sum, hyperfine, GNU time; installed when missing)
#
# Prints:
#  1. test restore of a 1 GiB file (stream + BLAKE3 + write to scratch + re-read + BLAKE3)
#     against `cp SRC DST && b3sum --num-threads 1 DST` (ratio >= 1.0 means backproof is
#     at least as fast), and against `b3sum --num-threads 1 SRC` (the floor: one read and
#     one hash, no copy);
#  2. peak RSS while restoring a 2 GiB file (goal: at most 64 MiB);
#  3. inventory and sampling of 100,000 small files in nested folders against
#     `find DIR -type f -printf '%s %T@\n'`, and the peak RSS of each.
# Files are in page cache for every contender (each is warmed up first).
# BENCH_DIR picks the folder (default: a new folder under /var/tmp).
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; }; }
need b3sum b3sum
need hyperfine hyperfine
[ -x /usr/bin/time ] || need /usr/bin/time time
need jq jq
need bc bc

cargo build --release --quiet
BIN=$PWD/target/release/backproof
WORK=${BENCH_DIR:-$(mktemp -d /var/tmp/backproof-bench.XXXXXX)}
mkdir -p "$WORK"
trap 'rm -rf "$WORK"' EXIT

setup_job() { # name folder sample_files: configuration and catalog in $WORK/cfg-<name>
  mkdir -p "$WORK/cfg-$1/jobs.d"
  printf 'data_dir = "data"\n[policy]\nmax_age = "off"\nsample_bytes = "1TB"\nsample_files = %s\n' "$3" > "$WORK/cfg-$1/backproof.toml"
  printf 'client = "Bench"\nschedule = "0 3 * * *"\n[[targets]]\nname = "t"\nurl = "file://%s"\n' "$2" > "$WORK/cfg-$1/jobs.d/bench.toml"
}
mean() { jq -r ".results[$1].mean" "$WORK/h.json"; }
rss_kib() { /usr/bin/time -f '%M' -o "$WORK/rss" "$@" >/dev/null 2>&1 || true; cat "$WORK/rss"; }

echo "== 1. Test restore of a 1 GiB file =="
mkdir -p "$WORK/one" "$WORK/dst"
head -c $((1 << 30)) /dev/urandom > "$WORK/one/backup-1g.bin"
setup_job restore "$WORK/one" 1
cat "$WORK/one/backup-1g.bin" > /dev/null
"$BIN" --config "$WORK/cfg-restore/backproof.toml" run bench >/dev/null   # baseline run
hyperfine --style none --warmup 2 --runs 10 --export-json "$WORK/h.json" \
  -n backproof "$BIN --config $WORK/cfg-restore/backproof.toml run bench" \
  -n cp+b3sum "cp $WORK/one/backup-1g.bin $WORK/dst/copy && b3sum --num-threads 1 $WORK/dst/copy && rm $WORK/dst/copy" \
  -n b3sum "b3sum --num-threads 1 $WORK/one/backup-1g.bin" >/dev/null
bp=$(mean 0); naive=$(mean 1); floor=$(mean 2)
printf 'backproof run (restore + 2 hashes): %.3f s\n' "$bp"
printf 'cp SRC DST && b3sum DST:            %.3f s\n' "$naive"
printf 'b3sum --num-threads 1 SRC:          %.3f s\n' "$floor"
printf 'ratio vs cp+b3sum (goal >= 1.0):    %.2f\n' "$(echo "$naive / $bp" | bc -l)"
printf 'ratio vs b3sum alone (floor):       %.2f\n' "$(echo "$floor / $bp" | bc -l)"
rm -f "$WORK/one/backup-1g.bin"

echo
echo "== 2. Peak RSS restoring a 2 GiB file =="
head -c $((2 << 30)) /dev/urandom > "$WORK/one/backup-2g.bin"
rm -rf "$WORK/cfg-restore/data"
kib=$(rss_kib "$BIN" --config "$WORK/cfg-restore/backproof.toml" run bench)
printf 'peak RSS: %.1f MiB (goal <= 64 MiB)\n' "$(echo "$kib / 1024" | bc -l)"
rm -rf "$WORK/one"

echo
echo "== 3. Inventory and sampling of 100,000 small files =="
python3 - "$WORK/many" <<'PY'
import os, sys
root = sys.argv[1]
for a in range(20):
    for b in range(10):
        d = os.path.join(root, f"host-{a:02}", f"day-{b:02}")
        os.makedirs(d, exist_ok=True)
        for c in range(500):
            with open(os.path.join(d, f"chunk-{c:04}.bin"), "wb") as f:
                f.write(os.urandom(64))
PY
setup_job many "$WORK/many" 10
"$BIN" --config "$WORK/cfg-many/backproof.toml" run bench >/dev/null   # first inventory
hyperfine --style none --warmup 1 --runs 5 --export-json "$WORK/h.json" \
  -n backproof "$BIN --config $WORK/cfg-many/backproof.toml run bench" \
  -n find "find $WORK/many -type f -printf '%s %T@\n'" >/dev/null
bp=$(mean 0); fd=$(mean 1)
printf 'backproof run (inventory, drift, coverage, sample of 10): %.3f s\n' "$bp"
printf "find -type f -printf '%%s %%T@':                         %.3f s\n" "$fd"
printf 'ratio vs find (find time / backproof time):             %.2f\n' "$(echo "$fd / $bp" | bc -l)"
kib=$(rss_kib "$BIN" --config "$WORK/cfg-many/backproof.toml" run bench)
fkib=$(rss_kib find "$WORK/many" -type f -printf '%s %T@\n')
printf 'peak RSS: backproof %.1f MiB, find %.1f MiB\n' "$(echo "$kib / 1024" | bc -l)" "$(echo "$fkib / 1024" | bc -l)"
