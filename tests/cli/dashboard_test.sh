#!/usr/bin/env bash
# The dashboard (docs/api.md "Dashboard") in headless Chromium (Debian's chromium) against a real daemon on
# loopback with a token: one page load shows a running job's state and log, then the same page shows the
# job COMPLETED and the log line written after the load, and a job submitted later (dashboard_cdp.py drives
# Chromium over the DevTools pipe). Also: the page is self-contained, and only the page and the SSE streams
# accept ?token=. Exits 77 (skipped) when Chromium is absent or cannot start here, saying why.
# SLUICE_DASHBOARD_SCREENSHOT=FILE keeps the final screenshot there (docs/dashboard.png is made so).
source "$(dirname "$0")/lib.sh" "$@"
source "$SRC/tests/cli/manager_lib.sh"

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
  echo "SKIP: chromium is not installed (scripts/install-deps.sh installs Debian's chromium)"
  exit 77
fi
if ! probe=$(timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --dump-dom 'data:text/html,<p>probe-ok</p>' 2>&1) \
   || ! grep -q probe-ok <<< "$probe"; then
  echo "SKIP: chromium cannot run headless here: $(tail -3 <<< "$probe")"
  exit 77
fi

echo "dashboard-token-0123456789abcdef" > "$T/token"
TOKEN=$(cat "$T/token")
start_server --cpus 2 --token-file "$T/token"
U="http://$SLUICE_SERVER"

check "the page needs the token" test "$(code "$U/")" = 401
check "the page with ?token= is served as HTML" test "$(curl -s -o "$T/page.html" -w '%{http_code} %{content_type}' "$U/?token=$TOKEN")" = "200 text/html; charset=utf-8"
check "the page loads nothing from elsewhere" bash -c "! grep -Eq '(src|href)=\"|https?://|@import|url\\(' '$T/page.html'"
check "a wrong ?token= is refused" test "$(code "$U/?token=wrong-token-0123456789")" = 401
check "?token= is refused on JSON endpoints" test "$(code "$U/v1/jobs?token=$TOKEN")" = 401
# (the stream does not end: the status is read as soon as it comes, within 10 s on a loaded machine)
check "?token= is accepted on the events stream" python3 -c \
  'import sys, urllib.request; sys.exit(urllib.request.urlopen(sys.argv[1], timeout=10).status != 200)' "$U/v1/events?token=$TOKEN"
check "?token= is refused on a POST" test "$(code -X POST -d '{"command":["true"]}' "$U/v1/jobs?token=$TOKEN")" = 401

check "dashboard in headless Chromium" python3 "$SRC/tests/cli/dashboard_cdp.py" "$CHROMIUM" "$U" "$TOKEN" "$T" \
  "${SLUICE_DASHBOARD_SCREENSHOT:-$T/dashboard.png}"
check "screenshot written" test -s "${SLUICE_DASHBOARD_SCREENSHOT:-$T/dashboard.png}"
check "no daemon errors" bash -c "! grep -qi 'supervisor:' '$T/srv.err'"
finish
