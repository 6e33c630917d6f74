# stream.sh -- helpers for the stream engine's tests; source it after broker.sh.
#   committed_lines TOPIC     records of TOPIC visible under read_committed
#   wait_committed TOPIC N    until TOPIC holds at least N of them (fails after 60 s x mult)
#   wait_log LOG REGEX WHAT   the last line of LOG matching REGEX (grep -E), waited for up to
#                             60 s x mult; else fails with "WHAT" after the log (in $(...):
#                             follow it with `|| exit 1`)
#   admin_addr LOG WHAT       127.0.0.1:PORT of the admin listener `sluice run` logs in LOG,
#                             waited for as wait_log does
#   metrics ADDR              the text of ADDR's /metrics
#   wait_metric ADDR REGEX WHAT  the lines of ADDR's /metrics matching REGEX (grep -E), waited for
#                             up to 30 s x mult; else fails with "WHAT" (in $(...): `|| exit 1`)
#   wait_standbys LOG APP TASKS  once the instance logging to LOG has restored its first tasks,
#                             its lane 0's standby lag series for app APP and tasks matching
#                             TASKS (e.g. 1_[0-3]), waited for; prints them on one line
committed_lines() {
  timeout 20 "$SLUICE" consume "$1" -b "$BROKER" -o beginning -e \
    -X isolation.level=read_committed 2>/dev/null | wc -l
}

wait_committed() {
  for _ in $(seq $((300 * mult))); do
    (( $(committed_lines "$1") >= $2 )) && return 0
    sleep 0.2
  done
  fail "no progress: $1 has fewer than $2 committed records"
}

wait_log() {
  local line=
  for _ in $(seq $((600 * mult))); do
    line=$(grep -E "$2" "$1" | tail -n 1 || true)
    [[ -n $line ]] && { echo "$line"; return 0; }
    sleep 0.1
  done
  cat "$1" >&2
  fail "$3"
}

admin_addr() {
  local line
  line=$(wait_log "$1" "admin listening on [0-9.]+:[0-9]+$" "$2") || exit 1
  echo "127.0.0.1:${line##*:}"
}

metrics() {
  $PY -c 'import sys, urllib.request
print(urllib.request.urlopen("http://" + sys.argv[1] + "/metrics", timeout=5).read().decode())' "$1"
}

wait_metric() {
  local got=
  for _ in $(seq $((300 * mult))); do
    got=$(metrics "$1" | grep -E "$2" || true)
    [[ -n $got ]] && { echo "$got"; return 0; }
    sleep 0.1
  done
  fail "$3"
}

wait_standbys() {
  local addr lagged
  wait_log "$1" "restored .* changelog records" "the instance never restored" >/dev/null || exit 1
  addr=$(admin_addr "$1" "no admin port in $1") || exit 1
  lagged=$(wait_metric "$addr" "^sluice_stream_standby_lag_records\\{app_id=\"$2\",lane=\"0\",task=\"$3\"\\} [0-9]+\$" \
    "no standby lag on the /metrics of the instance logging to $1") || exit 1
  tr '\n' ' ' <<<"$lagged"
}

# Word count (examples/wordcount.so) under `sluice run` instances, for the tests that move its
# tasks between instances (test_stream_wordcount.sh, _rebalance.sh, _restore_stop.sh):
#   wc_start APP_ID PARTITIONS COMMIT_MS  creates the input topic `text`; the instances' app id
#                                         and checkpoint interval; kills what is left at exit
#   wc_run INSTANCE                       starts an instance in the background ($! is its pid,
#                                         its log $T/INSTANCE.log)
#   wc_produce LINES RATE SEED...         feeds `text` in the background ($producer): LINES lines
#                                         per seed at RATE lines/s
#   wc_verify SECONDS LOG...              every word's count updates are exactly 1, 2, ..., total
#                                         under read_committed (else fails with the logs' tails)
#   wc_stop VAR...                        SIGTERM to the instances whose pids are in $VAR; each
#                                         must exit cleanly
WC_LIB=$(dirname "${BASH_SOURCE[0]}")/..
wc_start() {
  WC_APP=$1 WC_COMMIT_MS=$3
  # A failing check exits at once: stop the processes the test started, then the broker.
  trap 'rc=$?; set +e; for q in ${a:-} ${b:-} ${c:-} ${producer:-}; do kill -9 "$q" 2>/dev/null; done; (exit $rc); cleanup' EXIT
  "$SLUICE" topic create text -p "$2" -b "$BROKER" >/dev/null
}

wc_run() {
  "$SLUICE" run "$PWD/$SLUICE_BUILD/examples/wordcount.so" --app-id "$WC_APP" \
    --instance-id "$1" -b "$BROKER" --set commit.interval.ms="$WC_COMMIT_MS" \
    -X session.timeout.ms=6000 -X heartbeat.interval.ms=500 >>"$T/$1.log" 2>&1 &
}

wc_produce() {
  WC_LINES=$1
  local rate=$2
  shift 2
  WC_SEEDS="$*"
  ( for seed in $WC_SEEDS; do
      $PY "$WC_LIB/stream_wordcount.py" produce "$BROKER" text "$seed" "$WC_LINES" "$rate" || exit 1
    done ) &
  producer=$!
}

wc_verify() {
  local secs=$1
  shift
  # shellcheck disable=SC2086 # the seeds are words
  $PY "$WC_LIB/stream_wordcount.py" expect $WC_SEEDS "$WC_LINES" >"$T/totals.json"
  $PY "$WC_LIB/stream_wordcount.py" verify "$BROKER" word-counts "$T/totals.json" "$secs" ||
    { tail -n 20 "$@"; fail "word counts not exactly once"; }
}

wc_stop() {
  local v
  for v; do kill -TERM "${!v}"; done
  for v; do wait "${!v}" || fail "instance $v did not stop cleanly"; done
}
