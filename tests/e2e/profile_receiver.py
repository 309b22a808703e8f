#!/usr/bin/env python3
"""profile_receiver.py: loopback stand-ins for Grafana Pyroscope's push API and Parca's WriteRaw gateway, as strict as the real servers.

No Pyroscope or Parca server can be installed on these machines, so the tests
send to this. It decodes the real wire formats by hand from the published
schemas (field numbers below), applies the servers' own ingestion rules and
answers as they do:

  POST /push.v1.PusherService/Push   Connect unary, Content-Type application/proto,
      body push.v1.PushRequest {series=1: RawProfileSeries {labels=1: LabelPair
      {name=1, value=2}, samples=2: RawSample {raw_profile=1, ID=2}}}
      (Pyroscope api/push/v1/push.proto, api/types/v1/types.proto).
      Rules (pkg/validation ValidateLabels, ValidateProfile; the ingester's
      uuid.Parse(sample.ID)): at least one label; label names valid per
      Prometheus, no duplicates, at most 30; values valid UTF-8, at most 2048
      bytes; __name__ a valid metric name; service_name not empty; ID a UUID;
      the profile (gzip or not) at most max_size uncompressed bytes and
      max_samples samples; no location or function id 0; no '-' in a sample
      type's name; every string UTF-8; time_nanos 0 or within [now - 1 h,
      now + 10 min].
      Errors: HTTP 400 with the Connect error {"code":"invalid_argument",...}.
  POST /profiles/writeraw   JSON (protobuf JSON mapping of
      parca.profilestore.v1alpha1.WriteRawRequest: series[].labels.labels[]
      {name, value}, series[].samples[].rawProfile as base64).
      Rules (NormalizeWriteRawRequest, ValidatePprofProfile): label names
      valid, no duplicates, __name__ present; string 0 is ""; mapping,
      function and location ids equal their position + 1; indices in range;
      no location id 0 in a sample; as many values as sample types.
      Errors: HTTP 400 with the gateway's {"code":3,"message":...}.

Every accepted profile is written, ungzipped, to OUT/<sink>-<n>.pb with
OUT/<sink>-<n>.json (labels, ID, samples, sizes, comments); every request
body to OUT/<sink>-<n>.body; every refusal is a line of OUT/rejected.log.

usage: profile_receiver.py serve PORT OUT [--max-samples N] [--max-size BYTES]
       profile_receiver.py craft IN WHAT OUT [WHAT OUT]...   (bad requests/profiles for the tests;
           WHAT: pprof:dash|sparse|zeroid|oversize, push:dash|zeroid|noservice|noname|oversize|badid,
           parca:noname|sparse|zeroid)
"""
import base64
import gzip
import json
import os
import re
import sys
import time
import uuid
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


class Reject(Exception):
    pass


# ---- protobuf wire format ----

def varint(buf, i):
    shift = val = 0
    while True:
        if i >= len(buf):
            raise Reject("truncated varint")
        b = buf[i]
        i += 1
        val |= (b & 0x7F) << shift
        if b < 0x80:
            return val, i
        shift += 7
        if shift > 63:
            raise Reject("varint too long")


def fields(buf):
    """[(number, wire type, value)] of one message."""
    out, i = [], 0
    while i < len(buf):
        key, i = varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            val, i = varint(buf, i)
        elif wt == 1:
            val, i = buf[i:i + 8], i + 8
        elif wt == 2:
            n, i = varint(buf, i)
            if i + n > len(buf):
                raise Reject("truncated field")
            val, i = buf[i:i + n], i + n
        elif wt == 5:
            val, i = buf[i:i + 4], i + 4
        else:
            raise Reject(f"wire type {wt}")
        out.append((num, wt, val))
    return out


def ints(wt, val):
    """A repeated integer field's values, packed or not."""
    if wt == 0:
        return [val]
    out, i = [], 0
    while i < len(val):
        v, i = varint(val, i)
        out.append(v)
    return out


def signed(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def put_varint(v):
    v &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def encode(fs):
    out = bytearray()
    for num, wt, val in fs:
        out += put_varint(num << 3 | wt)
        if wt == 0:
            out += put_varint(val)
        elif wt == 2:
            out += put_varint(len(val)) + val
        else:
            out += val
    return bytes(out)


def utf8(b, what):
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        raise Reject(f"{what} is not valid UTF-8")


# ---- pprof (profile.proto field numbers) ----

def decode_pprof(raw):
    p = {"sample_type": [], "samples": [], "mappings": [], "locations": [], "functions": [],
         "strings": [], "comments": [], "time_nanos": 0, "default_sample_type": 0}
    for num, wt, val in fields(raw):
        if num == 1:
            vt = dict((n, v) for n, _, v in fields(val))
            p["sample_type"].append((vt.get(1, 0), vt.get(2, 0)))
        elif num == 2:
            s = {"locs": [], "values": [], "labels": []}
            for n, w, v in fields(val):
                if n == 1:
                    s["locs"] += ints(w, v)
                elif n == 2:
                    s["values"] += [signed(x) for x in ints(w, v)]
                elif n == 3:
                    s["labels"].append(dict((a, b) for a, _, b in fields(v)))
            p["samples"].append(s)
        elif num == 3:
            m = dict((n, v) for n, _, v in fields(val))
            p["mappings"].append({"id": m.get(1, 0), "filename": m.get(5, 0), "build_id": m.get(6, 0)})
        elif num == 4:
            loc = {"id": 0, "mapping_id": 0, "lines": []}
            for n, w, v in fields(val):
                if n == 1:
                    loc["id"] = v
                elif n == 2:
                    loc["mapping_id"] = v
                elif n == 4:
                    loc["lines"].append(dict((a, b) for a, _, b in fields(v)).get(1, 0))
            p["locations"].append(loc)
        elif num == 5:
            f = dict((n, v) for n, _, v in fields(val))
            p["functions"].append({"id": f.get(1, 0), "name": f.get(2, 0), "system_name": f.get(3, 0),
                                   "filename": f.get(4, 0)})
        elif num == 6:
            p["strings"].append(val)
        elif num == 9:
            p["time_nanos"] = signed(val)
        elif num == 13:
            p["comments"] += ints(wt, val)
        elif num == 14:
            p["default_sample_type"] = val
    return p


def ungzip(b, cap):
    if b[:2] != b"\x1f\x8b":
        return b
    try:
        with gzip.GzipFile(fileobj=__import__("io").BytesIO(b)) as g:
            out = g.read(cap + 1)
    except (OSError, EOFError) as e:
        raise Reject(f"decompressing profile: {e}")
    return out


def check_labels(pairs, need_service):
    if not pairs:
        raise Reject("error at least one label pair is required per profile")
    names = [n for n, _ in pairs]
    if len(set(names)) != len(names):
        raise Reject(f"duplicate label name: {sorted(names)}")
    if len(names) > 30:
        raise Reject(f"profile series has {len(names)} label names; limit 30")
    d = dict(pairs)
    if "__name__" not in d or not METRIC_NAME.match(d["__name__"]):
        raise Reject("invalid labels: invalid metric name (__name__ missing or invalid)")
    if need_service and not d.get("service_name"):
        raise Reject("invalid labels: service name is not provided")
    for n, v in pairs:
        if not LABEL_NAME.match(n):
            raise Reject(f"invalid label name '{n}'")
        if len(v.encode()) > 2048:
            raise Reject(f"label value too long: {n}")
    return d


def check_pyroscope_profile(p, raw_len, max_size, max_samples):
    now = time.time_ns()
    if p["time_nanos"] > 0 and not (now - 3600 * 10**9 < p["time_nanos"] < now + 600 * 10**9):
        raise Reject("profile time outside the ingestion window")
    if max_size and raw_len > max_size:
        raise Reject(f"exceeds the size limit (max_profile_size_byte, actual: {raw_len}, limit: {max_size})")
    if max_samples and len(p["samples"]) > max_samples:
        raise Reject(f"exceeds the samples count limit (max_profile_stacktrace_samples, actual: "
                     f"{len(p['samples'])}, limit: {max_samples})")
    if any(loc["id"] == 0 for loc in p["locations"]):
        raise Reject("location id is 0")
    if any(f["id"] == 0 for f in p["functions"]):
        raise Reject("function id is 0")
    for t, _ in p["sample_type"]:
        if t >= len(p["strings"]) or b"-" in p["strings"][t]:
            raise Reject("sample type contains -")
    for s in p["strings"]:
        utf8(s, "a string of the profile")


def check_parca_profile(p):
    st = len(p["strings"])
    if st and p["strings"][0] != b"":
        raise Reject("first item in string table is expected to be empty string")
    for what in ("mappings", "functions", "locations"):
        for i, e in enumerate(p[what]):
            if e["id"] != i + 1:
                raise Reject(f"{what[:-1]} id is not sequential")
    for m in p["mappings"]:
        if m["filename"] > st or m["build_id"] > st:
            raise Reject("mapping has an invalid string index")
    for f in p["functions"]:
        if max(f["name"], f["system_name"], f["filename"]) > st:
            raise Reject("function has an invalid string index")
    for loc in p["locations"]:
        if loc["mapping_id"] > len(p["mappings"]):
            raise Reject(f"location has invalid mapping id: {loc['mapping_id']}")
        if any(fid > len(p["functions"]) for fid in loc["lines"]):
            raise Reject(f"location {loc['id']} has invalid function id")
    if not p["sample_type"] and p["samples"]:
        raise Reject("missing sample type information")
    for i, s in enumerate(p["samples"]):
        if len(s["values"]) != len(p["sample_type"]):
            raise Reject(f"mismatch: sample has {len(s['values'])} values vs. {len(p['sample_type'])} types")
        for loc in s["locs"]:
            if loc == 0:
                raise Reject("location ids of stacktraces must be non-zero")
            if loc > len(p["locations"]):
                raise Reject(f"sample {i} location {loc} is out of range")
        for lab in s["labels"]:
            if lab.get(1, 0) == 0:
                raise Reject(f"sample {i} label has no key")


def summary(p):
    return {"samples": len(p["samples"]),
            "sample_types": [p["strings"][t].decode() for t, _ in p["sample_type"]],
            "totals": [sum(s["values"][k] for s in p["samples"]) for k in range(len(p["sample_type"]))],
            "time_nanos": p["time_nanos"],
            "comments": [p["strings"][c].decode("utf-8", "replace") for c in p["comments"]],
            "ids": {w: [e["id"] for e in p[w]][:5] for w in ("mappings", "functions", "locations")}}


# ---- the server ----

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("receiver: " + fmt % args + "\n")

    def reply(self, code, ctype, body):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def save(self, sink, body, record, raw):
        srv = self.server
        with srv.lock:     # concurrent connections, as the real servers take (one per sink)
            srv.seq[sink] = srv.seq.get(sink, 0) + 1
            base = os.path.join(srv.out, f"{sink}-{srv.seq[sink]}")
        with open(base + ".pb", "wb") as f:
            f.write(raw)
        with open(base + ".body", "wb") as f:
            f.write(body)
        with open(base + ".json", "w") as f:
            json.dump(record, f, indent=1)

    def reject(self, sink, msg):
        with self.server.lock, open(os.path.join(self.server.out, "rejected.log"), "a") as f:
            f.write(f"{sink}: {msg}\n")
        if sink == "pyroscope":
            self.reply(400, "application/json", json.dumps({"code": "invalid_argument", "message": msg}).encode())
        else:
            self.reply(400, "application/json", json.dumps({"code": 3, "message": msg, "details": []}).encode())

    def do_GET(self):
        self.reply(200 if self.path == "/ready" else 404, "text/plain", b"ready\n")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/push.v1.PusherService/Push":
            sink = "pyroscope"
        elif self.path == "/profiles/writeraw":
            sink = "parca"
        else:
            self.reply(404, "text/plain", b"404 page not found\n")
            return
        try:
            if sink == "pyroscope":
                self.pyroscope(body)
            else:
                self.parca(body)
        except Reject as e:
            self.reject(sink, str(e))

    def pyroscope(self, body):
        srv = self.server
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/proto":
            raise Reject(f"content type {self.headers.get('Content-Type')}: this stand-in takes application/proto")
        if self.headers.get("Connect-Protocol-Version", "1") != "1":
            raise Reject("Connect-Protocol-Version must be 1")
        accepted = []
        for num, _, series in fields(body):
            if num != 1:
                continue
            pairs, samples = [], []
            for n, _, v in fields(series):
                if n == 1:
                    lp = dict((a, b) for a, _, b in fields(v))
                    pairs.append((utf8(lp.get(1, b""), "a label name"), utf8(lp.get(2, b""), "a label value")))
                elif n == 2:
                    samples.append(dict((a, b) for a, _, b in fields(v)))
            labels = check_labels(pairs, need_service=True)
            for s in samples:
                sid = utf8(s.get(2, b""), "the sample ID")
                try:
                    if len(sid) != 36:
                        raise ValueError
                    uuid.UUID(sid)
                except ValueError:
                    raise Reject(f"invalid UUID: '{sid}'")
                raw = ungzip(s.get(1, b""), srv.max_size)
                if srv.max_size and len(raw) > srv.max_size:   # checked on the uncompressed size
                    raise Reject(f"exceeds the size limit (max_profile_size_byte, actual: over {srv.max_size}, "
                                 f"limit: {srv.max_size})")
                p = decode_pprof(raw)
                check_pyroscope_profile(p, len(raw), srv.max_size, srv.max_samples)
                accepted.append(({"labels": [list(x) for x in pairs], "id": sid, "raw_len": len(raw),
                                  "gzipped": s.get(1, b"")[:2] == b"\x1f\x8b", **summary(p)}, raw))
            del labels
        if not accepted:
            raise Reject("no profile in the request")
        for record, raw in accepted:
            self.save("pyroscope", body, record, raw)
        self.reply(200, "application/proto", b"")

    def parca(self, body):
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            raise Reject("this gateway stand-in takes application/json")
        try:
            req = json.loads(body)
        except ValueError as e:
            raise Reject(f"invalid JSON: {e}")
        accepted = []
        for series in req.get("series", []):
            pairs = [(lb["name"], lb["value"]) for lb in series.get("labels", {}).get("labels", [])]
            check_labels(pairs, need_service=False)
            for s in series.get("samples", []):
                b64 = s.get("rawProfile", s.get("raw_profile"))
                if b64 is None:
                    raise Reject("sample without rawProfile")
                try:
                    gz = base64.b64decode(b64, validate=True)
                except ValueError:
                    raise Reject("rawProfile is not base64")
                raw = ungzip(gz, 1 << 30)
                p = decode_pprof(raw)
                check_parca_profile(p)
                accepted.append(({"labels": [list(x) for x in pairs], "raw_len": len(raw),
                                  "gzipped": gz[:2] == b"\x1f\x8b", **summary(p)}, raw))
        if not accepted:
            raise Reject("no profile in the request")
        for record, raw in accepted:
            self.save("parca", body, record, raw)
        self.reply(200, "application/json", b"{}")


def serve(argv):
    port, out = int(argv[0]), argv[1]
    opts = dict(zip(argv[2::2], argv[3::2]))
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    srv.out, srv.seq, srv.lock = out, {}, threading.Lock()
    srv.max_samples = int(opts.get("--max-samples", 16000))
    srv.max_size = int(opts.get("--max-size", 4 << 20))
    os.makedirs(out, exist_ok=True)
    srv.serve_forever()


# ---- crafting what the servers refuse ----

def pprof_fields_map(raw, fn):
    """Re-encodes a pprof with fn(number, wt, value) -> value (or None to drop) per top-level field."""
    out = []
    for num, wt, val in fields(raw):
        v = fn(num, wt, val)
        if v is not None:
            out.append((num, wt, v))
    return encode(out)


def sub_map(val, fn):
    return encode([(n, w, fn(n, w, v)) for n, w, v in fields(val)])


def craft_pprof(what, raw):
    strings = [v for n, _, v in fields(raw) if n == 6]
    types = [dict((a, b) for a, _, b in fields(v)).get(1, 0) for n, _, v in fields(raw) if n == 1]
    if what == "dash":          # a '-' in the first sample type's name
        t = types[0]
        k = [0]

        def fn(n, w, v):
            if n == 6:
                k[0] += 1
                if k[0] - 1 == t:
                    return v.replace(b"cpu", b"-cpu") if b"cpu" in v else v + b"-x"
            return v
        return pprof_fields_map(raw, fn)
    if what in ("zeroid", "sparse"):
        # zeroid: every id - 1 (the first location and function get id 0);
        # sparse: every id * 3 + 5 (valid pprof, not sequential)
        f = (lambda i: i - 1) if what == "zeroid" else (lambda i: i * 3 + 5)

        def loc_line(n, w, v):
            return f(v) if n == 1 and v else v

        def loc(n, w, v):
            if n == 1:
                return f(v)
            if n == 2 and v:
                return f(v)
            if n == 4:
                return sub_map(v, loc_line)
            return v

        def sample(n, w, v):
            if n == 1:
                ids = [f(x) for x in ints(w, v)]
                return b"".join(put_varint(x) for x in ids) if w == 2 else ids[0]
            return v

        def top(n, w, v):
            if n == 2:
                return sub_map(v, sample)
            if n in (3, 5):
                return sub_map(v, lambda a, b, c: f(c) if a == 1 else c)
            if n == 4:
                return sub_map(v, loc)
            return v
        return pprof_fields_map(raw, top)
    if what == "oversize":      # a 5 MiB string: over max_profile_size_bytes once ungzipped
        return raw + encode([(6, 2, b"x" * (5 << 20))])
    raise SystemExit(f"unknown pprof craft {what}")


def craft_push(what, body):
    """A Pyroscope PushRequest changed as what says."""
    def series(n, w, v):
        if n == 1:          # labels
            name = dict((a, b) for a, _, b in fields(v)).get(1, b"")
            if (what == "noservice" and name == b"service_name") or (what == "noname" and name == b"__name__"):
                return None
            return v
        if n == 2 and what in ("dash", "zeroid", "oversize"):
            s = dict((a, b) for a, _, b in fields(v))
            raw = craft_pprof(what, gzip.decompress(s[1]))
            return encode([(1, 2, gzip.compress(raw)), (2, 2, s[2])])
        if n == 2 and what == "badid":
            s = dict((a, b) for a, _, b in fields(v))
            return encode([(1, 2, s[1]), (2, 2, b"20261205T080000Z-not-a-uuid")])
        return v

    out = []
    for num, wt, val in fields(body):
        if num == 1:
            val = encode([(n, w, v2) for n, w, v in fields(val) for v2 in [series(n, w, v)] if v2 is not None])
        out.append((num, wt, val))
    return encode(out)


def craft_parca(what, body):
    req = json.loads(body)
    s = req["series"][0]
    if what == "noname":
        s["labels"]["labels"] = [lb for lb in s["labels"]["labels"] if lb["name"] != "__name__"]
    elif what in ("sparse", "zeroid"):
        raw = gzip.decompress(base64.b64decode(s["samples"][0]["rawProfile"]))
        s["samples"][0]["rawProfile"] = base64.b64encode(gzip.compress(craft_pprof(what, raw))).decode()
    else:
        raise SystemExit(f"unknown parca craft {what}")
    return json.dumps(req).encode()


def craft(argv):
    src, pairs = argv[0], argv[1:]
    data = open(src, "rb").read()
    for what, dst in zip(pairs[::2], pairs[1::2]):
        kind, _, what = what.partition(":")
        if kind == "pprof":
            raw = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
            out = gzip.compress(craft_pprof(what, raw))
        elif kind == "push":
            out = craft_push(what, data)
        elif kind == "parca":
            out = craft_parca(what, data)
        else:
            raise SystemExit(f"craft: unknown kind {kind}")
        open(dst, "wb").write(out)


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "serve":
        serve(sys.argv[2:])
    elif len(sys.argv) >= 5 and len(sys.argv) % 2 == 1 and sys.argv[1] == "craft":
        craft(sys.argv[2:])
    else:
        sys.exit(__doc__)
