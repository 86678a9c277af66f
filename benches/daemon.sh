#!/usr/bin/env bash
# Benchmark of the idle daemon: with 200 jobs loaded and nothing due, its resident memory
# (goal: at most 40 MiB) and CPU use over a minute (goal: near zero).
#
#   benches/daemon.sh [seconds]      (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_IDLE=${1:-60}
cargo build --release --quiet
BIN=$PWD/target/release/backproof
WORK=$(mktemp -d /var/tmp/backproof-daemon.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

mkdir -p "$WORK/jobs.d" "$WORK/backups"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'data_dir = "data"\n[daemon]\nlisten = "127.0.0.1:%s"\n' "$port" > "$WORK/backproof.toml"
for i in $(seq -w 1 200); do
  # Spread over the day, none due in the next minutes (the current hour is avoided).
  hour=$(( (10#$i % 23 + $(date +%H) + 1) % 24 ))
  printf 'client = "Client %s"\ntechnicians = ["noc@msp.example"]\nowners = ["owner%s@example.com"]\nschedule = "%d %d * * *"\n[[targets]]\nname = "nas"\nurl = "file://%s/backups"\n[[targets]]\nname = "cloud"\nurl = "s3://client-%s/veeam"\nendpoint = "http://127.0.0.1:9"\naccess_key_id = "GK%s"\nsecret_access_key_env = "HOME"\n' \
    "$i" "$i" $(( 10#$i % 60 )) "$hour" "$WORK" "$i" "$i" > "$WORK/jobs.d/client-$i.toml"
done
"$BIN" --config "$WORK/backproof.toml" check-config | tail -1

"$BIN" --config "$WORK/backproof.toml" daemon 2>"$WORK/daemon.log" &
pid=$!
for _ in $(seq 100); do [ -s "$WORK/data/api.token" ] && break; sleep 0.1; done
sleep 2   # settle after start
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks); s0=$(date +%s.%N)
peak=0
for _ in $(seq "$SECONDS_IDLE"); do
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  [ "$rss" -gt "$peak" ] && peak=$rss
  sleep 1
done
t1=$(ticks); s1=$(date +%s.%N)
cpu=$(echo "($t1 - $t0) / $hz" | bc -l)
wall=$(echo "$s1 - $s0" | bc -l)
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
echo "jobs loaded: 200 (400 targets), idle for $(printf '%.0f' "$wall") s"
printf 'RSS: peak while idle %.1f MiB, high-water mark since start %.1f MiB (goal <= 40 MiB)\n' "$(echo "$peak/1024" | bc -l)" "$(echo "$hwm/1024" | bc -l)"
printf 'CPU: %.3f s over %.0f s = %.3f%% of one core (goal: near zero)\n' "$cpu" "$wall" "$(echo "100 * $cpu / $wall" | bc -l)"
