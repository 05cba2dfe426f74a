#!/usr/bin/env python3
"""Fault-injecting HTTP relay on loopback for retry tests: answers the first N requests with
an error status (optionally with Retry-After) or drops their connection, then forwards the
rest unchanged to an upstream (e.g. Azurite). Also acts as a proxy demanding authentication
(407). Prints its port on the first line of stdout. Test use only.

  fault-proxy.py --upstream 127.0.0.1:PORT [--status 503] [--count N] [--retry-after S]
  fault-proxy.py --upstream 127.0.0.1:PORT --drop N
  fault-proxy.py --status 407 --count -1          (use as http_proxy)
--owner PID exits when that process is gone. --count -1 fails every request. --log FILE appends one line per request:
"SEQ METHOD PATH CLIENT-PORT" (the port shows whether connections are reused).
"""
import argparse
import http.client
import http.server
import os
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
    ap.add_argument("--log", default="")
    ap.add_argument("--owner", type=int, default=0, help="exit when this pid is gone")
    a = ap.parse_args()

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
    state = {"n": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def body(self):
            n = int(self.headers.get("Content-Length") or 0)
            data = b""
            while len(data) < n:
                chunk = self.rfile.read(n - len(data))
                if not chunk:
                    break
                data += chunk
            return data

        def handle_any(self):
            with lock:
                state["n"] += 1
                seq = state["n"]
            if a.log:
                with lock, open(a.log, "a") as f:
                    f.write("%d %s %s %d\n" % (seq, self.command, self.path,
                                               self.client_address[1]))
            if seq <= a.drop:
                self.close_connection = True
                self.connection.close()
                return
            data = self.body()
            if a.count < 0 or seq - a.drop <= a.count:
                msg = b"" if self.command == "HEAD" else (
                    b'<?xml version="1.0" encoding="utf-8"?><Error><Code>'
                    b"ServerBusy</Code><Message>fault proxy says no\nRequestId:x</Message>"
                    b"</Error>")
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
                return
            self.forward(data)

        def forward(self, data):
            path = self.path
            if "://" in path:       # absolute-form (we are used as a proxy)
                u = urllib.parse.urlsplit(path)
                path = u.path + ("?" + u.query if u.query else "")
            host, port = a.upstream.rsplit(":", 1)
            conn = http.client.HTTPConnection(host, int(port), timeout=120)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            headers["Host"] = a.upstream
            conn.request(self.command, path, body=data if data or self.command in
                         ("PUT", "POST") else None, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
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
            conn.close()

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
