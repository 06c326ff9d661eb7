#!/usr/bin/env bash
# Job manager load (docs/benchmarks.md, "Job manager"): a fresh `sluice server` on a free loopback port, a
# blocker job holding the one unit of resource `slot`, then bench_manager_load submits JOBS jobs that each
# need `slot` (so all of them queue) from CLIENTS connections while READERS threads read jobs and pages.
# Prints submissions/s, submit and read latency percentiles, and the daemon's RSS (VmRSS, VmHWM) with
# the 10,000 jobs queued.
#   bench/manager_load.sh [BUILD_DIR]     env: JOBS=10000 CLIENTS=16 READERS=4 DATA=<tmp dir>
set -euo pipefail
B=${1:-build}
SLUICE=$B/sluice
LOAD=$B/bench_manager_load
JOBS=${JOBS:-10000} CLIENTS=${CLIENTS:-16} READERS=${READERS:-4}
T=$(mktemp -d /tmp/sluice-mgr-load-XXXXXX)
DATA=${DATA:-$T/data}
"$SLUICE" server --listen 127.0.0.1:0 --data-dir "$DATA" --cpus 1 --resource slot=1 > "$T/srv.out" 2> "$T/srv.err" &
SRV=$!
trap 'kill $SRV 2>/dev/null; wait $SRV 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 200); do grep -q listening "$T/srv.out" 2>/dev/null && break; sleep 0.05; done
PORT=$(grep -o '127.0.0.1:[0-9]*' "$T/srv.out" | head -1 | cut -d: -f2)
blocker=$(SLUICE_SERVER=127.0.0.1:$PORT "$SLUICE" submit --cpus 0 --resource slot=1 -- sleep 3600)
echo "machine: $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "data dir filesystem: $(df -T "$DATA" | awk 'NR==2 {print $2}')"
"$LOAD" "127.0.0.1:$PORT" --jobs "$JOBS" --clients "$CLIENTS" --readers "$READERS"
queued=$(curl -s "http://127.0.0.1:$PORT/v1/jobs?state=PENDING&limit=1000" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["jobs"]))')
echo "pending (first page, max 1000): $queued; load after: $(cut -d' ' -f1-3 /proc/loadavg)"
grep -E 'VmRSS|VmHWM' /proc/$SRV/status | tr -s ' \t' ' '
SLUICE_SERVER=127.0.0.1:$PORT "$SLUICE" cancel "$blocker" > /dev/null
