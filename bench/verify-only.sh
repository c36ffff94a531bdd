#!/usr/bin/env bash
# Verify of a v2 backup against `gzip -dc x.tar.gz | sha256sum` of tar -czf's archive of the same CRM, alternated.
# usage: bench/verify-only.sh [rounds] [work dir]   (first run backs up bench/data/crm once; later runs reuse it)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${1:-5}
WORK=${2:-/tmp/verify-only}
CRM=$REPO/bench/data/crm
mkdir -p "$WORK"
env_ours() { env -u NODE_OPTIONS CRM_ROOT="$WORK/live" BACKUP_DIR="$WORK/store" BACKUP_EMAIL_ENABLED=false BACKUP_FORMAT=v2 "$@"; }
if [ ! -s "$WORK/id" ]; then
  rm -rf "$WORK/live" "$WORK/store" && mkdir -p "$WORK/store"
  cp -a "$CRM" "$WORK/live"
  (cd "$WORK" && env_ours node "$REPO/bin/colab-backup.js" backup --json) | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).id))' > "$WORK/id"
  tar -czf "$WORK/out.tar.gz" -C "$WORK/live" .
fi
ID=$(cat "$WORK/id")
t() { local s e; s=$(date +%s.%N); "$@" > "$WORK/out.txt"; e=$(date +%s.%N); echo "$e - $s" | bc; }
ours=(); peer=()
for i in $(seq "$ROUNDS"); do
  sync
  a=$(cd "$WORK" && t env_ours node "$REPO/bin/colab-backup.js" verify "$ID" --json)
  grep -q '"ok": true' "$WORK/out.txt" || { echo "verify did not report ok:"; head -c 2000 "$WORK/out.txt"; exit 1; }
  b=$(t bash -o pipefail -c 'gzip -dc "$1" | sha256sum' bash "$WORK/out.tar.gz")
  echo "round $i: ours $a s, gzip|sha256sum $b s, ratio $(echo "scale=3; $a / $b" | bc), load $(cut -d' ' -f1-3 /proc/loadavg)"
  ours+=("$a"); peer+=("$b")
done
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mo=$(med "${ours[@]}"); mp=$(med "${peer[@]}")
echo "median: ours $mo s, peer $mp s, ratio $(echo "scale=3; $mo / $mp" | bc)"
