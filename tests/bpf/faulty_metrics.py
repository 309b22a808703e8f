#!/usr/bin/env python3
"""faulty_metrics.py PORTFILE MODEFILE: a loopback metrics endpoint that misbehaves on demand.

Each request reads MODEFILE: "ok" (a valid exposition with a histogram), "hang"
(accepts, never answers), "garbage" (200 with bytes that are no exposition),
"500" (an error status), "endless" (200 and a body that never ends). The port
it bound is written to PORTFILE. For tests/bpf/test_faults_watch.sh.
"""
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OK = b"""# HELP app_request_duration_seconds Request latency.
# TYPE app_request_duration_seconds histogram
app_request_duration_seconds_bucket{le="0.01"} %d
app_request_duration_seconds_bucket{le="0.1"} %d
app_request_duration_seconds_bucket{le="+Inf"} %d
app_request_duration_seconds_sum %f
app_request_duration_seconds_count %d
"""


class Handler(BaseHTTPRequestHandler):
    n = 0

    def log_message(self, *a):
        pass

    def do_GET(self):
        try:
            mode = open(sys.argv[2]).read().strip()
        except OSError:
            mode = "ok"
        if mode == "hang":
            time.sleep(3600)
            return
        if mode == "500":
            self.send_response(500)
            self.send_header("Content-Length", "21")
            self.end_headers()
            self.wfile.write(b"internal server error")
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        if mode == "endless":
            self.end_headers()
            chunk = b"app_request_duration_seconds_count 1\n" * 4096
            try:
                while True:
                    self.wfile.write(chunk)
            except OSError:
                return
        if mode == "garbage":
            body = os.urandom(3000) + b"\n{{not an exposition\x00\n"
        else:
            Handler.n += 100
            n = Handler.n
            body = OK % (n, n, n, n * 0.002, n)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
srv.daemon_threads = True
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
srv.serve_forever()
