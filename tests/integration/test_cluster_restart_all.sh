#!/usr/bin/env bash
# Every broker of a cluster killed at once, then restarted while producers already ask for the
# topic (Metadata with auto-creation on): a broker must not create a topic before it has
# replayed the cluster's metadata, or it replaces the topic it had, files included, and
# acknowledged records are lost (found by bench/run-cluster-faults). Checks that every record
# acknowledged with acks=all before the kill is read back afterwards, and that the idempotent
# producers after the restart get producer ids no producer had before it (nor 0: blocks are
# striped by node id and handed out only after the metadata caught up; an id given out again
# would make the new producer's batches look like the old one's duplicates).
source "$(dirname "$0")/lib/cluster.sh"
cluster_init 3 --set broker.session.timeout.ms=1500 --set broker.heartbeat.interval.ms=200 \
  --set auto.create.topics.enable=true
for i in 1 2 3; do node_start $i; done
wait_leader 1 >/dev/null
for i in 1 2 3; do wait_registered $i; done
"$SLUICE" topic create all -p 3 -r 3 -b "127.0.0.1:${NODE_PORT[1]}" >/dev/null || fail "create"
boot=127.0.0.1:${NODE_PORT[1]},127.0.0.1:${NODE_PORT[2]},127.0.0.1:${NODE_PORT[3]}
seq 1 3000 | kcat -P -b "$boot" -t all -X acks=all -X message.timeout.ms=60000 \
  -X enable.idempotence=true || fail "produce before the kill"
for i in 1 2 3; do node_kill $i; done
# "partition base_offset producer_id" of every batch in the replicas' files of topic `all`
# (RecordBatch v2: producerId is the int64 at byte 43 of a batch).
pids() {
  $PY - "$T" <<'PYEOF'
import glob, os, struct, sys
seen = set()
for path in glob.glob(os.path.join(sys.argv[1], "n*", "all-*", "*.log")):
    part = path.split(os.sep)[-2].rsplit("-", 1)[1]
    data = open(path, "rb").read()
    pos = 0
    while pos + 51 <= len(data):
        base, length = struct.unpack_from(">qi", data, pos)
        if length < 49 or pos + 12 + length > len(data):
            break
        seen.add((part, base, struct.unpack_from(">q", data, pos + 43)[0]))
        pos += 12 + length
for p, b, pid in sorted(seen):
    print(p, b, pid)
PYEOF
}
pids >"$T/pids.before"
[[ -s $T/pids.before ]] || fail "no batches found in the replicas' files before the restart"
# Restart all three; a producer per broker asks for the topic as soon as its listener is up.
pids=()
for i in 1 2 3; do
  node_start $i
  (echo "after-$i" | timeout $((60 * mult)) kcat -P -b "127.0.0.1:${NODE_PORT[$i]}" -t all \
     -X acks=all -X message.timeout.ms=50000 -X enable.idempotence=true >/dev/null 2>&1 || true) &
  pids+=($!)
done
wait_leader 1 >/dev/null
for i in 1 2 3; do wait_registered $i; done
wait "${pids[@]}"
boot=127.0.0.1:${NODE_PORT[1]},127.0.0.1:${NODE_PORT[2]},127.0.0.1:${NODE_PORT[3]}
got=""
for _ in $(seq 1 $((60 * mult))); do
  got=$(timeout $((30 * mult)) kcat -C -b "$boot" -t all -e -q 2>/dev/null | grep -cE '^[0-9]+$' || true)
  [[ $got -ge 3000 ]] && break
  sleep 1
done
[[ $got -eq 3000 ]] || {
  grep -h "created\|caught up" "$T"/n*.log | tail -n 12 >&2
  fail "$got of the 3000 acknowledged records read back after every broker was killed"
}
grep -q 'msg="metadata caught up with the quorum"' "$T/n1.log" || fail "node 1 never caught up"
cluster_stop
pids >"$T/pids.after"
old_ids=$(awk '{print $3}' "$T/pids.before" | sort -u | tr '\n' ' ')
new_ids=$(grep -vxF -f "$T/pids.before" "$T/pids.after" | awk '{print $3}' | sort -u | tr '\n' ' ')
echo "producer ids before the restart: $old_ids; after: $new_ids"
[[ -n $new_ids ]] || fail "no batch written after the restart"
for id in $new_ids; do
  [[ $id -gt 0 ]] || fail "a producer after the restart got producer id $id"
  [[ " $old_ids " == *" $id "* ]] && fail "producer id $id was handed out again after the restart"
done
echo ok
