#!/usr/bin/env python3
"""deliver_recv.py: a loopback HTTP receiver for the delivery tests: a webhook endpoint that
verifies Standard Webhooks signatures, or a stand-in sink that misbehaves on purpose.

usage: deliver_recv.py --port-file F [--port N] --log F [--secret-file F] [--ids-file F]
                       [--hang-first N] [--status-first N --status CODE [--retry-after S]]
                       [--reject-id ID]... [--keep-body]
                       [--tls-cert PEM --tls-key PEM [--client-ca PEM]]   (HTTPS; client certificates required)

Each request is one JSON line in --log: path, the incident ids found in the body
(a webhook's data.incident_id, else any id of --ids-file present in the raw bytes:
protobuf and JSON bodies carry label values verbatim), the status answered, the
signature check. With --secret-file the webhook-signature header must verify per
the Standard Webhooks spec (HMAC-SHA256 of "id.timestamp.body", base64, "v1,"
prefix, key whsec_BASE64 or raw), the timestamp must be within 5 minutes and
webhook-id must equal the body's incident id: else 401. Faults, in this order:
the first --hang-first requests get no answer (the client must time out), the
next --status-first get --status (with Retry-After), bodies holding a
--reject-id get 400 with a JSON error, always.
"""
import argparse, base64, hashlib, hmac, json, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("--port-file", required=True)
ap.add_argument("--port", type=int, default=0)
ap.add_argument("--log", required=True)
ap.add_argument("--secret-file")
ap.add_argument("--ids-file")
ap.add_argument("--hang-first", type=int, default=0)
ap.add_argument("--status-first", type=int, default=0)
ap.add_argument("--status", type=int, default=503)
ap.add_argument("--retry-after")
ap.add_argument("--reject-id", action="append", default=[])
ap.add_argument("--keep-body", action="store_true")
ap.add_argument("--tls-cert")
ap.add_argument("--tls-key")
ap.add_argument("--client-ca")
a = ap.parse_args()

key = None
if a.secret_file:
    text = open(a.secret_file).read().strip()
    key = base64.b64decode(text[6:]) if text.startswith("whsec_") else text.encode()
lock = threading.Lock()
count = 0


def ids_in(body):
    try:
        d = json.loads(body)
        if isinstance(d, dict) and isinstance(d.get("data"), dict) and "incident_id" in d["data"]:
            return [d["data"]["incident_id"]]
    except ValueError:
        pass
    if not a.ids_file:
        return []
    ids = [l.strip() for l in open(a.ids_file) if l.strip()]
    return [i for i in ids if i.encode() in body]


def check_signature(h, body, found):
    wid, ts, sig = h.get("webhook-id"), h.get("webhook-timestamp"), h.get("webhook-signature")
    if not (wid and ts and sig):
        return "missing webhook-id, webhook-timestamp or webhook-signature"
    if abs(time.time() - int(ts)) > 300:
        return "timestamp out of tolerance"
    want = base64.b64encode(hmac.new(key, f"{wid}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()
    if not any(s.startswith("v1,") and hmac.compare_digest(s[3:], want) for s in sig.split(" ")):
        return "bad signature"
    if found and found != [wid]:
        return "webhook-id is not the body's incident id"
    return None


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        global count
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with lock:
            count += 1
            n = count
        found = ids_in(body)
        rec = {"n": n, "t": time.time(), "path": self.path, "ids": found, "len": len(body),
               "ctype": self.headers.get("Content-Type"), "webhook_id": self.headers.get("webhook-id")}
        if a.keep_body:
            rec["body"] = body.decode("utf-8", "replace")
        if n <= a.hang_first:
            rec["status"] = "hang"
            self.log(rec)
            time.sleep(30)
            self.close_connection = True
            return
        if n <= a.hang_first + a.status_first:
            rec["status"] = a.status
            self.log(rec)
            self.answer(a.status, b"try later\n", [("Retry-After", a.retry_after)] if a.retry_after else [])
            return
        if any(r.encode() in body for r in a.reject_id):
            rec["status"] = 400
            self.log(rec)
            self.answer(400, b'{"error":"rejected by the test: bad labels"}')
            return
        if key is not None:
            why = check_signature(self.headers, body, found)
            if why:
                rec["status"] = 401
                rec["why"] = why
                self.log(rec)
                self.answer(401, why.encode())
                return
            rec["signature"] = "ok"
        rec["status"] = 200
        self.log(rec)
        self.answer(200, b"{}")

    def log(self, rec):
        with lock, open(a.log, "a") as f:
            f.write(json.dumps(rec) + "\n")


srv = ThreadingHTTPServer(("127.0.0.1", a.port), H)
srv.daemon_threads = True
if a.tls_cert:
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.tls_cert, a.tls_key)
    if a.client_ca:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(a.client_ca)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(a.port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(a.port_file + ".tmp", a.port_file)
srv.serve_forever()
