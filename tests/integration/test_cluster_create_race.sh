#!/usr/bin/env bash
# Two brokers of a cluster create the same topic at once (docs/cluster.md, "Topics"): both
# creates commit, the first in the log wins on every broker, and the other proposer drops its
# own copy. Before, a broker whose Metadata auto-created a name in the moment between another
# broker's CreateTopics committing and that create reaching it kept its own one-partition copy
# for good (the topic had 4 partitions elsewhere): consumers saw the count flap and offset
# queries for the missing partitions failed forever (test_cluster_groups hung on it).
# Then two brokers grow one topic at once with CreatePartitions (see below).
source "$(dirname "$0")/lib/cluster.sh"
cluster_init 3
for i in 1 2 3; do node_start $i; done
wait_leader 1 >/dev/null
for i in 1 2 3; do wait_registered $i; done
out=$(cd "$(dirname "$0")" && $PY cluster_create_race.py "127.0.0.1:${NODE_PORT[1]}" \
  "127.0.0.1:${NODE_PORT[2]}" "127.0.0.1:${NODE_PORT[3]}" 30) || { echo "$out" >&2; fail "create race"; }
echo "$out"
# Two CreatePartitions of one topic at once on two brokers (2 -> 4 and 2 -> 6): the first in the
# log wins, the other answers INVALID_PARTITIONS, and no broker's placement of the new
# partitions is overwritten by the loser's.
out=$(cd "$(dirname "$0")" && $PY cluster_create_race.py --partitions "127.0.0.1:${NODE_PORT[1]}" \
  "127.0.0.1:${NODE_PORT[2]}" "127.0.0.1:${NODE_PORT[3]}" 10) || { echo "$out" >&2; fail "partitions race"; }
echo "$out"
cluster_stop
for i in 1 2 3; do
  if grep -E "ERROR|runtime error|Sanitizer|assertion failed" "$T/n$i.log" >&2; then
    fail "node $i log has errors"
  fi
done
echo ok
