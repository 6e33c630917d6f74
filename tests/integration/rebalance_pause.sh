#!/usr/bin/env bash
# By hand (not in make test): how long a `sluice run` job stops when a member joins and when one
# leaves. Word count under two instances with steady input (1,000 lines/s into 6 partitions); a
# read_committed reader notes when each committed output arrives; a third instance joins, then
# leaves (SIGTERM). Prints the longest gap between outputs in the 10 s after each event (the
# checkpoint interval is 200 ms, so about 0.2 s is no pause at all).
#   SLUICE=path/to/sluice tests/integration/rebalance_pause.sh
source "$(dirname "$0")/lib/broker.sh"
broker_start --set group.initial.rebalance.delay.ms=0
HERE=$(dirname "$0")
trap 'rc=$?; set +e; for q in ${a:-} ${b:-} ${c:-} ${producer:-} ${reader:-}; do kill -9 "$q" 2>/dev/null; done; (exit $rc); cleanup' EXIT
WC=$PWD/$SLUICE_BUILD/examples/wordcount.so
"$SLUICE" topic create text -p 6 -b "$BROKER" >/dev/null
run() {
  "$SLUICE" run "$WC" --app-id wcp --instance-id "$1" -b "$BROKER" --set commit.interval.ms=200 \
    -X session.timeout.ms=6000 -X heartbeat.interval.ms=500 >>"$T/$1.log" 2>&1 &
}
$PY "$HERE/stream_wordcount.py" produce "$BROKER" text 1 40000 1000 &
producer=$!
run a; a=$!
run b; b=$!
$PY - "$BROKER" >"$T/arrivals" <<'EOF' &
import sys, time
from confluent_kafka import Consumer
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "pause-reader",
              "isolation.level": "read_committed", "auto.offset.reset": "earliest"})
c.subscribe(["word-counts"])
while True:
    for m in c.consume(500, 0.05):
        if not m.error():
            print("%.3f" % time.time(), flush=True)
EOF
reader=$!
sleep 12
t_join=$(date +%s.%N); run c; c=$!
sleep 12
t_leave=$(date +%s.%N); kill -TERM "$c"; wait "$c" || true
sleep 12
kill "$reader" "$producer" 2>/dev/null || true
gap() { # gap FROM: the longest pause between outputs in [FROM, FROM + 10]
  awk -v t0="$1" 'BEGIN { p = t0 } $1 >= t0 && $1 <= t0 + 10 { if ($1 - p > g) g = $1 - p; p = $1 }
    END { printf "%.2f s\n", g }' "$T/arrivals"
}
echo "join:  longest gap between committed outputs $(gap "$t_join")"
echo "leave: longest gap between committed outputs $(gap "$t_leave")"
kill -TERM "$a" "$b"; wait "$a" "$b" || true
a= b= c= producer= reader=
broker_stop
