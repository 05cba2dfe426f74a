#!/usr/bin/env python3
"""Fault-injecting HTTP relay on loopback for retry tests: answers selected requests with
an error status (optionally with Retry-After) or drops their connection (before or in the
middle of the request body), and forwards the rest unchanged to an upstream (e.g. Azurite).
Also acts as a proxy demanding authentication (407). Prints its port on the first line of
stdout. Test use only.

  fault-proxy.py --upstream 127.0.0.1:PORT [--status 503] [--count N] [--retry-after S]
  fault-proxy.py --upstream 127.0.0.1:PORT --drop N [--drop-after BYTES]
  fault-proxy.py --status 407 --count -1          (use as http_proxy)

Which requests are faulted: the requests whose "METHOD PATH" matches --match REGEX (default:
all; the others always pass and are not counted) are numbered 1, 2, … in arrival order.
The first --skip N of them pass. Of the rest, every one (or, with --every K, only every K-th:
K, 2K, 3K, …) is a fault slot: the first --drop slots drop the connection, the next --count
slots get --status; later slots pass. --drop -1 / --count -1: every slot (drop wins).
--drop-after BYTES: a dropped request first has up to BYTES of its body read (a cut in the
middle of an upload); 0 (default) drops it right after its headers.
--delay S: wait S seconds (float) before forwarding each request that passes (widens the
window of in-flight uploads for kill tests). --strip-range: forward every request without
its range header (a service that ignores x-ms-range and answers 200 with the whole blob).

--owner PID exits when that process is gone. --log FILE appends one line per request:
"SEQ METHOD PATH CLIENT-PORT" (the port shows whether connections are reused), written when
the request arrives. With --log-detail the line is written when the request is finished and
has fields appended at the end:
"SEQ METHOD PATH CLIENT-PORT STATUS BODY-BYTES T-DONE T-START T-BODY"
  STATUS      status answered (the upstream's, even if the client was gone by then, or the
              fault's); 0 when no response was sent (connection dropped, client gone
              mid-body, upstream failure)
  BODY-BYTES  request body bytes received from the client (exact; for a cut request the
              bytes read before the cut)
  T-DONE      time.monotonic() (seconds, 6 decimals) when the response was sent (or the
              connection dropped)
  T-START     time.monotonic() when the request's headers had been read
  T-BODY      time.monotonic() when the last body byte read had arrived (T-START if none)
SEQ numbers every request in arrival order; detail lines are in completion order.
"""
import argparse
import http.client
import http.server
import os
import re
import socket
import socketserver
import sys
import threading
import time
import urllib.parse

HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade",
       "proxy-authenticate", "proxy-authorization", "trailer"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", default="")
    ap.add_argument("--status", type=int, default=503)
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--retry-after", type=int, default=-1)
    ap.add_argument("--drop", type=int, default=0)
    ap.add_argument("--drop-after", type=int, default=0)
    ap.add_argument("--skip", type=int, default=0)
    ap.add_argument("--every", type=int, default=0)
    ap.add_argument("--match", default="")
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--strip-range", action="store_true",
                    help="forward requests without their x-ms-range/Range header, as a "
                    "service that ignores ranges (answers 200 with the whole blob)")
    ap.add_argument("--log", default="")
    ap.add_argument("--log-detail", action="store_true")
    ap.add_argument("--owner", type=int, default=0, help="exit when this pid is gone")
    a = ap.parse_args()
    match = re.compile(a.match) if a.match else None

    if a.owner:
        def watch():
            while True:
                try:
                    os.kill(a.owner, 0)
                except OSError:
                    os._exit(0)
                time.sleep(1)
        threading.Thread(target=watch, daemon=True).start()

    lock = threading.Lock()
    state = {"n": 0, "m": 0}

    def decide(method, path):
        """None (forward), "drop" or "status" for a request."""
        if match is not None and not match.search(method + " " + path):
            return None
        with lock:
            state["m"] += 1
            i = state["m"] - a.skip
        if i <= 0:
            return None
        if a.every > 0:
            if i % a.every:
                return None
            i //= a.every
        if a.drop < 0 or i <= a.drop:
            return "drop"
        i -= a.drop
        if a.count < 0 or i <= a.count:
            return "status"
        return None

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def body(self, limit=-1):
            """Read the body (at most limit bytes if ≥ 0); sets self.short if the client
            went away before sending all it announced."""
            n = int(self.headers.get("Content-Length") or 0)
            want = n if limit < 0 else min(n, limit)
            parts, got = [], 0
            self.short = False
            while got < want:
                try:
                    chunk = self.rfile.read(min(want - got, 1 << 20))
                except OSError:
                    chunk = b""
                if not chunk:
                    self.short = True
                    break
                parts.append(chunk)
                got += len(chunk)
                self.nbody = got
                self.t_body = time.monotonic()
            return b"".join(parts)

        def record(self, status):
            if not a.log or not a.log_detail:
                return
            line = "%d %s %s %d %d %d %.6f %.6f %.6f\n" % (
                self.seq, self.command, self.path, self.client_address[1], status,
                self.nbody, time.monotonic(), self.t_start, self.t_body)
            with lock, open(a.log, "a") as f:
                f.write(line)

        def cut(self):
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.connection.close()

        def handle_any(self):
            self.t_start = self.t_body = time.monotonic()
            self.nbody = 0
            with lock:
                state["n"] += 1
                self.seq = state["n"]
            if a.log and not a.log_detail:
                with lock, open(a.log, "a") as f:
                    f.write("%d %s %s %d\n" % (self.seq, self.command, self.path,
                                               self.client_address[1]))
            what = decide(self.command, self.path)
            if what == "drop":
                if a.drop_after > 0:
                    self.body(a.drop_after)
                self.cut()
                self.record(0)
                return
            data = self.body()
            if self.short:          # the client went away in the middle of its body
                self.cut()
                self.record(0)
                return
            if what == "status":
                msg = b"" if self.command == "HEAD" else (
                    b'<?xml version="1.0" encoding="utf-8"?><Error><Code>'
                    b"ServerBusy</Code><Message>fault proxy says no\nRequestId:x</Message>"
                    b"</Error>")
                try:
                    self.send_response(a.status)
                    if a.status == 407:
                        self.send_header("Proxy-Authenticate", 'Basic realm="test"')
                    else:
                        self.send_header("x-ms-error-code", "ServerBusy")
                    if a.retry_after >= 0:
                        self.send_header("Retry-After", str(a.retry_after))
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(msg)))
                    self.end_headers()
                    self.wfile.write(msg)
                    self.wfile.flush()
                except OSError:
                    self.close_connection = True
                self.record(a.status)
                return
            if a.delay > 0:
                time.sleep(a.delay)
            status = 0
            try:
                status = self.forward(data)
            except Exception:       # upstream unreachable or broken: no response at all
                self.cut()
            self.record(status)

        def forward(self, data):
            """Relay to the upstream; returns the status sent to the client."""
            path = self.path
            if "://" in path:       # absolute-form (we are used as a proxy)
                u = urllib.parse.urlsplit(path)
                path = u.path + ("?" + u.query if u.query else "")
            host, port = a.upstream.rsplit(":", 1)
            conn = http.client.HTTPConnection(host, int(port), timeout=120)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            if a.strip_range:
                headers = {k: v for k, v in headers.items()
                           if k.lower() not in ("x-ms-range", "range")}
            headers["Host"] = a.upstream
            try:
                conn.request(self.command, path, body=data if data or self.command in
                             ("PUT", "POST") else None, headers=headers)
                resp = conn.getresponse()
                payload = resp.read()
            finally:
                conn.close()
            # the upstream has acted on the request whether or not the client still listens
            try:
                self.send_response(resp.status, resp.reason)
                for k, v in resp.getheaders():
                    if k.lower() in HOP or k.lower() == "content-length":
                        continue
                    self.send_header(k, v)
                if self.command == "HEAD":
                    self.send_header("Content-Length", resp.getheader("Content-Length", "0"))
                else:
                    self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)
                self.wfile.flush()
            except OSError:
                self.close_connection = True
            return resp.status

        do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = handle_any

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    srv = Server(("127.0.0.1", 0), Handler)
    print(srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
