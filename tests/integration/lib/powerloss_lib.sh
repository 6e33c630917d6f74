# powerloss_lib.sh -- crash cycles under the power-loss shim, shared by test_powerloss.sh and
# bench/run-faults. Source it after lib/broker.sh. A cycle: start the broker with the shim (on
# the data dir a previous cycle left), run an acks=all producer and a transactional producer,
# crash (kill -9 after a delay, or the shim's SIGKILL at a chosen sync), rewrite the data dir to
# its durable state with powerloss_apply.py, restart without the shim and verify every
# acknowledged record and transaction. Figures go to $PL_FIGURES, one line per cycle.
PL_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PL_SHIM=${PL_SHIM:-$(cd "$PL_DIR/../.." && pwd)/$SLUICE_BUILD/tests/libpowerloss.so}
PL_MODEL=${PL_MODEL:-ext4}
PL_FIGURES=${PL_FIGURES:-$T/figures}
PL_REAL_SLUICE=$SLUICE
PL_BROKER_ARGS=(--set log.segment.bytes=1048576 --set transaction.max.timeout.ms=60000)

[[ -f "$PL_SHIM" ]] || fail "power-loss shim $PL_SHIM not built (make all)"

# The producers of a cycle are stopped too when the script exits early (then broker.sh's cleanup).
PL_PIDS=()
pl_cleanup() {
  local rc=$?
  for p in ${PL_PIDS[@]+"${PL_PIDS[@]}"}; do kill -TERM "$p" 2>/dev/null || true; done
  set +e # a failing status must reach cleanup, not end this handler
  (exit $rc)
  cleanup
}
trap pl_cleanup EXIT

# A new data dir and history (bench/run-faults starts over every FRESH_EVERY cycles).
pl_fresh() {
  mkdir -p "$T/data"
  : >"$T/acked.all"
  : >"$T/txn.log"
  PL_TOPICS=
}
pl_fresh

# The broker started through a wrapper that preloads the shim (after ASan's runtime when the
# broker is built with it: ASan must come first in the library list).
pl_wrapper() { # pl_wrapper JOURNAL [CRASH_AT_SYNC]
  local pre=$PL_SHIM asan
  asan=$(ldd "$PL_REAL_SLUICE" | awk '/libasan/ {print $3}')
  [[ -n "$asan" ]] && pre="$asan $PL_SHIM"
  cat >"$T/sluice-pl" <<WRAP
#!/bin/sh
export LD_PRELOAD="$pre" POWERLOSS_ROOT="$T/data" POWERLOSS_JOURNAL="$1" POWERLOSS_CRASH_AT_SYNC="${2:-0}"
exec "$PL_REAL_SLUICE" "\$@"
WRAP
  chmod +x "$T/sluice-pl"
}

now_ms() { date +%s%3N; }

# Starts the broker under the shim. Returns 1 when it died before writing its port file (the shim
# killed it at a sync during start-up); fails the test on any other start-up problem.
pl_start_under_shim() {
  rm -f "$T/ports"
  "$T/sluice-pl" broker --data-dir "$T/data" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
      --port-file "$T/ports" "${PL_BROKER_ARGS[@]}" >>"$T/broker.log" 2>&1 &
  BROKER_PID=$!
  for _ in $(seq 1 $((600 * mult))); do
    [[ -s "$T/ports" ]] && break
    if ! kill -0 "$BROKER_PID" 2>/dev/null; then
      local rc=0
      wait "$BROKER_PID" || rc=$?
      [[ $rc -eq 137 ]] && grep -q " K " "$journal" && return 1
      fail "broker under the shim exited at start ($rc)"
    fi
    sleep 0.05
  done
  [[ -s "$T/ports" ]] || fail "broker did not write its port file"
  BROKER=127.0.0.1:$(sed -n 's/^kafka=//p' "$T/ports")
  ADMIN=127.0.0.1:$(sed -n 's/^admin=//p' "$T/ports")
}

# pl_cycle N MODE ARG: MODE "kill" kills -9 after ARG seconds of load; "sync" lets the shim kill
# the broker when its ARG-th sync starts (or kills it after 15 s if it never gets there).
pl_cycle() {
  local n=$1 mode=$2 arg=$3 journal=$T/journal.$1
  if [[ -z $PL_TOPICS && $mode == sync ]]; then
    mode=kill arg=1.5 # the topics are made in a cycle that is not cut short at a sync
  fi
  pl_wrapper "$journal" "$([[ $mode == sync ]] && echo "$arg")"
  if ! pl_start_under_shim; then
    mode=startup # the chosen sync came during start-up: a crash point like any other
  fi
  if [[ -z $PL_TOPICS ]]; then
    "$PL_REAL_SLUICE" topic create pl -p 3 -b "$BROKER" >/dev/null || fail "topic create pl"
    "$PL_REAL_SLUICE" topic create pltx -p 3 -b "$BROKER" >/dev/null || fail "topic create pltx"
    PL_TOPICS=1
  fi
  : >"$T/acked.$n"
  local prod= txn=
  if [[ $mode != startup ]]; then
    $PY "$PL_DIR/acked_producer.py" "$BROKER" pl "$T/acked.$n" 2>/dev/null &
    prod=$!
    $PY "$PL_DIR/powerloss_txn.py" "$BROKER" pltx "c$n" "$T/txn.log" 30 2>/dev/null &
    txn=$!
    PL_PIDS=("$prod" "$txn")
  fi
  if [[ $mode == kill ]]; then
    sleep "$arg"
    broker_kill
  else
    local waited=0
    while kill -0 "$BROKER_PID" 2>/dev/null && (( waited < 150 )); do sleep 0.1; waited=$((waited + 1)); done
    broker_kill
  fi
  [[ -z $prod ]] || wait $prod || true
  [[ -z $txn ]] || wait $txn || true
  PL_PIDS=()
  cat "$T/acked.$n" >>"$T/acked.all"
  local applied
  applied=$($PY "$PL_DIR/powerloss_apply.py" "$journal" --model "$PL_MODEL" --list) ||
    fail "cycle $n: powerloss_apply: $applied"
  local t0 t1
  t0=$(now_ms)
  broker_start "${PL_BROKER_ARGS[@]}"
  t1=$(now_ms)
  local verified
  verified=$($PY "$PL_DIR/powerloss_verify.py" "$BROKER" pl "$T/acked.all" pltx "$T/txn.log") ||
    fail "cycle $n ($mode $arg): $verified"
  broker_stop
  local crashed=$mode
  grep -q " K " "$journal" && crashed="sync#$arg"
  [[ $mode == startup ]] && crashed="sync#$arg-at-startup"
  echo "cycle=$n crash=$crashed acked_in_cycle=$(wc -l <"$T/acked.$n") $applied $verified restart_ms=$((t1 - t0))" |
    tee -a "$PL_FIGURES"
  rm -f "$journal" "$journal.blob"
}
