# gateway.sh -- start and stop `sluice gateway` in front of the test's broker (source broker.sh
# first). gateway_start [--config FILE] [...] sets GW (host:port) and GW_PID; gateway_stop sends
# SIGTERM and fails on a non-zero exit or errors in $T/gateway.log. A test that fails (or exits)
# with the gateway still running gets it killed by the EXIT trap, before broker.sh's cleanup.
gateway_cleanup() {
  local rc=$?
  if [[ -n "${GW_PID:-}" ]] && kill -0 "$GW_PID" 2>/dev/null; then
    kill -9 "$GW_PID" 2>/dev/null || true
    [[ -s "$T/gateway.log" ]] && { echo "--- gateway log ($T/gateway.log) ---" >&2; tail -n 20 "$T/gateway.log" >&2; }
  fi
  # broker.sh's cleanup reads the test's status from $? (and set -e is on here)
  if [[ $rc -eq 0 ]]; then cleanup; else (exit "$rc") || cleanup; fi
}
trap gateway_cleanup EXIT

gateway_start() {
  rm -f "$T/gw.ports"
  "$SLUICE" gateway -b "$BROKER" --listen 127.0.0.1:0 --port-file "$T/gw.ports" "$@" \
      >>"$T/gateway.log" 2>&1 &
  GW_PID=$!
  for _ in $(seq 1 $((600 * mult))); do
    [[ -s "$T/gw.ports" ]] && break
    kill -0 "$GW_PID" 2>/dev/null || { cat "$T/gateway.log" >&2; fail "gateway exited at start"; }
    sleep 0.05
  done
  [[ -s "$T/gw.ports" ]] || fail "gateway did not write its port file"
  GW=127.0.0.1:$(sed -n 's/^http=//p' "$T/gw.ports")
  export GW
}

gateway_stop() {
  kill -TERM "$GW_PID" 2>/dev/null || true
  local rc=0
  wait "$GW_PID" || rc=$?
  GW_PID=
  [[ $rc -eq 0 ]] || { tail -n 30 "$T/gateway.log" >&2; fail "gateway exited with status $rc"; }
  if grep -E "runtime error|Sanitizer|assertion failed" "$T/gateway.log" >&2; then
    fail "gateway log has errors (see above)"
  fi
}

# The cluster id the gateway fronts (GET /v3/clusters): gw_cluster [BASE_URL [curl args...]]
gw_cluster() {
  local base=${1:-http://$GW}; shift || true
  curl -sS --max-time $((30 * mult)) "$@" "$base/v3/clusters" |
    $PY -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["cluster_id"])'
}

# curl with the status on the last line: gw_curl METHOD PATH [curl args...]
gw_curl() {
  local method=$1 path=$2; shift 2
  curl -sS --max-time $((30 * mult)) -X "$method" -w '\n%{http_code}' "$@" "http://$GW$path"
}
