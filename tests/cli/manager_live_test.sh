#!/usr/bin/env bash
# sluice server's live and observability side (docs/api.md "Live streams", "Resources, statistics,
# metrics"): `logs -f` over SSE (bytes exact, across retries, resumable with Last-Event-ID), /v1/events
# (history, resume, live, one job), `sluice wait` on events instead of polling, /v1/resources while a job
# holds resources, /v1/stats and /metrics against what the jobs did, `sluice health` / `sluice stats`,
# 100 open followers leaving the API responsive, and malformed stream requests answered 4xx.
source "$(dirname "$0")/lib.sh" "$@"
source "$SRC/tests/cli/manager_lib.sh"
SECONDS=0

SERVER_FLAGS=(--cpus 2 --memory 8GiB --resource lic=1)
start_server
FOLLOWERS=
trap 'if [ -n "$FOLLOWERS" ]; then kill $FOLLOWERS 2>/dev/null || true; fi; cleanup' EXIT
U="http://$SLUICE_SERVER"
# sse URL [curl args]: the stream's messages as JSON lines {event,id,data} until the server ends it (or -m);
# sse_parse: the same from a raw stream on stdin.
sse() { curl -sN "$@" | sse_parse; }
sse_parse() {
  python3 -c '
import json, sys
ev, ident, data = "", "", []
for line in sys.stdin:
    line = line.rstrip("\n")
    if line == "":
        if data: print(json.dumps({"event": ev, "id": ident, "data": "\n".join(data)}), flush=True)
        ev, data = "", []
    elif line.startswith(":"): continue
    else:
        k, _, v = line.partition(":"); v = v[1:] if v.startswith(" ") else v
        if k == "event": ev = v
        elif k == "id": ident = v
        elif k == "data": data.append(v)'
}

# --- sluice wait rides the event stream: one read of the job before and after, not a poll every 0.2 s. First,
# while no other stream is open: the one wait holds shows in sluice_open_streams at once, where a count of
# /v1/events requests would move only once the server noticed the stream closed (a heartbeat or two later,
# and other streams closed meanwhile would count too). The job runs until its gate file exists.
metric() { curl -s "$U/metrics" | python3 -c '
import re, sys
want = sys.argv[1]
print(sum(float(l.rsplit(" ", 1)[1]) for l in sys.stdin if l.startswith(want)))' "$1"; }
wj=$("$SLUICE" submit --cwd "$T" -- sh -c 'i=0; until [ -e gate_wj ] || [ $i -ge 1200 ]; do sleep 0.05; i=$((i+1)); done; exit 3')
wait_state "$wj" RUNNING
before_get=$(metric 'sluice_http_requests_total{method="GET",route="/v1/jobs/{id}",code="200"}')
"$SLUICE" wait "$wj" 2>/dev/null &
WAITER=$!
for _ in $(seq 600); do [ "$(metric 'sluice_open_streams')" = 1.0 ] && break; sleep 0.05; done
streams=$(metric 'sluice_open_streams')
sleep 2   # a wait that polled every 0.2 s would read the job about ten times meanwhile
touch "$T/gate_wj"
rc=0; wait $WAITER || rc=$?
after_get=$(metric 'sluice_http_requests_total{method="GET",route="/v1/jobs/{id}",code="200"}')
check "wait still mirrors the exit code (3)" test "$rc" = 3
check "wait read the job at most twice during a 2 s run (no polling)" python3 -c "import sys; sys.exit(0 if $after_get - $before_get <= 2 else 1)"
check "wait subscribed to /v1/events: one stream open while it waited (got $streams)" test "$streams" = 1.0

# --- logs -f: output arrives while the job runs, and the stream ends with the job
f1=$("$SLUICE" submit --cwd "$T" -- sh -c 'echo first; while [ ! -e gate1 ]; do sleep 0.05; done; echo second')
"$SLUICE" logs -f "$f1" > "$T/f1.out" 2> "$T/f1.err" &
FOLLOWERS="$!"
saw=0; for _ in $(seq 600); do grep -q first "$T/f1.out" 2>/dev/null && { saw=1; break; }; sleep 0.05; done
check "logs -f prints output while the job runs" test "$saw/$(state "$f1")" = 1/RUNNING
touch "$T/gate1"
wait "$FOLLOWERS"; rc=$?; FOLLOWERS=
check "logs -f ends when the job ends (exit 0)" test "$rc" = 0
check "logs -f printed the whole log" test "$(cat "$T/f1.out")" = "$(printf 'first\nsecond')"

# --- a log truncated while followed (logrotate's copytruncate): the stream says so and goes on from byte 0
tr1=$("$SLUICE" submit --cwd "$T" -- sh -c 'echo a-long-first-line-before-the-truncation; while [ ! -e gate_t1 ]; do sleep 0.05; done; echo after; while [ ! -e gate_t2 ]; do sleep 0.05; done')
"$SLUICE" logs -f "$tr1" > "$T/tr1.out" 2> "$T/tr1.err" &
FOLLOWERS="$!"
for _ in $(seq 600); do grep -q before "$T/tr1.out" 2>/dev/null && break; sleep 0.05; done
truncate -s 0 "$DATA/jobs/$tr1/attempt-1.stdout"
for _ in $(seq 600); do grep -q truncated "$T/tr1.err" 2>/dev/null && break; sleep 0.05; done
touch "$T/gate_t1"
for _ in $(seq 600); do grep -q after "$T/tr1.out" 2>/dev/null && break; sleep 0.05; done
touch "$T/gate_t2"
wait "$FOLLOWERS"; FOLLOWERS=
check "a truncated log: logs -f says so" grep -q "was truncated at byte 40" "$T/tr1.err"
check "a truncated log: the bytes written after it are followed" test "$(cat "$T/tr1.out")" = "$(printf 'a-long-first-line-before-the-truncation\nafter')"

# --- bytes exact: carriage returns, NUL, invalid UTF-8, no final newline; and a log larger than one message
bin=$("$SLUICE" submit -- sh -c 'printf "progress 1\r progress 2\r\000\377\376 done"; head -c 300000 /dev/zero | tr "\0" "x"')
"$SLUICE" wait "$bin" 2>/dev/null
"$SLUICE" logs "$bin" > "$T/bin.range"
"$SLUICE" logs -f "$bin" > "$T/bin.follow"
check "logs -f is byte-identical to the range read (CR, NUL, bad UTF-8, 300 KB)" cmp -s "$T/bin.range" "$T/bin.follow"
check "the log is the 300 KB written" test "$(stat -c %s "$T/bin.follow")" -gt 300000

# --- follow across retries: attempt 1 fails, attempt 2 succeeds; one `logs -f` prints both and ends with the job
rj=$("$SLUICE" submit --retries 2 --backoff 0.3s --cwd "$T" -- sh -c 'n=$(cat rcount 2>/dev/null || echo 0); n=$((n+1)); echo $n > rcount; echo "attempt-out $n"; [ $n -ge 2 ]')
"$SLUICE" logs -f "$rj" > "$T/rj.out" 2> "$T/rj.err"
check "logs -f follows into the retry" test "$(cat "$T/rj.out")" = "$(printf 'attempt-out 1\nattempt-out 2')"
check "and says it moved on" grep -q "waiting for attempt 2" "$T/rj.err"
check "--attempt 1 -f stops at that attempt" test "$("$SLUICE" logs -f --attempt 1 "$rj")" = "attempt-out 1"
check "-f --tail 1 starts at the last line" test "$("$SLUICE" logs -f --tail 1 "$f1")" = second

# --- the SSE wire: attempt, log (base64, id ATTEMPT:OFFSET), end; resume with Last-Event-ID or offset=
sse "$U/v1/jobs/$f1/logs?follow=1" > "$T/wire.json"
check "log stream: attempt, log, end" test "$(python3 -c 'import json,sys; print(",".join(json.loads(l)["event"] for l in open(sys.argv[1])))' "$T/wire.json")" = attempt,log,end
check "log ids are ATTEMPT:OFFSET of the next byte" test "$(sed -n 2p "$T/wire.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')" = 1:13
sse -H 'Last-Event-ID: 1:6' "$U/v1/jobs/$f1/logs?follow=1" > "$T/resume.json"
check "Last-Event-ID resumes at that byte" test "$(python3 -c '
import base64, json, sys
print("".join(base64.b64decode(json.loads(l)["data"]).decode() for l in open(sys.argv[1]) if json.loads(l)["event"] == "log"), end="")' "$T/resume.json")" = second
sse "$U/v1/jobs/$f1/logs?follow=1&offset=13" > "$T/atend.json"
check "offset at the end of an ended attempt: just the end" test "$(python3 -c 'import json,sys; print(",".join(json.loads(l)["event"] for l in open(sys.argv[1])))' "$T/atend.json")" = attempt,end
pend=$("$SLUICE" submit --after ok:"$rj" --after notok:"$rj" -- true)   # can never run: cancelled
check "a job that never ran: the stream ends at once" bash -c "curl -sN -m 20 '$U/v1/jobs/$pend/logs?follow=1' | grep -q '^event: end'"

# --- /v1/events: a job's history, resume, and live transitions
sse -m 5 "$U/v1/events?job=$f1&since=0" > "$T/ev.json" || true
check "events of one job: SUBMITTED PENDING RUNNING COMPLETED" test "$(python3 -c '
import json, sys
print(" ".join(json.loads(json.loads(l)["data"])["state"] for l in open(sys.argv[1]) if json.loads(l)["event"] == ""))' "$T/ev.json")" = "SUBMITTED PENDING RUNNING COMPLETED"
check "event ids are increasing sequence numbers" python3 -c '
import json, sys
ids = [int(json.loads(l)["id"]) for l in open(sys.argv[1]) if json.loads(l)["event"] == ""]
sys.exit(0 if ids == sorted(set(ids)) and len(ids) == 4 else 1)' "$T/ev.json"
third=$(python3 -c 'import json,sys; print([json.loads(l)["id"] for l in open(sys.argv[1]) if json.loads(l)["event"] == ""][2])' "$T/ev.json")
sse -m 5 -H "Last-Event-ID: $third" "$U/v1/events?job=$f1" > "$T/ev2.json" || true
check "Last-Event-ID resumes after that event" test "$(python3 -c '
import json, sys
print(" ".join(json.loads(json.loads(l)["data"])["state"] for l in open(sys.argv[1]) if json.loads(l)["event"] == ""))' "$T/ev2.json")" = COMPLETED
# curl itself in the background (not a pipeline in a subshell, whose kill would leave curl connected)
curl -sN -m 60 "$U/v1/events" > "$T/live.raw" &
LIVE=$!
for _ in $(seq 600); do grep -q hello "$T/live.raw" 2>/dev/null && break; sleep 0.05; done
lj=$("$SLUICE" submit -- true)
for _ in $(seq 600); do grep -q '"COMPLETED"' "$T/live.raw" 2>/dev/null && break; sleep 0.05; done
kill $LIVE 2>/dev/null || true; wait $LIVE 2>/dev/null || true
sse_parse < "$T/live.raw" > "$T/live.json"
check "a subscriber without since= sees new jobs' transitions live" python3 -c '
import json, sys
st = [json.loads(json.loads(l)["data"]) for l in open(sys.argv[1]) if json.loads(l)["event"] == ""]
sys.exit(0 if [e["state"] for e in st if e["job"] == int(sys.argv[2])][-1] == "COMPLETED" and all(e["job"] >= int(sys.argv[2]) for e in st) else 1)' "$T/live.json" "$lj"

rc=0; "$SLUICE" wait --timeout 0.5 "$("$SLUICE" submit -- sleep 30)" 2>/dev/null || rc=$?
check "wait --timeout still expires (8)" test "$rc" = 8

# --- resources: a running job's declaration is allocated, then freed
hold=$("$SLUICE" submit --cpus 1 --mem 1GiB --resource lic=1 --cwd "$T" -- sh -c 'while [ ! -e gate2 ]; do sleep 0.05; done')
wait_state "$hold" RUNNING
curl -s "$U/v1/resources" > "$T/res.json"
check "resources: capacity, allocated, free" python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
ok = r["cpus"]["capacity"] == 2 and r["cpus"]["allocated"] >= 1 and r["custom"]["lic"] == {"capacity": 1, "allocated": 1, "free": 0} \
     and r["memory"]["capacity"] == 8 << 30 and r["memory"]["allocated"] >= 1 << 30 and r["running_jobs"] >= 1
sys.exit(0 if ok else 1)' "$T/res.json"
check "sluice health: ready, exit 0" bash -c "'$SLUICE' health | grep -q 'serving, ready'"
check "sluice health shows the allocation" bash -c "'$SLUICE' health | grep -q 'lic: 1 of 1 allocated'"
rc=0; SLUICE_SERVER=127.0.0.1:1 "$SLUICE" health 2> "$T/unreachable.err" || rc=$?
check "no server there: exit 3, saying why" \
  bash -c "test $rc = 3 && grep -q 'cannot reach sluice server at http://127.0.0.1:1: Connection refused' '$T/unreachable.err'"
rc=0; SLUICE_SERVER=127.0.0.1:1 "$SLUICE" list > "$T/unreachable.out" 2> /dev/null || rc=$?
check "list with no server there: exit 3 and nothing on stdout (no table header)" test "$rc" = 3 -a ! -s "$T/unreachable.out"

# --- 100 followers open at once: the API still answers (a fixed pool of worker threads would hang here)
python3 - "$SLUICE_SERVER" "$hold" > "$T/followers.out" 2>&1 <<'PY' &
import socket, sys, time
host, port = sys.argv[1].split(":")
socks = []
for i in range(100):
    s = socket.create_connection((host, int(port)), timeout=30)
    s.sendall(f"GET /v1/jobs/{sys.argv[2]}/logs?follow=1 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    socks.append(s)
for s in socks:
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(4096)
    assert head.startswith(b"HTTP/1.1 200"), head[:100]
print("100 open", flush=True)
time.sleep(60)
PY
FOLLOWERS=$!
for _ in $(seq 600); do grep -q "100 open" "$T/followers.out" 2>/dev/null && break; sleep 0.05; done
check "100 followers connected" grep -q "100 open" "$T/followers.out"
check "metrics count them as open streams" python3 -c "import sys; sys.exit(0 if $(metric 'sluice_open_streams') >= 100 else 1)"
check "healthz answers with 100 followers open" test "$(code -m 10 "$U/healthz")" = 200
check "a job list answers with 100 followers open" test "$(code -m 10 "$U/v1/jobs")" = 200
check "a submit answers with 100 followers open" test -n "$("$SLUICE" submit -- true)"
touch "$T/gate2"
wait_state "$hold" COMPLETED
for _ in $(seq 600); do [ "$(metric 'sluice_open_streams')" = 0.0 ] && break; sleep 0.05; done
check "the followers' streams ended with the job" test "$(metric 'sluice_open_streams')" = 0.0
kill $FOLLOWERS 2>/dev/null || true; wait $FOLLOWERS 2>/dev/null || true; FOLLOWERS=

# --- stats and metrics agree with what ran
for j in $(curl -s "$U/v1/jobs?limit=1000" | python3 -c 'import json,sys; print(" ".join(str(j["id"]) for j in json.load(sys.stdin)["jobs"] if j["state"] in ("PENDING", "RUNNING")))'); do
  "$SLUICE" cancel "$j" > /dev/null 2>&1 || true; "$SLUICE" wait "$j" 2>/dev/null || true
done
curl -s "$U/v1/stats" > "$T/stats.json"
curl -s "$U/v1/jobs?limit=1000" > "$T/jobs.json"
check "stats: counts by state equal the job list" python3 -c '
import collections, json, sys
s = json.load(open(sys.argv[1])); jobs = json.load(open(sys.argv[2]))["jobs"]
c = collections.Counter(j["state"] for j in jobs)
sys.exit(0 if all(s["jobs"][k] == c.get(k, 0) for k in s["jobs"]) and s["submitted"]["total"] == len(jobs) else 1)' "$T/stats.json" "$T/jobs.json"
check "stats: one queue wait per started job, one run time per ended attempt" python3 -c '
import json, sys, urllib.request
s = json.load(open(sys.argv[1])); jobs = json.load(open(sys.argv[2]))["jobs"]
started = sum(1 for j in jobs if j["attempts"] > 0)
ended = sum(a.get("ended_at", 0) > 0 for j in jobs for a in json.load(urllib.request.urlopen(sys.argv[3] + "/v1/jobs/%d" % j["id"]))["attempts_detail"])
q, r = s["queue_wait_s"], s["run_time_s"]
ok = q["count"] == started and r["count"] == ended and q["p50"] <= q["p90"] <= q["p99"] <= q["max"] and r["p50"] <= r["p90"] <= r["p99"] <= r["max"]
sys.exit(0 if ok else 1)' "$T/stats.json" "$T/jobs.json" "$U"
check "stats: the 2 s job counts in the run-time max" python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["run_time_s"]["max"] >= 2 else 1)' "$T/stats.json"
check "stats: submissions in the last minutes" python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))["submitted"]
sys.exit(0 if 1 <= s["last_60s"] <= s["last_300s"] <= s["last_900s"] == s["total"] else 1)' "$T/stats.json"
check "stats: no GPUs declared, zero GPU-hours" python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["gpu_hours"] == 0 else 1)' "$T/stats.json"
check "sluice stats prints percentiles" bash -c "'$SLUICE' stats | grep -q '^queue wait: .* p99'"
check "sluice stats --window 1: recent durations only" bash -c "'$SLUICE' stats --window 1 --json | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)[\"window_s\"] == 1 else 1)'"
curl -s "$U/metrics" > "$T/metrics.txt"
check "metrics: every line is Prometheus text" python3 -c '
import re, sys
pat = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*=\"[^\"]*\",?)*\})? -?[0-9.e+-]+$|^# (HELP|TYPE) ")
bad = [l for l in open(sys.argv[1]).read().splitlines() if not pat.match(l)]
sys.exit(0 if not bad else print(bad[:5]) or 1)' "$T/metrics.txt"
check "metrics: job counts equal the stats" python3 -c '
import json, sys
m = dict(l.rsplit(" ", 1) for l in open(sys.argv[1]) if l.startswith("sluice_jobs{"))
s = json.load(open(sys.argv[2]))["jobs"]
sys.exit(0 if all(float(m["sluice_jobs{state=\"%s\"}" % k]) == v for k, v in s.items()) else 1)' "$T/metrics.txt" "$T/stats.json"
check "metrics: attempts, submissions, queue depth, running" bash -c "grep -q '^sluice_attempts_total [1-9]' '$T/metrics.txt' && grep -q '^sluice_jobs_submitted_total [1-9]' '$T/metrics.txt' && grep -q '^sluice_queue_depth 0' '$T/metrics.txt' && grep -q '^sluice_jobs_running 0' '$T/metrics.txt'"
check "metrics: the latency histogram is cumulative and ends at its count" python3 -c '
import re, sys
lines = open(sys.argv[1]).read().splitlines()
b = [float(l.rsplit(" ", 1)[1]) for l in lines if l.startswith("sluice_http_request_duration_seconds_bucket{route=\"/healthz\"")]
c = [float(l.rsplit(" ", 1)[1]) for l in lines if l.startswith("sluice_http_request_duration_seconds_count{route=\"/healthz\"")]
sys.exit(0 if b and b == sorted(b) and b[-1] == c[0] and c[0] >= 1 else 1)' "$T/metrics.txt"

# --- malformed stream requests: 4xx, and the daemon stays up
check "follow=yes 400" test "$(code "$U/v1/jobs/$f1/logs?follow=yes")" = 400
check "follow with length 400" test "$(code "$U/v1/jobs/$f1/logs?follow=1&length=5")" = 400
check "follow offset past an ended log 416" test "$(code "$U/v1/jobs/$f1/logs?follow=1&offset=999999")" = 416
check "follow bad offset 400" test "$(code "$U/v1/jobs/$f1/logs?follow=1&offset=-3")" = 400
check "follow malformed Last-Event-ID 400" test "$(code -H 'Last-Event-ID: 12' "$U/v1/jobs/$f1/logs?follow=1")" = 400
check "follow Last-Event-ID with garbage 400" test "$(code -H 'Last-Event-ID: 1:2x' "$U/v1/jobs/$f1/logs?follow=1")" = 400
check "follow an attempt that cannot come 404" test "$(code "$U/v1/jobs/$f1/logs?follow=1&attempt=5")" = 404
check "follow an unknown job 404" test "$(code "$U/v1/jobs/99999/logs?follow=1")" = 404
check "follow with a path trick 4xx" bash -c "c=\$(curl -s -o /dev/null -w '%{http_code}' --path-as-is '$U/v1/jobs/../../state.db/logs?follow=1'); [ \${c:0:1} = 4 ]"
check "follow with an encoded slash 4xx" bash -c "c=\$(curl -s -o /dev/null -w '%{http_code}' '$U/v1/jobs/1%2F..%2F..%2Fstate.db/logs?follow=1'); [ \${c:0:1} = 4 ]"
check "follow with an absolute path as stream 400" test "$(code "$U/v1/jobs/$f1/logs?follow=1&stream=/etc/passwd")" = 400
check "events since=abc 400" test "$(code "$U/v1/events?since=abc")" = 400
check "events Last-Event-ID: x 400" test "$(code -H 'Last-Event-ID: x' "$U/v1/events")" = 400
check "events of an unknown job 404" test "$(code "$U/v1/events?job=99999")" = 404
check "stats window=-1 400" test "$(code "$U/v1/stats?window=-1")" = 400
check "POST /v1/events 404" test "$(code -X POST -d '' "$U/v1/events")" = 404
check "unknown endpoint 404" test "$(code "$U/v1/nothing")" = 404
check "daemon still up" test "$(code "$U/healthz")" = 200
check "no daemon errors" bash -c "! grep -qi 'supervisor:' '$T/srv.err'"
echo "took ${SECONDS} s"
finish
