# broker.sh -- start and stop a real sluice broker on free loopback ports for one test.
#   source tests/integration/lib/broker.sh
#   broker_start [--set k=v ...]   sets BROKER (host:port), ADMIN (host:port), BROKER_PID, T (tmp)
#                                  New groups rebalance at once (group.initial.rebalance.delay.ms=0,
#                                  Kafka's default is 3000): tests with several members do not wait
#                                  3 s per group; pass --set group.initial.rebalance.delay.ms=N to
#                                  test the delay.
#   broker_stop                    SIGTERM, wait, fail on non-zero exit or bad log lines
#   broker_kill                    kill -9 (crash tests); broker_start again reuses $T/data
# SL_TEST_BROKER=host:port skips starting and uses a running broker (debugging).
set -euo pipefail
SLUICE_BUILD=${SLUICE_BUILD:-build}
SLUICE=${SLUICE:-$PWD/$SLUICE_BUILD/sluice}
T=${T:-$(mktemp -d /tmp/sluice-test.XXXXXX)}
PY=/usr/bin/python3
mult=${SL_TEST_TIMEOUT_MULT:-1}

fail() { echo "FAIL: $*" >&2; exit 1; }

broker_start() {
  if [[ -n "${SL_TEST_BROKER:-}" ]]; then BROKER=$SL_TEST_BROKER; return; fi
  rm -f "$T/ports"
  "$SLUICE" broker --data-dir "$T/data" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
      --port-file "$T/ports" --set group.initial.rebalance.delay.ms=0 "$@" >>"$T/broker.log" 2>&1 &
  BROKER_PID=$!
  for _ in $(seq 1 $((600 * mult))); do  # up to 30 s: a loaded machine, a large data dir
    [[ -s "$T/ports" ]] && break
    kill -0 "$BROKER_PID" 2>/dev/null || { cat "$T/broker.log" >&2; fail "broker exited at start"; }
    sleep 0.05
  done
  [[ -s "$T/ports" ]] || fail "broker did not write its port file"
  BROKER=127.0.0.1:$(sed -n 's/^kafka=//p' "$T/ports")
  ADMIN=127.0.0.1:$(sed -n 's/^admin=//p' "$T/ports")
  export BROKER ADMIN
}

check_log() {
  if grep -E "ERROR|runtime error|Sanitizer|assertion failed" "$T/broker.log" | grep -v "${ALLOW_LOG_ERRORS:-^$}" >&2; then
    fail "broker log has errors (see above)"
  fi
}

broker_stop() {
  [[ -n "${SL_TEST_BROKER:-}" ]] && return 0
  kill -TERM "$BROKER_PID" 2>/dev/null || true
  local rc=0
  wait "$BROKER_PID" || rc=$?
  [[ $rc -eq 0 ]] || { tail -n 30 "$T/broker.log" >&2; fail "broker exited with status $rc"; }
  check_log
}

broker_kill() {
  kill -9 "$BROKER_PID" 2>/dev/null || true
  wait "$BROKER_PID" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  if [[ -n "${BROKER_PID:-}" ]] && kill -0 "$BROKER_PID" 2>/dev/null; then kill -9 "$BROKER_PID"; fi
  if [[ $rc -ne 0 ]]; then echo "--- broker log ($T/broker.log) ---" >&2; tail -n 40 "$T/broker.log" >&2 || true; fi
  [[ -n "${SL_TEST_KEEP:-}" ]] || rm -rf "$T"
  exit $rc
}
trap cleanup EXIT
