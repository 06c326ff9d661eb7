# Helpers of the sluice server CLI tests (manager_test.sh, manager_sched_test.sh), sourced after lib.sh.
# start_server [flags]: a daemon on a free loopback port over $DATA, with the test's SERVER_FLAGS and the
# flags given; sets PORT, SRV_PID and SLUICE_SERVER once it listens (up to 30 s: a loaded machine is slow). A
# test may SIGKILL $SRV_PID and call start_server again (a restart over the same data).
DATA=$T/data
SRV_PID=
start_server() {
  # Emptied first: the background shell truncates it only when it runs, and until then the look below could
  # read a previous daemon's line (its port, or nothing once the truncation comes between two reads).
  : > "$T/srv.out"
  "$SLUICE" server --listen 127.0.0.1:0 --data-dir "$DATA" ${SERVER_FLAGS[@]+"${SERVER_FLAGS[@]}"} "$@" > "$T/srv.out" 2>> "$T/srv.err" &
  SRV_PID=$!
  for _ in $(seq 600); do grep -q listening "$T/srv.out" 2>/dev/null && break; kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.05; done
  PORT=$(grep -o '127.0.0.1:[0-9]*' "$T/srv.out" | head -1 | cut -d: -f2 || true)
  [ -n "$PORT" ] || bad "the daemon did not start: $(tail -n 3 "$T/srv.err" 2>/dev/null | tr '\n' ' ')"
  export SLUICE_SERVER=127.0.0.1:$PORT
}
stop_server() { if [ -n "$SRV_PID" ]; then kill "$SRV_PID" 2>/dev/null || true; wait "$SRV_PID" 2>/dev/null || true; fi; SRV_PID=; }
cleanup() { stop_server; rm -rf "$T"; }
trap cleanup EXIT
field() { "$SLUICE" status --json "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)$2)"; }
state() { field "$1" '["state"]'; }
wait_state() {  # wait_state ID STATE: up to 20 s
  for _ in $(seq 400); do [ "$(state "$1")" = "$2" ] && return 0; sleep 0.05; done
  return 1
}
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
