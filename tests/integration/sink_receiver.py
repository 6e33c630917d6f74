"""sink_receiver.py -- a webhook endpoint for test_sink_webhook.sh that fails on command.

usage: sink_receiver.py PORTFILE LOGFILE
POST /mode?m=ok|500|429|slow sets how record POSTs are answered: 200; 500; 429 with
Retry-After: 1; or 200 after sleeping 1.5 s. In every mode a body containing "reject" gets 400.
Each record POST appends one JSON line to LOGFILE: time, status, partition, offset, count, body.
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

mode = "ok"
lock = threading.Lock()
logf = open(sys.argv[2], "a", buffering=1)


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def answer(self, code, headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        global mode
        u = urlparse(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        if u.path == "/mode":
            mode = parse_qs(u.query)["m"][0]
            return self.answer(200)
        m = mode
        headers = ()
        if "reject" in body:
            code = 400
        elif m == "500":
            code = 500
        elif m == "429":
            code, headers = 429, (("Retry-After", "1"),)
        elif m == "slow":
            time.sleep(1.5)
            code = 200
        else:
            code = 200
        with lock:
            logf.write(json.dumps({"t": time.time(), "status": code, "mode": m,
                                   "partition": int(self.headers["X-Sluice-Partition"]),
                                   "offset": int(self.headers["X-Sluice-Offset"]),
                                   "count": int(self.headers["X-Sluice-Count"]),
                                   "body": body}) + "\n")
        try:
            self.answer(code, headers)
        except OSError:
            pass  # the sink timed out and went away


srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
srv.serve_forever()
