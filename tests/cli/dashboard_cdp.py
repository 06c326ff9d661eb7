#!/usr/bin/env python3
"""Drives the sluice server dashboard in headless Chromium (for dashboard_test.sh).

Chromium is controlled over the DevTools protocol on a pipe (--remote-debugging-pipe: it reads commands on
fd 3 and writes answers on fd 4, NUL-separated JSON), so nothing beyond the standard library is needed.
One page load is watched while a job runs and ends: its state and its log must change on the page without
a reload (the /v1/events and log-follow streams), and a job submitted after the load must appear.

usage: dashboard_cdp.py CHROMIUM SERVER_URL TOKEN WORKDIR SCREENSHOT.png
Prints "ok - ..." / "FAIL - ..." lines; exits 1 on the first failure.
"""
import json
import os
import subprocess
import sys
import time
import urllib.request

chromium, server, token, work, shot = sys.argv[1:6]
HEADERS = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
DEADLINE = 90  # seconds per wait; generous for a loaded 2-core machine


def api(path, body=None):
    req = urllib.request.Request(server + path, data=json.dumps(body).encode() if body is not None else None, headers=HEADERS)
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


class Browser:
    def __init__(self):
        cmd_r, self.cmd_w = os.pipe()
        self.out_r, out_w = os.pipe()
        self.err = open(os.path.join(work, "chromium.err"), "w")
        self.proc = subprocess.Popen(
            ["bash", "-c", f'exec "$0" "$@" 3<&{cmd_r} 4>&{out_w}', chromium, "--headless", "--no-sandbox", "--disable-gpu",
             "--remote-debugging-pipe", "--no-first-run", "--user-data-dir=" + os.path.join(work, "chromium-profile"),
             "--window-size=1400,1050", "about:blank"],
            pass_fds=(cmd_r, out_w), stdout=subprocess.DEVNULL, stderr=self.err)
        os.close(cmd_r)
        os.close(out_w)
        self.buf, self.next_id, self.session = b"", 0, None

    def call(self, method, params=None, session=True):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")
        while True:
            while b"\0" not in self.buf:
                data = os.read(self.out_r, 1 << 16)
                if not data:
                    raise RuntimeError("chromium closed the DevTools pipe (see chromium.err)")
                self.buf += data
            raw, self.buf = self.buf.split(b"\0", 1)
            m = json.loads(raw)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m["result"]

    def open(self, url):
        target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True}, session=False)["sessionId"]
        self.call("Page.enable")
        self.call("Page.navigate", {"url": url})

    def eval(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True})
        return r["result"].get("value")

    def wait(self, what, expr):
        end = time.time() + DEADLINE
        while time.time() < end:
            if self.eval(expr):
                print("ok - " + what)
                return
            time.sleep(0.2)
        print("FAIL - " + what)
        print("page text: " + str(self.eval("document.body.innerText"))[:3000])
        sys.exit(1)

    def screenshot(self, path):
        import base64
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.call("Browser.close", session=False)
            self.proc.wait(timeout=30)
        except Exception:
            self.proc.kill()


gate = os.path.join(work, "gate")
a = api("/v1/jobs", {"name": "dash-live", "command": ["sh", "-c",
        f"echo dash-line-1; echo dash-err >&2; while [ ! -e {gate} ]; do sleep 0.05; done; echo dash-line-2"]})["id"]
while api(f"/v1/jobs/{a}")["state"] != "RUNNING":
    time.sleep(0.05)

b = Browser()
try:
    b.open(f"{server}/?token={token}#job={a}")
    row = f"document.querySelector('#job-{a} .state')"
    b.wait("the running job's row shows RUNNING", f"{row} && {row}.textContent === 'RUNNING'")
    b.wait("its live log shows the first line", "document.getElementById('log').textContent.includes('dash-line-1')")
    b.wait("the detail shows RUNNING", "document.getElementById('detail-state').textContent === 'RUNNING'")
    b.wait("resources show the running job", "document.getElementById('res-running').textContent === '1'")
    # Everything below arrives over the page's streams: the page is not reloaded.
    open(gate, "w").close()
    b.wait("the same page shows COMPLETED without a reload", f"{row}.textContent === 'COMPLETED'")
    b.wait("the log shows the line written after the page loaded", "document.getElementById('log').textContent.includes('dash-line-2')")
    b.wait("the detail shows COMPLETED", "document.getElementById('detail-state').textContent === 'COMPLETED'")
    b.wait("the event timeline lists the transitions", "document.getElementById('timeline').innerText.includes('RUNNING') && "
           "document.getElementById('timeline').innerText.includes('COMPLETED')")
    c = api("/v1/jobs", {"name": "dash-later", "command": ["sh", "-c", "echo later"]})["id"]
    b.wait("a job submitted after the page loaded appears and completes",
           f"document.querySelector('#job-{c} .state') && document.querySelector('#job-{c} .state').textContent === 'COMPLETED'")
    b.wait("statistics count both completed jobs", "document.getElementById('stat-completed').textContent === '2' && "
           "document.getElementById('stat-running').textContent === '0'")
    b.wait("resources show nothing running", "document.getElementById('res-running').textContent === '0'")
    b.eval("document.querySelector('input[value=stderr]').click()")
    b.wait("the stderr view shows the job's stderr", "document.getElementById('log').textContent.includes('dash-err')")
    b.eval("document.querySelector('input[value=stdout]').click()")
    b.wait("back on stdout", "document.getElementById('log').textContent.includes('dash-line-2')")
    b.screenshot(shot)
    print("ok - screenshot " + shot)
finally:
    b.close()
