# fault_cluster.sh -- a 3-broker cluster whose brokers reach each other only through
# fault_proxy.py, for the fault tests (test_cluster_faults.sh, bench/run-cluster-faults).
#   source tests/integration/lib/fault_cluster.sh   (sources cluster.sh: fail, wait_leader, ...)
#   fault_init N [--set k=v ...]  fixed ports per broker: Kafka KPORT[I], Raft; a proxy front for
#                                 each (NODE_PORT[I] is the Kafka front, the advertised address);
#                                 broker I's quorum list names its own Raft port and the others'
#                                 proxy fronts, so every broker-to-broker byte crosses the proxy
#   node_start I                  starts broker I (pid in $T/nI.pid, for the proxy)
#   link_cut SRC DST / link_heal SRC DST / heal_all   (node ids; 0 = clients)
#   isolate I                     cuts I from every other broker both ways (clients still reach
#                                 it directly at KPORT[I], and through the proxy)
# Clients given NODE_PORT go through the proxy like the brokers; cuts between brokers leave them.
source "$(dirname "${BASH_SOURCE[0]}")/cluster.sh"
declare -a KPORT RPORT RFRONT

fault_init() {
  local n=$1 i j ports
  shift
  NODE_FLAGS=("$@")
  N_NODES=$n
  ports=($($PY -c "
import socket
ss = [socket.socket() for _ in range(4 * $n)]
for s in ss: s.bind(('127.0.0.1', 0))
print(' '.join(str(s.getsockname()[1]) for s in ss))"))
  local fronts=()
  for i in $(seq 1 "$n"); do
    KPORT[$i]=${ports[$((4 * i - 4))]}
    RPORT[$i]=${ports[$((4 * i - 3))]}
    NODE_PORT[$i]=${ports[$((4 * i - 2))]}
    RFRONT[$i]=${ports[$((4 * i - 1))]}
    fronts+=("${NODE_PORT[$i]}=$i:${KPORT[$i]}" "${RFRONT[$i]}=$i:${RPORT[$i]}")
  done
  : >"$T/cuts"
  $PY "$(dirname "${BASH_SOURCE[0]}")/../fault_proxy.py" "$T" "${fronts[@]}" >"$T/proxy.log" 2>&1 &
  PROXY_PID=$!
  for _ in $(seq 1 $((200 * mult))); do
    grep -q ready "$T/proxy.log" 2>/dev/null && break
    sleep 0.05
  done
  grep -q ready "$T/proxy.log" || fail "the fault proxy did not start: $(cat "$T/proxy.log")"
}

node_start() {
  local i=$1 j q=""
  for j in $(seq 1 "$N_NODES"); do
    if [[ $j == "$i" ]]; then q+="${q:+,}$j@127.0.0.1:${RPORT[$j]}"; else q+="${q:+,}$j@127.0.0.1:${RFRONT[$j]}"; fi
  done
  rm -f "$T/n$i.ports"
  "$SLUICE" broker --data-dir "$T/n$i" --listen "127.0.0.1:${KPORT[$i]}" --admin-listen none \
      --port-file "$T/n$i.ports" --node-id "$i" --controller-quorum "$q" \
      --set "advertised.listeners=127.0.0.1:${NODE_PORT[$i]}" \
      --set group.initial.rebalance.delay.ms=0 "${NODE_FLAGS[@]}" >>"$T/n$i.log" 2>&1 &
  NODE_PID[$i]=$!
  echo "${NODE_PID[$i]}" >"$T/n$i.pid"
  for _ in $(seq 1 $((600 * mult))); do
    [[ -s "$T/n$i.ports" ]] && return 0
    kill -0 "${NODE_PID[$i]}" 2>/dev/null || { tail -n 20 "$T/n$i.log" >&2; fail "node $i exited at start"; }
    sleep 0.05
  done
  fail "node $i did not write its port file"
}

link_cut() { grep -qx "$1 $2" "$T/cuts" || echo "$1 $2" >>"$T/cuts"; }
link_heal() { grep -vx "$1 $2" "$T/cuts" >"$T/cuts.new" || true; mv "$T/cuts.new" "$T/cuts"; }
heal_all() { : >"$T/cuts"; }
isolate() {
  local j
  for j in $(seq 1 "$N_NODES"); do
    [[ $j == "$1" ]] && continue
    link_cut "$1" "$j"
    link_cut "$j" "$1"
  done
}

fault_cleanup() {
  local rc=$?
  if [[ -n "${PROXY_PID:-}" ]]; then kill "$PROXY_PID" 2>/dev/null || true; fi
  local p # the producer and consumer a failed run leaves behind
  for p in $(jobs -p); do [[ $p == "${PROXY_PID:-}" ]] || kill -9 "$p" 2>/dev/null || true; done
  (exit $rc)
  cluster_cleanup
}
trap fault_cleanup EXIT
