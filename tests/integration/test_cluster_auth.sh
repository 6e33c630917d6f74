#!/usr/bin/env bash
# The brokers' private API (key 9000: proposals, heartbeats, epoch queries, status) is behind the
# same gates as every Kafka API: on a SASL listener nothing is answered before authentication,
# and with an authorizer a principal needs CLUSTER_ACTION on the cluster (DESCRIBE for status).
# A one-voter cluster whose brokers talk over the PLAINTEXT listener (User:ANONYMOUS a super
# user, as docs/security.md describes) and clients on SASL_PLAINTEXT.
source "$(dirname "$0")/lib/cluster.sh"
cluster_init 1 --set listeners=PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0 \
  --set default.replication.factor=1
# Users first, before the authorizer is on.
node_start 1
wait_leader 1 >/dev/null
wait_registered 1
for u in admin:adm1n eve:3ve; do
  "$SLUICE" user add "${u%%:*}" --password "${u#*:}" -b "127.0.0.1:${NODE_PORT[1]}" >/dev/null ||
    fail "user add $u"
done
node_stop 1
NODE_FLAGS+=(--set authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
             --set "super.users=User:admin;User:ANONYMOUS")
node_start 1
wait_leader 1 >/dev/null
wait_registered 1
SP=127.0.0.1:$(sed -n 's/^kafka.SASL_PLAINTEXT=//p' "$T/n1.ports")
$PY "$(dirname "$0")/cluster_auth.py" "$SP" || fail "cluster API gates"
grep -q 'err=CLUSTER_AUTHORIZATION_FAILED msg="cluster request refused"' "$T/n1.log" ||
  fail "refusal not logged"
# The broker itself still works (its own heartbeats go over PLAINTEXT).
"$SLUICE" topic create after -p 1 -b "127.0.0.1:${NODE_PORT[1]}" >/dev/null || fail "create after"
cluster_stop
echo ok
