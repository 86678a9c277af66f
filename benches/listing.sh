#!/usr/bin/env bash
# Benchmark of listings and of what a run writes to the catalog, side by side with
# `rclone lsf -R` in one run.
#
#   benches/listing.sh        (needs rclone, GNU time; installed when missing; run it
#                              alone: the disk counters are the device's)
#
# For 100,000, 300,000 and 1,000,000 small files in nested folders (COUNTS changes the
# list; the tree grows from one count to the next):
#  - a run (listing, inventory, drift, coverage and a sample of 10 restored) against
#    `rclone lsf -R` (listing only): medians of ROUNDS=5 alternating runs, wall time,
#    CPU and peak RSS (goal: ratio <= 1.5; peak RSS <= 64 MiB and flat with the count);
#  - what a run writes: the inventory records and chunk files (from its log), the bytes
#    written to the disk (sectors written to its device around the run and a sync: the
#    catalog, the inventory's chunk files, the evidence files, sled's rewrite of its free
#    segments at each open, a compaction when the catalog's file has doubled), and the
#    sizes of the catalog and of the chunk files after it; on the first run
#    (the whole inventory), on a run where nothing changed, and on a run after 1,000
#    files were rewritten (goal: grows with what changed, not with the inventory).
# The tree is in the page cache for every contender (each is warmed up first).
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/measure.sh

need rclone rclone
[ -x /usr/bin/time ] || need /usr/bin/time time

if [ -z "${BIN:-}" ]; then cargo build --release --quiet; BIN=$PWD/target/release/backproof; fi
COUNTS=${COUNTS:-100000 300000 1000000}
WORK=${BENCH_DIR:-$(mktemp -d /var/tmp/backproof-listing.XXXXXX)}
mkdir -p "$WORK"
trap 'rm -rf "$WORK"; measure_cleanup' EXIT

grow() { # total: adds folders of 500 files of 64 bytes until the tree holds `total` files
  python3 - "$WORK/tree" "$1" <<'PY'
import os, sys
root, total = sys.argv[1], int(sys.argv[2])
per_folder, folders = 500, int(sys.argv[2]) // 500
for i in range(folders):
    d = os.path.join(root, f"host-{i // 100:03}", f"day-{i % 100:02}")
    if os.path.isdir(d):
        continue
    os.makedirs(d)
    for c in range(per_folder):
        with open(os.path.join(d, f"chunk-{c:04}.bin"), "wb") as f:
            f.write(os.urandom(64))
PY
}
# Bytes written to the disk that holds $WORK, from the kernel's counters of that device
# (sectors written), around one run and a `sync`: the run's own writes and their
# write-back, whatever calls made them (GNU time's %O counts each sync_file_range of a
# few bytes as whole blocks, and reads sled's many small synced writes as gigabytes).
device=$(basename "$(df --output=source "$WORK" | tail -1)")
sectors() { if [ -r "/sys/class/block/$device/stat" ]; then awk '{print $7}' "/sys/class/block/$device/stat"; else echo 0; fi; }
written() { # a run's disk writes (MiB), the inventory records it wrote, the catalog's size
  sync
  local before; before=$(sectors)
  BACKPROOF_LOG=warn,backproof::verify::inventory=info,backproof::app::setup=info \
    "$@" >/dev/null 2>"$WORK/log" || true
  sync
  printf '%s MiB, %s records in %s chunks, catalog %s MiB + inventory chunks %s MiB after it%s' \
    "$(( ($(sectors) - before) / 2048 ))" \
    "$(grep -o 'records_written=[0-9]*' "$WORK/log" | tail -1 | cut -d= -f2)" \
    "$(grep -o 'chunks_written=[0-9]*' "$WORK/log" | tail -1 | cut -d= -f2)" \
    "$(du -sm "$WORK/cfg/data/catalog" | cut -f1)" \
    "$(du -sm "$WORK/cfg/data/inventory" 2>/dev/null | cut -f1)" \
    "$(grep -q 'catalog compacted' "$WORK/log" && echo ' (compacted at its end)' || true)"
}

mkdir -p "$WORK/cfg/jobs.d"
printf 'data_dir = "data"\n[policy]\nmax_age = "off"\nsample_files = 10\n' > "$WORK/cfg/backproof.toml"
printf 'client = "Bench"\nschedule = "0 3 * * *"\n[[targets]]\nname = "t"\nurl = "file://%s/tree"\n' "$WORK" > "$WORK/cfg/jobs.d/bench.toml"
RUN="$BIN --config $WORK/cfg/backproof.toml run bench"
for n in $COUNTS; do
  echo "== Listing of $n files =="
  grow "$n"
  sync
  first=$(written $RUN)
  find "$WORK/tree" -type f -printf '' ; rclone lsf -R "$WORK/tree" >/dev/null   # warm up
  alternate "listing, $n files" 0 \
    "backproof run (listing)||$RUN" \
    "rclone lsf -R||rclone lsf -R $WORK/tree"
  sync
  same=$(written $RUN)
  # 1,000 files rewritten with new content and a new modification time.
  python3 - "$WORK/tree" <<'PY'
import os, sys
changed = 0
for folder, _, names in sorted(os.walk(sys.argv[1])):
    for name in sorted(names)[:10]:
        if changed == 1000:
            sys.exit(0)
        with open(os.path.join(folder, name), "wb") as f:
            f.write(os.urandom(64))
        changed += 1
PY
  sync
  changed=$(written $RUN)
  printf 'disk writes of a run over %s files: first run (whole inventory) %s; nothing changed %s; 1,000 files changed %s\n' \
    "$n" "$first" "$same" "$changed"
  echo
done
table
