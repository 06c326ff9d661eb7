#!/usr/bin/env bash
# sluice server's HTTP layer against hostile and unlucky clients (docs/api.md "HTTP"): a POST without a
# body or Content-Length, Content-Length lies (negative, non-numeric, overflowing, given twice, over the
# limit) answered at once with a precise 4xx, curl -d's form content type, chunked and pipelined requests,
# a request sent before a half-close, 700 slow-loris connections (one byte a second) while the API keeps
# answering on a handful of threads, a burst of 300 connections at once, thousands of requests without a
# thread or descriptor left behind, NUL bytes echoed safely, and submit bodies whose strings a job would get
# cut (NUL), a relative cwd, or a field given twice.
source "$(dirname "$0")/lib.sh" "$@"
source "$SRC/tests/cli/manager_lib.sh"
SECONDS=0

SERVER_FLAGS=(--cpus 2 --memory 4GiB)
start_server
U="http://$SLUICE_SERVER"
threads() { ls "/proc/$SRV_PID/task" | wc -l; }
fds() { ls "/proc/$SRV_PID/fd" | wc -l; }
# raw BYTES [timeout]: sends BYTES (a Python bytes literal) on one connection and prints what comes back
# until the server closes it or the timeout (then "<timeout>"). "At once" below means within 10 s (a loaded
# machine is slow), against the 30 s the server used to hang.
raw() {
  python3 - "$PORT" "$1" "${2:-10}" <<'PY'
import ast, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=float(sys.argv[3]))
s.sendall(ast.literal_eval(sys.argv[2]))
out = b""
try:
    while True:
        b = s.recv(65536)
        if not b: break
        out += b
except socket.timeout:
    out += b"<timeout>"
sys.stdout.write(out.decode("latin-1"))
PY
}
# A job that runs until the test's directory is gone (at most 300 s): it must outlast the checks on it.
j=$("$SLUICE" submit -- sh -c 'i=0; while [ -d "$1" ] && [ $i -lt 6000 ]; do sleep 0.05; i=$((i+1)); done' sh "$T")

# --- a POST with neither Content-Length nor Transfer-Encoding has an empty body (curl -X POST sends none);
# it was read until the client closed: 30 s, then 400
out=$(curl -s -m 10 -X POST "$U/v1/jobs/$j/hold" || true)
check "POST without Content-Length is answered at once" grep -q "only a PENDING job can be held\|held" <<<"$out"
check "POST /v1/jobs without a body: 400 naming the empty body" test "$(curl -s -m 10 -o /dev/null -w '%{http_code}' -X POST "$U/v1/jobs" || true)" = 400

# --- Content-Length lies: answered at once with the reason, the connection closed (it was a 30 s hang,
# then a 413 for a negative length)
for cl in -5 abc 99999999999999999999999 " 12x"; do
  out=$(raw "b'POST /v1/jobs HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: $cl\\r\\n\\r\\n{}'")
  check "Content-Length '$cl': 400 at once" grep -q "^HTTP/1.1 400.*" <<<"$out"
  check "Content-Length '$cl': the message names it" grep -q "is not a byte count" <<<"$out"
  check "Content-Length '$cl': closed, not kept waiting" bash -c "! grep -q '<timeout>' <<<'$out'"
done
out=$(raw "b'POST /v1/jobs HTTP/1.1\\r\\nContent-Length: 2\\r\\nContent-Length: 40\\r\\n\\r\\n{}'")
check "two different Content-Lengths: 400" grep -q "given twice with different values" <<<"$out"
out=$(raw "b'POST /v1/jobs HTTP/1.1\\r\\nContent-Length: 5000000\\r\\n\\r\\n'")
check "Content-Length over 1 MiB: 413 before any of the body" grep -q "^HTTP/1.1 413.*" <<<"$out"
check "413 says the size and the limit" grep -q "5000000 bytes, the limit is 1048576 bytes" <<<"$out"
out=$(raw "b'POST /v1/jobs HTTP/1.1\\r\\nContent-Length: 2\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n{}'")
check "Content-Length with Transfer-Encoding: 400" grep -q "both Content-Length and Transfer-Encoding" <<<"$out"
out=$(raw "b'POST /v1/jobs HTTP/1.1\\r\\nTransfer-Encoding: gzip\\r\\n\\r\\n'")
check "Transfer-Encoding gzip: 501" grep -q "^HTTP/1.1 501" <<<"$out"
check "501 says only chunked is supported" grep -q "only chunked" <<<"$out"

# --- bodies: curl -d sends application/x-www-form-urlencoded, which httplib capped at 8 KiB (413 "limit
# 1 MiB"); chunked; pipelined; sent before a half-close
python3 -c "import json; print(json.dumps({'command': ['echo'] + ['y' * 100] * 100}))" > big.json
out=$(curl -s -m 10 -d @big.json "$U/v1/jobs" || true)
check "a 10 KB body with curl -d's form content type is taken as JSON (201)" grep -q '"state":"PENDING"' <<<"$out"
out=$(raw "b'POST /v1/jobs HTTP/1.1\\r\\nTransfer-Encoding: chunked\\r\\nConnection: close\\r\\n\\r\\n6\\r\\n{\"comm\\r\\n10\\r\\nand\":[\"true\"]}\\n\\r\\n0\\r\\n\\r\\n'")
check "a chunked body is submitted (201)" grep -q '^HTTP/1.1 201' <<<"$out"
out=$(raw "b'GET /healthz HTTP/1.1\\r\\n\\r\\nGET /v1/jobs/$j HTTP/1.1\\r\\nConnection: close\\r\\n\\r\\n'")
check "two pipelined requests get two answers" test "$(grep -c '^HTTP/1.1 200' <<<"$out")" = 2
out=$(python3 - "$PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"GET /healthz HTTP/1.1\r\n\r\n"); s.shutdown(socket.SHUT_WR)
print(s.recv(4096).decode())
PY
) || true
check "a request sent before a half-close is answered" grep -q '^HTTP/1.1 200' <<<"$out"

# --- NUL bytes in what is echoed: the message was cut at the NUL
out=$(curl -s "$U/v1/jobs/1%00x")
check "a NUL in a job reference is shown escaped, the message whole" grep -qF "'1\\\\x00x' is not a job id" <<<"$out"

# --- submit strings that would reach the job cut or misread
sub() { curl -s -m 10 -H 'Content-Type: application/json' -d "$1" "$U/v1/jobs" || true; }
check "env value with NUL: 400" grep -q 'env.A: must not contain NUL bytes' <<<"$(sub '{"command":["true"],"env":{"A":"x\u0000y"}}')"
check "cwd with NUL: 400" grep -q 'cwd: must not contain NUL bytes' <<<"$(sub '{"command":["true"],"cwd":"/tmp\u0000x"}')"
check "relative cwd: 400" grep -q "cwd: must be an absolute path" <<<"$(sub '{"command":["true"],"cwd":"rel"}')"
check "a field given twice: 400" grep -q 'command: is given twice' <<<"$(sub '{"command":["true"],"command":["false"]}')"
check "a nested field given twice: 400" grep -q 'resources.cpus: is given twice' <<<"$(sub '{"command":["true"],"resources":{"cpus":1,"cpus":2}}')"
check "shell=true with an empty command: 400" grep -q 'command: with shell=true must not be empty or only whitespace' <<<"$(sub '{"command":"","shell":true}')"
check "shell=true with a whitespace-only command: 400" grep -q 'must not be empty or only whitespace' <<<"$(sub '{"command":" \t\n","shell":true}')"

# --- unknown query parameters were ignored (?stauts=RUNNING listed every job): 400 naming the parameter and
# the ones the endpoint takes, on every endpoint, before anything is done
code() { curl -s -m 10 -o /dev/null -w '%{http_code}' "$@" || true; }
out=$(curl -s -m 10 "$U/v1/jobs?stauts=RUNNING" || true)
check "GET /v1/jobs?stauts=RUNNING: refused, naming it and what the endpoint takes" \
  grep -qF "unknown query parameter 'stauts': GET /v1/jobs takes state, name, array, after_id, limit" <<<"$out"
check "... with 400" test "$(code "$U/v1/jobs?stauts=RUNNING")" = 400
for path in /healthz /readyz /v1/jobs/$j /v1/jobs/$j/logs "/v1/jobs/$j/logs?follow=1&" /v1/events /v1/resources /v1/stats /metrics /; do
  sep='?'; case "$path" in *'&') sep='' ;; esac
  check "GET $path with an unknown parameter: 400" test "$(code "$U$path${sep}bogus=1")" = 400
done
check "GET /v1/jobs/ID/logs: the message lists its parameters" grep -qF "GET /v1/jobs/{id}/logs takes stream, attempt, offset, length, tail, follow" \
  <<<"$(curl -s -m 10 "$U/v1/jobs/$j/logs?lenght=4" || true)"
check "GET /healthz: the message says it takes none" grep -qF "unknown query parameter 'x': GET /healthz takes none" <<<"$(curl -s -m 10 "$U/healthz?x=1" || true)"
n_before=$(curl -s -m 10 "$U/v1/jobs?limit=1000" | python3 -c "import json,sys; print(len(json.load(sys.stdin)['jobs']))")
check "POST /v1/jobs with an unknown parameter: 400" test "$(code -d '{"command":["true"]}' "$U/v1/jobs?dry=1")" = 400
check "... and no job was submitted" test "$(curl -s -m 10 "$U/v1/jobs?limit=1000" | python3 -c "import json,sys; print(len(json.load(sys.stdin)['jobs']))")" = "$n_before"
for verb in cancel hold release retry; do
  check "POST /v1/jobs/ID/$verb with an unknown parameter: 400" test "$(code -X POST "$U/v1/jobs/$j/$verb?force=1")" = 400
done
check "... and the job was not cancelled" grep -q '"state":"\(RUNNING\|PENDING\)"' <<<"$(curl -s -m 10 "$U/v1/jobs/$j" || true)"
check "the parameters an endpoint takes still work" test "$(code "$U/v1/jobs?state=RUNNING&name=x&array=0&after_id=0&limit=5")$(code "$U/v1/stats?window=60")$(code "$U/v1/jobs/$j/logs?stream=stderr&attempt=0&tail=1")$(code "$U/v1/jobs/$j/logs?offset=0&length=1")" = 200200200200
check "a query token is taken where it is allowed (the dashboard)" test "$(code "$U/?token=whatever")" = 200
mkdir -p "$T/client/sub"  # the daemon runs in $T: a relative cwd must not mean $T/sub
r=$(cd "$T/client" && "$SLUICE" submit --cwd sub -- sh -c 'pwd' || true)
"$SLUICE" wait "$r" >/dev/null 2>&1 || true
check "sluice submit --cwd REL runs in the client's REL" test "$("$SLUICE" logs "$r" || true)" = "$T/client/sub"

# --- slow loris: 700 connections sending one byte a second held a worker thread each (512 at most): the
# API stopped answering. Now they wait in the intake; workers serve whole requests only.
base_fds=$(fds)
python3 - "$PORT" "$T/loris.ready" "$T/loris.stop" <<'PY' &
import os, socket, sys, time
socks = []
for i in range(700):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); s.send(b"G"); socks.append(s)
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[3]):
    for s in socks:
        try: s.send(b"E")
        except OSError: pass
    time.sleep(1)
PY
LORIS=$!
for _ in $(seq 600); do [ -e "$T/loris.ready" ] && break; sleep 0.05; done
check "700 slow clients connected" test -e "$T/loris.ready"
check "healthz answers during the slow-loris" test "$(curl -s -m 10 -o /dev/null -w '%{http_code}' "$U/healthz" || true)" = 200
check "a submit works during the slow-loris" grep -q PENDING <<<"$(curl -s -m 10 -d '{"command":["true"]}' "$U/v1/jobs" || true)"
n=$(threads)
check "the slow clients hold no threads ($n)" test "$n" -lt 40
touch "$T/loris.stop"; wait "$LORIS" 2>/dev/null || true

# --- a burst of 300 connections at once: httplib listened with a backlog of 5 and the kernel reset the rest
out=$(python3 - "$PORT" <<'PY'
import socket, sys
socks = [socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10) for _ in range(300)]
for s in socks: s.sendall(b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
ok = 0
for s in socks:
    try:
        if s.recv(4096).startswith(b"HTTP/1.1 200"): ok += 1
    except OSError: pass
print(ok)
PY
) || true
check "all 300 connections of a burst are answered ($out)" test "$out" = 300

# --- thousands of requests leave no thread or descriptor behind
python3 - "$PORT" "$j" <<'PY'
import http.client, sys
for i in range(2000):
    c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
    m = i % 4
    if m == 0: c.request("GET", "/v1/jobs?limit=5")
    elif m == 1: c.request("GET", "/v1/jobs/" + sys.argv[2])
    elif m == 2: c.request("POST", "/v1/jobs/999999/cancel")
    else: c.request("POST", "/v1/jobs", body=b"{bad")
    c.getresponse().read(); c.close()
PY
for _ in $(seq 300); do [ "$(fds)" -le "$((base_fds + 2))" ] && break; sleep 0.1; done
check "descriptors back to where they were ($(fds) vs $base_fds)" test "$(fds)" -le "$((base_fds + 2))"
# Workers are started as requests need them and end after 2 s idle.
for _ in $(seq 300); do [ "$(threads)" -lt 20 ] && break; sleep 0.1; done
n=$(threads)
check "threads back to a few after 2000 requests ($n)" test "$n" -lt 20
check "daemon still up" test "$(code "$U/healthz")" = 200
"$SLUICE" cancel "$j" >/dev/null || true
echo "took $SECONDS s"
finish
