#!/usr/bin/env bash
# sluice server's token authentication (docs/api.md "Authentication") against a real daemon on loopback with
# --token-file. Every endpoint the API table lists (GET, HEAD and POST; the SSE streams included) refuses
# with 401 and `WWW-Authenticate: Bearer` a request without the token, with a wrong one of the same length,
# a prefix of it, the token with a byte added, an empty bearer, another scheme, the bare token, or the right
# token as ?token= where a query token is not allowed (every POST, every non-stream GET, a log read without
# follow=1); a refused request changes nothing (no job submitted, cancelled, held, released or retried).
# ?token= works only on the dashboard page, /v1/events and a log follow, and only when it is right and no
# wrong Authorization header comes with it. The same endpoints answer normally with the right bearer token.
# The CLI works with the right token (--token-file or $SLUICE_TOKEN_FILE; the flag wins) and fails at once
# with exit 2 and the server's message without it or with a wrong one, streams (wait, logs -f) included. The
# daemon refuses to start on a token shorter than 16 characters (an empty or blank file included).
source "$(dirname "$0")/lib.sh" "$@"
source "$SRC/tests/cli/manager_lib.sh"
SECONDS=0

TOKEN=auth-token-0123456789abcdef
printf '%s\n' "$TOKEN" > "$T/token"
printf 'auth-token-0123456789abcdeX\n' > "$T/wrong"
start_server --cpus 2 --token-file "$T/token"
U="http://$SLUICE_SERVER"
AUTH="Authorization: Bearer $TOKEN"

# --- jobs to act on, made with the right token: a FAILED one (retry), a RUNNING one held at a gate file
# (cancel; it exits 1 by itself after 120 s so that an early end of the test leaves nothing looping), and a
# PENDING one held (release) behind it.
export SLUICE_TOKEN_FILE=$T/token
failed=$("$SLUICE" submit -- sh -c 'echo failing-out; exit 3')
rc=0; "$SLUICE" wait "$failed" --timeout 60 2>/dev/null || rc=$?
check "a job submitted with the token ran (FAILED, exit 3)" test "$rc" = 3
running=$("$SLUICE" submit -- sh -c "echo running-out; for i in \$(seq 1200); do [ -e '$T/gate' ] && exit 0; sleep 0.1; done; exit 1")
held=$("$SLUICE" submit --after ok:"$running" -- true)
"$SLUICE" hold "$held" > /dev/null
check "the gated job runs" wait_state "$running" RUNNING
unset SLUICE_TOKEN_FILE
jobs_now() { curl -s -H "$AUTH" "$U/v1/jobs" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["jobs"]))'; }
check "three jobs so far" test "$(jobs_now)" = 3

# ENDPOINTS: "METHOD PATH" for every route of docs/api.md's table.
ENDPOINTS=(
  "GET /healthz" "GET /readyz" "POST /v1/jobs" "GET /v1/jobs" "GET /v1/jobs/$failed"
  "POST /v1/jobs/$running/cancel" "POST /v1/jobs/$held/hold" "POST /v1/jobs/$held/release" "POST /v1/jobs/$failed/retry"
  "GET /v1/jobs/$failed/logs?stream=stdout" "GET /v1/jobs/$failed/logs?tail=5" "GET /v1/jobs/$running/logs?follow=1"
  "GET /v1/events" "GET /v1/events?since=0&job=$running" "GET /v1/resources" "GET /v1/stats" "GET /metrics" "GET /"
  "HEAD /v1/jobs" "HEAD /"
)
BODY='{"command":["true"]}'
# status METHOD URL [curl args]: the HTTP status; a stream's as soon as its head arrives (a stream does not
# end: curl would wait), within 30 s on a loaded machine.
status() {
  local method=$1 url=$2; shift 2
  case $method in
    POST) curl -s -o /dev/null -w '%{http_code}' -m 30 -X POST -d "$BODY" "$@" "$url" ;;
    HEAD) curl -s -o /dev/null -w '%{http_code}' -m 30 -I "$@" "$url" ;;
    *) python3 - "$url" "$@" <<'PY'
import sys, urllib.request, urllib.error
req = urllib.request.Request(sys.argv[1])
args = sys.argv[2:]
for i in range(0, len(args), 2):  # curl-style "-H 'Name: value'" pairs
    name, _, value = args[i + 1].partition(":")
    req.add_header(name.strip(), value.strip())
try:
    with urllib.request.urlopen(req, timeout=30) as r: print(r.status, end="")
except urllib.error.HTTPError as e: print(e.code, end="")
PY
  esac
}
# with_query URL: URL with ?token=... (or &token=...) of the value given as $2.
with_query() { case $1 in *\?*) echo "$1&token=$2" ;; *) echo "$1?token=$2" ;; esac; }

# --- every endpoint refuses every wrong credential
for ep in "${ENDPOINTS[@]}"; do
  method=${ep%% *}; path=${ep#* }; url=$U$path
  bad_ok=1
  for h in "" "Authorization: Bearer auth-token-0123456789abcdeX" "Authorization: Bearer ${TOKEN%?}" \
           "Authorization: Bearer ${TOKEN}x" "Authorization: Bearer " "Authorization: Bearer" \
           "Authorization: Basic $(printf '%s' "user:$TOKEN" | base64)" "Authorization: $TOKEN" \
           "Authorization: Bearer  $TOKEN" "X-Token: $TOKEN"; do
    if [ -z "$h" ]; then got=$(status "$method" "$url"); else got=$(status "$method" "$url" -H "$h"); fi
    if [ "$got" != 401 ]; then bad_ok=0; echo "  $method $path with '${h:-no header}': $got"; fi
  done
  check "$method $path: 401 without the token or with a wrong, prefix, longer, empty or other-scheme one" test $bad_ok = 1
done

# --- the right token as ?token= only where a browser needs it (docs/api.md), only GET
for ep in "${ENDPOINTS[@]}"; do
  method=${ep%% *}; path=${ep#* }
  case "$method $path" in "GET /" | "GET /v1/events"* | *"logs?follow=1") continue ;; esac
  check "$method $path: the right ?token= alone is refused (401)" test "$(status "$method" "$(with_query "$U$path" "$TOKEN")")" = 401
done
check "a log read without follow=1 refuses ?token=" test "$(status GET "$U/v1/jobs/$failed/logs?follow=0&token=$TOKEN")" = 401
for path in / /v1/events "/v1/jobs/$running/logs?follow=1"; do
  check "GET $path: the right ?token= is taken" test "$(status GET "$(with_query "$U$path" "$TOKEN")")" = 200
  check "GET $path: a wrong ?token= is refused" test "$(status GET "$(with_query "$U$path" auth-token-0123456789abcdeX)")" = 401
  check "GET $path: a prefix ?token= is refused" test "$(status GET "$(with_query "$U$path" "${TOKEN%?}")")" = 401
  check "GET $path: an empty ?token= is refused" test "$(status GET "$(with_query "$U$path" "")")" = 401
  check "GET $path: a wrong bearer header is not overruled by a right ?token=" \
    test "$(status GET "$(with_query "$U$path" "$TOKEN")" -H "Authorization: Bearer auth-token-0123456789abcdeX")" = 401
  check "HEAD $path: ?token= is for GET only" test "$(status HEAD "$(with_query "$U$path" "$TOKEN")")" = 401
done
check "a POST with the right ?token= is refused" test "$(status POST "$U/v1/jobs/$running/cancel?token=$TOKEN")" = 401
check "a 401 says how to authenticate" bash -c "curl -s -D - '$U/v1/jobs' | grep -qi '^WWW-Authenticate: Bearer'"
check "its message is the server's" bash -c "curl -s '$U/v1/jobs' | grep -q 'missing or wrong bearer token'"

# --- nothing a refused request asked for happened
check "no job was submitted by a refused POST" test "$(jobs_now)" = 3
check "the running job was not cancelled" test "$(SLUICE_TOKEN_FILE=$T/token state "$running")" = RUNNING
check "the held job is still held" test "$(SLUICE_TOKEN_FILE=$T/token field "$held" '["held"]')" = True
check "the failed job was not retried" test "$(SLUICE_TOKEN_FILE=$T/token state "$failed")" = FAILED

# --- the right bearer token: every endpoint answers as without a token server
# (the held job is held already: 409, as without a token; the FAILED one is retried and fails again)
declare -A WANT=(["POST /v1/jobs"]=201 ["POST /v1/jobs/$held/hold"]=409)
for ep in "${ENDPOINTS[@]}"; do
  method=${ep%% *}; path=${ep#* }
  case $path in */cancel) continue ;; esac  # last: it ends the running job
  check "$method $path with the bearer token: ${WANT[$ep]:-200}" test "$(status "$method" "$U$path" -H "$AUTH")" = "${WANT[$ep]:-200}"
done
check "the bearer submit added one job" test "$(jobs_now)" = 4
check "the bearer release released the held job" test "$(SLUICE_TOKEN_FILE=$T/token field "$held" '.get("held", False)')" = False
rc=0; SLUICE_TOKEN_FILE=$T/token "$SLUICE" wait "$failed" --timeout 60 2>/dev/null || rc=$?
check "the bearer retry ran the failed job again (exit 3, attempt 2)" \
  test "$rc $(SLUICE_TOKEN_FILE=$T/token field "$failed" '["attempts"]')" = "3 2"

# --- the CLI: right token (flag or environment, the flag winning), no token, wrong token
cli() { "$SLUICE" "$@" > "$T/cli.out" 2> "$T/cli.err"; }
export SLUICE_TOKEN_FILE=$T/token
check "CLI status with \$SLUICE_TOKEN_FILE" cli status "$failed"
check "CLI list" cli list
check "CLI logs" bash -c "'$SLUICE' logs '$failed' --attempt 1 | grep -q failing-out"
check "CLI logs -f of an ended attempt" bash -c "timeout 60 '$SLUICE' logs '$failed' --attempt 1 -f | grep -q failing-out"
check "CLI stats" cli stats
check "CLI health" cli health
check "CLI hold" cli hold "$held"
check "CLI release" cli release "$held"
SLUICE_TOKEN_FILE=$T/wrong
check "--token-file wins over \$SLUICE_TOKEN_FILE" cli status "$failed" --token-file "$T/token"
for verb in "list" "status $failed" "logs $failed" "stats" "health" "cancel $running" "retry $failed" "release $held" \
            "wait $running --timeout 60" "logs $running -f" "submit -- true"; do
  for who in wrong none; do
    if [ $who = none ]; then unset SLUICE_TOKEN_FILE; else export SLUICE_TOKEN_FILE=$T/wrong; fi
    rc=0; timeout 60 "$SLUICE" $verb > /dev/null 2> "$T/cli.err" || rc=$?
    check "CLI $verb with $who token: exit 2 with the server's 401" \
      bash -c "test $rc = 2 && grep -q 'missing or wrong bearer token (HTTP 401)' '$T/cli.err'"
  done
done
export SLUICE_TOKEN_FILE=$T/token
check "no refused CLI request changed anything" \
  bash -c "test '$(jobs_now)' = 4 && test '$(state "$running")' = RUNNING && test '$(state "$failed")' = FAILED"
check "CLI cancel with the token" cli cancel "$running"
rc=0; "$SLUICE" wait "$running" --timeout 60 2>/dev/null || rc=$?
check "CLI wait with the token: the cancelled job (exit 9)" test "$rc" = 9
unset SLUICE_TOKEN_FILE

# --- the daemon refuses tokens that a client could guess or send empty
# (15 characters: one short of the minimum; a trailing CR or blank does not count, as the client drops it)
for content in "" "   " "short-token-012" "$(printf 'short-token-012 \r')"; do
  printf '%s\n' "$content" > "$T/weak"
  rc=0; timeout 60 "$SLUICE" server --listen 127.0.0.1:0 --data-dir "$T/weak-data" --token-file "$T/weak" > /dev/null 2> "$T/weak.err" || rc=$?
  check "a token file with '${content//$'\r'/\\r}' is refused at start (exit 2)" \
    bash -c "test $rc = 2 && grep -q 'the token must be at least 16 characters' '$T/weak.err'"
done
rc=0; timeout 60 "$SLUICE" server --listen 127.0.0.1:0 --data-dir "$T/weak-data" --token-file "$T/missing" > /dev/null 2> "$T/weak.err" || rc=$?
check "a missing token file is refused at start (exit 2)" bash -c "test $rc = 2 && grep -q 'cannot read --token-file' '$T/weak.err'"

touch "$T/gate"
stop_server
check "no daemon errors" bash -c "! grep -qi 'supervisor:' '$T/srv.err'"
echo "took ${SECONDS} s"
finish
