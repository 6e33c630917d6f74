"""Scrapes and checks `sluice run --admin` for test_stream_metrics.sh and test_stream_backpressure.sh.
  stream_metrics.py wait-status URL STATUS TIMEOUT     until GET URL answers STATUS
  stream_metrics.py wait ADMIN TIMEOUT EXPR            until EXPR (Python, over the scrape) holds
  stream_metrics.py sample ADMIN SECONDS OUT.json      scrapes every 0.2 s, keeps each name's max
  stream_metrics.py get ADMIN EXPR                     prints EXPR over one scrape
EXPR sees m(name, **labels) -> the sum of matching samples (label values may end in '*' for a
prefix), series(name) -> [(labels, value)], and mx(name) -> the sampled maximum (sample files)."""
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape(admin):
    with urllib.request.urlopen("http://%s/metrics" % admin, timeout=10) as r:
        text = r.read().decode()
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        g = LINE.match(line)
        if not g:
            raise ValueError("bad exposition line: %r" % line)
        out.append((g.group(1), dict(LABEL.findall(g.group(2) or "")), float(g.group(3))))
    return out


def env(samples, maxes=None):
    def match(labels, want):
        for k, v in want.items():
            have = labels.get(k)
            if have is None or (have[:len(v) - 1] != v[:-1] if v.endswith("*") else have != v):
                return False
        return True

    def m(name, **want):
        return sum(v for n, l, v in samples if n == name and match(l, want))

    def series(name):
        return [(l, v) for n, l, v in samples if n == name]

    return {"m": m, "series": series, "mx": lambda n: (maxes or {}).get(n, 0)}


def main():
    cmd = sys.argv[1]
    if cmd == "wait-status":
        url, want, deadline = sys.argv[2], int(sys.argv[3]), time.time() + float(sys.argv[4])
        got = None
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    got = r.status
            except urllib.error.HTTPError as e:
                got = e.code
            except OSError:
                got = None
            if got == want:
                return 0
            time.sleep(0.1)
        print("%s: wanted %d, last %s" % (url, want, got))
        return 1
    admin = sys.argv[2]
    if cmd == "wait":
        deadline, expr = time.time() + float(sys.argv[3]), sys.argv[4]
        while True:
            samples = scrape(admin)
            if eval("(" + expr + ")", env(samples)):
                return 0
            if time.time() > deadline:
                print("not reached: %s" % expr)
                for n, l, v in samples:
                    if "bucket" not in n:
                        print("  ", n, l, v)
                return 1
            time.sleep(0.2)
    if cmd == "sample":
        end, maxes = time.time() + float(sys.argv[3]), {}
        while time.time() < end:
            try:
                samples = scrape(admin)
            except OSError:
                break  # the run ended
            for n, l, v in samples:
                maxes[n] = max(maxes.get(n, v), v)
            with open(sys.argv[4] + ".tmp", "w") as f:  # kept current: the sampler may be killed
                json.dump(maxes, f)
            os.replace(sys.argv[4] + ".tmp", sys.argv[4])
            time.sleep(0.2)
        return 0
    if cmd == "get":
        print(eval("(" + sys.argv[3] + ")", env(scrape(admin))))
        return 0
    return 2


sys.exit(main())
