# cluster.sh -- start, kill and restart a cluster of sluice brokers with a Raft metadata quorum on
# free loopback ports, for one test or benchmark.
#   source tests/integration/lib/cluster.sh
#   cluster_init N [--set k=v ...]  picks N free Raft ports; QUORUM=1@127.0.0.1:P1,...; the extra
#                                   flags go to every node
#   node_start I                    starts node I (data in $T/nI); sets NODE_PORT[I], NODE_PID[I]
#   node_kill I                     kill -9
#   node_stop I                     SIGTERM, wait, fail on a non-zero exit
#   cluster_status I                `sluice cluster status --json` asked of node I (with the
#                                   -X client settings in CLUSTER_CLI, for secured listeners)
#   wait_leader I [EXCEPT]          waits (up to 30 s) until node I knows a quorum leader other
#                                   than EXCEPT; prints its id
#   wait_registered I               waits (up to 30 s) until every running node has node I
#                                   registered, alive, at its current Kafka port (a restarted
#                                   node gets a new port: clients told the old one would stall)
#   cluster_stop                    stops every running node
set -euo pipefail
SLUICE_BUILD=${SLUICE_BUILD:-build}
SLUICE=${SLUICE:-$PWD/$SLUICE_BUILD/sluice}
T=${T:-$(mktemp -d /tmp/sluice-cluster.XXXXXX)}
PY=/usr/bin/python3
mult=${SL_TEST_TIMEOUT_MULT:-1}
declare -a NODE_PID NODE_PORT
NODE_FLAGS=()
CLUSTER_CLI=()

fail() { echo "FAIL: $*" >&2; exit 1; }

cluster_init() {
  local n=$1; shift
  NODE_FLAGS=("$@")
  local ports
  ports=$($PY -c "
import socket
ss = [socket.socket() for _ in range($n)]
for s in ss: s.bind(('127.0.0.1', 0))
print(' '.join(str(s.getsockname()[1]) for s in ss))")
  local i=1 q=""
  for p in $ports; do q+="${q:+,}$i@127.0.0.1:$p"; i=$((i + 1)); done
  QUORUM=$q
  N_NODES=$n
}

node_start() {
  local i=$1
  rm -f "$T/n$i.ports"
  "$SLUICE" broker --data-dir "$T/n$i" --listen 127.0.0.1:0 --admin-listen none \
      --port-file "$T/n$i.ports" --node-id "$i" --controller-quorum "$QUORUM" \
      --set group.initial.rebalance.delay.ms=0 "${NODE_FLAGS[@]}" >>"$T/n$i.log" 2>&1 &
  NODE_PID[$i]=$!
  for _ in $(seq 1 $((600 * mult))); do
    [[ -s "$T/n$i.ports" ]] && break
    kill -0 "${NODE_PID[$i]}" 2>/dev/null || { tail -n 20 "$T/n$i.log" >&2; fail "node $i exited at start"; }
    sleep 0.05
  done
  [[ -s "$T/n$i.ports" ]] || fail "node $i did not write its port file"
  NODE_PORT[$i]=$(sed -n 's/^kafka=//p' "$T/n$i.ports")
}

node_kill() {
  kill -9 "${NODE_PID[$1]}" 2>/dev/null || true
  wait "${NODE_PID[$1]}" 2>/dev/null || true
  NODE_PID[$1]=""
}

node_stop() {
  local rc=0
  kill -TERM "${NODE_PID[$1]}" 2>/dev/null || true
  wait "${NODE_PID[$1]}" || rc=$?
  NODE_PID[$1]=""
  [[ $rc -eq 0 ]] || { tail -n 30 "$T/n$1.log" >&2; fail "node $1 exited with status $rc"; }
}

cluster_status() {
  "$SLUICE" cluster status --json -b "127.0.0.1:${NODE_PORT[$1]}" "${CLUSTER_CLI[@]}" 2>/dev/null ||
    true
}

# Prints the leader id node $1 knows, or 0.
leader_of() {
  cluster_status "$1" | $PY -c "
import json, sys
try: print(json.load(sys.stdin)['quorum']['leader'])
except Exception: print(0)"
}

wait_leader() {
  local i=$1 except=${2:-0} l
  for _ in $(seq 1 $((600 * mult))); do
    l=$(leader_of "$i")
    if [[ "$l" != 0 && "$l" != "$except" ]]; then echo "$l"; return 0; fi
    sleep 0.05
  done
  fail "node $i saw no quorum leader (other than $except) within 30 s"
}

wait_registered() {
  local i=$1 j ok
  for _ in $(seq 1 $((300 * mult))); do
    ok=1
    for j in $(seq 1 "$N_NODES"); do
      [[ -n "${NODE_PID[$j]:-}" ]] || continue
      cluster_status "$j" | $PY -c "
import json, sys
try: bs = json.load(sys.stdin)['brokers']
except Exception: sys.exit(1)
sys.exit(0 if any(b['id'] == $i and b['alive'] and b['port'] == ${NODE_PORT[$i]} for b in bs) else 1)
" || { ok=0; break; }
    done
    [[ $ok == 1 ]] && return 0
    sleep 0.1
  done
  fail "node $i not registered at port ${NODE_PORT[$i]} everywhere within 30 s"
}

# "LEADER ISR..." of topic $2 partition 0 as node $1's Metadata has it (ISR ids sorted; empty
# when the broker does not answer). kcat gets the CLUSTER_CLI settings (secured listeners).
pstate() {
  kcat -L -J -m 10 -t "$2" -b "127.0.0.1:${NODE_PORT[$1]}" "${CLUSTER_CLI[@]}" 2>/dev/null | $PY -c "
import json, sys
for t in json.load(sys.stdin)['topics']:
    for p in t.get('partitions', []):
        if p['partition'] == 0:
            print(p['leader'], ' '.join(str(i['id']) for i in sorted(p.get('isrs', []), key=lambda r: r['id'])))
" || true
}

# wait_for PID SECONDS WHAT [LOG]: `wait PID` (its status), but a client still running after
# SECONDS (scaled) is killed and the test fails naming it, after LOG's tail: one stuck inside
# librdkafka would otherwise hold the test until the runner's limit with nothing said.
wait_for() {
  local pid=$1 s=$2 what=$3 log=${4:-}
  for _ in $(seq 1 $((s * 10 * mult))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid" 2>/dev/null || true
    if [[ -n $log ]]; then tail -n 30 "$log" >&2; fi
    fail "$what still running after ${s} s"
  fi
  wait "$pid"
}

wait_pstate() { # node topic regex: until node's view of topic-0 matches (40 s, scaled)
  for _ in $(seq 1 $((400 * mult))); do
    pstate "$1" "$2" | grep -qE "$3" && return 0
    sleep 0.1
  done
  fail "node $1: $2-0 never matched '$3' (now: $(pstate "$1" "$2"))"
}

cluster_stop() {
  local i
  for i in $(seq 1 "${N_NODES:-0}"); do
    if [[ -n "${NODE_PID[$i]:-}" ]]; then node_stop "$i"; fi
  done
}

cluster_cleanup() {
  local rc=$? i
  # Clients the test left running in the background (a producer of a failed test) go first.
  local j; for j in $(jobs -p); do kill "$j" 2>/dev/null || true; done
  for i in $(seq 1 "${N_NODES:-0}"); do
    if [[ -n "${NODE_PID[$i]:-}" ]] && kill -0 "${NODE_PID[$i]}" 2>/dev/null; then
      kill -9 "${NODE_PID[$i]}"
    fi
  done
  if [[ $rc -ne 0 ]]; then
    for i in $(seq 1 "${N_NODES:-0}"); do
      echo "--- node $i log ($T/n$i.log) ---" >&2; tail -n 25 "$T/n$i.log" >&2 || true
    done
  fi
  [[ -n "${SL_TEST_KEEP:-}" ]] || rm -rf "$T"
  exit $rc
}
trap cluster_cleanup EXIT
