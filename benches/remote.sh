#!/usr/bin/env bash
# Benchmark of S3 and SMB targets, side by side with reference tools in one run, against
# the same servers the tests use (Garage and smbd on 127.0.0.1), on the same objects.
#
#   benches/remote.sh      (run tests/run.sh once first: it provisions Garage and Samba)
#
# Prints one table (medians of ROUNDS=5 alternating runs, CPU seconds per GiB of the
# client process, ratio = backproof's wall time / the peer's, goal <= 1.0):
#  - S3: one 1 GiB object against `rclone cat`, 1,000 objects of 1 MiB against
#    `rclone copy` to a local folder;
#  - SMB: one 1 GiB file against `smbclient get` (to /dev/null), unencrypted and with
#    SMB3 encryption on both sides, 1,000 files of 1 MiB against `smbclient mget` (to a
#    local folder);
#  - peak RSS while verifying a 2 GiB object on each (goal: at most 64 MiB).
# backproof runs with the default `restore = "stream"` (hashed as it streams); MODES="stream
# disk" adds `restore = "disk"` (also written, flushed and read back past the page cache).
# A warm-up run brings the data into the servers' page cache. Client, servers and the
# contenders share this machine's cores. BIN picks another binary; BEFORE adds an older
# build alongside (its own catalogs, default settings).
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/measure.sh

need rclone rclone
need smbclient smbclient
need bc bc
[ -x /usr/bin/time ] || need /usr/bin/time time
export PATH="$PATH:/usr/sbin"
GARAGE=${BACKPROOF_TEST_GARAGE:-${BACKPROOF_TOOLS:-$HOME/.cache/backproof-tools}/bin/garage}
[ -x "$GARAGE" ] || { echo "Garage not found at $GARAGE: run tests/run.sh first" >&2; exit 2; }

if [ -z "${BIN:-}" ]; then cargo build --release --quiet; BIN=$PWD/target/release/backproof; fi
MODES=${MODES:-stream}
WORK=$(mktemp -d /var/tmp/backproof-remote.XXXXXX)
pids=()
# smbd runs in our process group and may signal the whole group as it stops: remove the
# work folder (gigabytes) first, stop smbd last.
cleanup() {
  for p in "${pids[@]}"; do [ "$p" = "${SMBD_PID:-}" ] || { kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; } || true; done
  rm -rf "$WORK" 2>/dev/null || true; measure_cleanup
  if [ -n "${SMBD_PID:-}" ]; then pkill -P "$SMBD_PID" 2>/dev/null || true; kill "$SMBD_PID" 2>/dev/null || true; fi
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- servers ---
S3_PORT=$(port); RPC_PORT=$(port); SMB_PORT=$(port)
KEY=GK$(openssl rand -hex 12); SECRET=$(openssl rand -hex 32)
cat > "$WORK/garage.toml" <<CONF
metadata_dir = "$WORK/garage/meta"
data_dir = "$WORK/garage/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$RPC_PORT"
rpc_public_addr = "127.0.0.1:$RPC_PORT"
[s3_api]
s3_region = "us-east-1"
api_bind_addr = "127.0.0.1:$S3_PORT"
CONF
GARAGE_RPC_SECRET=$(openssl rand -hex 32) GARAGE_DEFAULT_ACCESS_KEY=$KEY GARAGE_DEFAULT_SECRET_KEY=$SECRET \
  GARAGE_DEFAULT_BUCKET=backups RUST_LOG=warn "$GARAGE" -c "$WORK/garage.toml" server --single-node --default-bucket \
  >"$WORK/garage.log" 2>&1 &
pids+=($!)

mkdir -p "$WORK"/smb/{private,lock,state,cache,pid,ncalrpc,share}
cat > "$WORK/smb.conf" <<CONF
[global]
server role = standalone server
smb ports = $SMB_PORT
interfaces = lo
bind interfaces only = yes
disable netbios = yes
server min protocol = SMB2_10
load printers = no
printcap name = /dev/null
disable spoolss = yes
private dir = $WORK/smb/private
lock directory = $WORK/smb/lock
state directory = $WORK/smb/state
cache directory = $WORK/smb/cache
pid directory = $WORK/smb/pid
ncalrpc dir = $WORK/smb/ncalrpc
log file = $WORK/smb/log.%m
passdb backend = tdbsam:$WORK/smb/private/passdb.tdb
[backups]
path = $WORK/smb/share
read only = yes
valid users = bptest
force user = root
CONF
id bptest >/dev/null 2>&1 || useradd --no-create-home --shell /usr/sbin/nologin bptest
SMB_PW=$(openssl rand -hex 12)
printf '%s\n%s\n' "$SMB_PW" "$SMB_PW" | smbpasswd -c "$WORK/smb.conf" -s -a bptest >/dev/null
smbd --foreground --no-process-group -s "$WORK/smb.conf" >"$WORK/smbd.log" 2>&1 &
SMBD_PID=$!

# rclone's S3 client cannot use a custom CA bundle over plain HTTP; none is needed here.
unset AWS_CA_BUNDLE
export RCLONE_CONFIG="$WORK/rclone.conf"
cat > "$RCLONE_CONFIG" <<CONF
[garage]
type = s3
provider = Other
access_key_id = $KEY
secret_access_key = $SECRET
endpoint = http://127.0.0.1:$S3_PORT
region = us-east-1
force_path_style = true
CONF
for _ in $(seq 100); do rclone lsd garage: >/dev/null 2>&1 && break; sleep 0.2; done

# --- data: one 1 GiB file, 1,000 of 1 MiB, and a 2 GiB object for the memory figure ---
mkdir -p "$WORK/data/one" "$WORK/data/many" "$WORK/data/big"
head -c $((1 << 30)) /dev/urandom > "$WORK/data/one/full-1g.bin"
for i in $(seq -w 1 1000); do head -c $((1 << 20)) /dev/urandom > "$WORK/data/many/incr-$i.bin"; done
head -c $((2 << 30)) /dev/urandom > "$WORK/data/big/huge-2g.bin"
for d in one many big; do rclone copy "$WORK/data/$d" "garage:backups/$d"; cp -r "$WORK/data/$d" "$WORK/smb/share/$d"; done
rm -rf "$WORK/data"

printf '%s' "$SECRET" > "$WORK/s3.secret"
printf '%s' "$SMB_PW" > "$WORK/smb.secret"
job() { # name url mode extra-lines
  mkdir -p "$WORK/cfg-$1/jobs.d"
  printf 'data_dir = "data"\n[policy]\nmax_age = "off"\nsample_files = 1000\nsample_bytes = "100GB"\n' > "$WORK/cfg-$1/backproof.toml"
  if [ "$3" != stream ]; then printf 'restore = "%s"\n' "$3" >> "$WORK/cfg-$1/backproof.toml"; fi
  printf 'client = "Bench"\nschedule = "0 3 * * *"\n[[targets]]\nname = "t"\nurl = "%s"\n%b\n' "$2" "$4" > "$WORK/cfg-$1/jobs.d/bench.toml"
}
S3_OPTS="endpoint = \"http://127.0.0.1:$S3_PORT\"\nregion = \"us-east-1\"\npath_style = true\naccess_key_id = \"$KEY\"\nsecret_access_key_file = \"$WORK/s3.secret\""
SMB_OPTS="username = \"bptest\"\npassword_file = \"$WORK/smb.secret\""
SMB_URL="smb://127.0.0.1:$SMB_PORT/backups"
SMB="smbclient -p $SMB_PORT //127.0.0.1/backups -U bptest%$SMB_PW"
run_job() { echo "$BIN --config $WORK/cfg-$1/backproof.toml run bench"; }
S3_ONE=(); S3_MANY=(); SMB_ONE=(); SMB_MANY=(); SMB_ENC=()
for mode in $MODES; do
  job "s3one-$mode" "s3://backups/one" "$mode" "$S3_OPTS"
  job "s3many-$mode" "s3://backups/many" "$mode" "$S3_OPTS"
  job "smbone-$mode" "$SMB_URL/one" "$mode" "$SMB_OPTS\nencryption = \"off\""
  job "smbenc-$mode" "$SMB_URL/one" "$mode" "$SMB_OPTS\nencryption = \"required\""
  job "smbmany-$mode" "$SMB_URL/many" "$mode" "$SMB_OPTS\nencryption = \"off\""
  for j in s3one s3many smbone smbenc smbmany; do $(run_job "$j-$mode") >/dev/null || true; done   # warm-up, baselines
  S3_ONE+=("backproof restore=$mode||$(run_job "s3one-$mode")")
  S3_MANY+=("backproof restore=$mode||$(run_job "s3many-$mode")")
  SMB_ONE+=("backproof restore=$mode||$(run_job "smbone-$mode")")
  SMB_ENC+=("backproof restore=$mode||$(run_job "smbenc-$mode")")
  SMB_MANY+=("backproof restore=$mode||$(run_job "smbmany-$mode")")
done
if [ -n "${BEFORE:-}" ]; then
  job s3one-before "s3://backups/one" stream "$S3_OPTS"
  job s3many-before "s3://backups/many" stream "$S3_OPTS"
  job smbone-before "$SMB_URL/one" stream "$SMB_OPTS\nencryption = \"off\""
  job smbenc-before "$SMB_URL/one" stream "$SMB_OPTS\nencryption = \"required\""
  job smbmany-before "$SMB_URL/many" stream "$SMB_OPTS\nencryption = \"off\""
  old() { echo "$BEFORE --config $WORK/cfg-$1/backproof.toml run bench"; }
  for j in s3one s3many smbone smbenc smbmany; do $(old "$j-before") >/dev/null || true; done
  S3_ONE+=("backproof before||$(old s3one-before)")
  S3_MANY+=("backproof before||$(old s3many-before)")
  SMB_ONE+=("backproof before||$(old smbone-before)")
  SMB_ENC+=("backproof before||$(old smbenc-before)")
  SMB_MANY+=("backproof before||$(old smbmany-before)")
fi
job s3big "s3://backups/big" stream "$S3_OPTS"
job smbbig "$SMB_URL/big" stream "$SMB_OPTS"
rss() { /usr/bin/time -f '%M' -o "$WORK/rss" "$BIN" --config "$WORK/cfg-$1/backproof.toml" run bench >/dev/null 2>&1 || true; echo "$(cat "$WORK/rss") / 1024" | bc -l; }

alternate "S3, 1 GiB" 1 "${S3_ONE[@]}" \
  "rclone cat||rclone cat garage:backups/one/full-1g.bin"
alternate "S3, 1000 x 1 MiB" 0.9765625 "${S3_MANY[@]}" \
  "rclone copy|rm -rf $WORK/dst|rclone copy garage:backups/many $WORK/dst"
alternate "SMB, 1 GiB" 1 "${SMB_ONE[@]}" \
  "smbclient get||$SMB -c 'cd one; get full-1g.bin /dev/null'"
alternate "SMB3 encrypted, 1 GiB" 1 "${SMB_ENC[@]}" \
  "smbclient get (encrypt)||$SMB --client-protection=encrypt -c 'cd one; get full-1g.bin /dev/null'"
alternate "SMB, 1000 x 1 MiB" 0.9765625 "${SMB_MANY[@]}" \
  "smbclient mget|rm -rf $WORK/dst; mkdir -p $WORK/dst|$SMB -c 'prompt off; lcd $WORK/dst; cd many; mget *'"
table
echo
printf 'peak RSS verifying a 2 GiB object: S3 %.1f MiB, SMB %.1f MiB (goal <= 64 MiB)\n' "$(rss s3big)" "$(rss smbbig)"
