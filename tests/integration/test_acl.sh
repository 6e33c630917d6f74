#!/usr/bin/env bash
# ACLs (issue 12 §3): a broker with authorizer.class.name set and super.users=User:admin, users
# on a SASL_PLAINTEXT listener (PLAIN). acl_clients.py: kafka-python's KafkaAdminClient creates,
# describes and deletes ACLs; confluent-kafka-python checks allow/deny per topic (literal and
# prefixed), a consumer group, deny winning, Metadata hiding topics, a transactional producer
# (a denied transactional id gets TRANSACTIONAL_ID_AUTHORIZATION_FAILED). Then kcat as a denied
# user, `sluice acl add|list|remove` over SASL, the anonymous PLAINTEXT principal refused admin
# operations, and after a restart the same checks pass on the ACLs replayed from the metadata log.
source "$(dirname "$0")/lib/broker.sh"
L=PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0
AUTHZ=(--set authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
       --set super.users=User:admin)
start() {
  broker_start --set listeners=$L "$@"
  SP=127.0.0.1:$(sed -n 's/^kafka.SASL_PLAINTEXT=//p' "$T/ports")
}
# Users first, without an authorizer (the anonymous PLAINTEXT principal may then alter them).
start
for u in admin:adm1n alice:al1ce bob:b0b eve:3ve; do
  "$SLUICE" user add "${u%%:*}" --password "${u#*:}" -b "$BROKER" >/dev/null || fail "user add $u"
done
broker_stop

start "${AUTHZ[@]}"
$PY "$(dirname "$0")/acl_clients.py" "$SP" setup || fail "ACL checks with real clients"

# kcat as eve (no ACL): the topic is hidden and producing fails with an authorization error.
KE=(-X security.protocol=sasl_plaintext -X sasl.mechanisms=PLAIN -X sasl.username=eve -X sasl.password=3ve)
md=$(kcat -b "$SP" "${KE[@]}" -L)
[[ $md != *'topic "orders"'* ]] || fail "kcat: eve sees orders: $md"
out=$(echo x | kcat -b "$SP" "${KE[@]}" -P -t orders 2>&1) && fail "kcat: eve produced to orders"
[[ $out == *"uthorization"* ]] || fail "kcat: not an authorization error: $out"

# The anonymous principal on the PLAINTEXT listener is no super user: admin operations refused.
if "$SLUICE" user add mallory --password x -b "$BROKER" 2>/dev/null; then
  fail "anonymous principal changed SCRAM credentials"; fi
if "$SLUICE" acl add allow User:eve read topic:orders -b "$BROKER" 2>/dev/null; then
  fail "anonymous principal created an ACL"; fi

# sluice acl add|list|remove as admin over SASL.
KA=(-b "$SP" -X security.protocol=sasl_plaintext -X sasl.mechanisms=PLAIN -X sasl.username=admin
    -X sasl.password=adm1n)
"$SLUICE" acl add allow User:eve describe 'topic:logs.*' "${KA[@]}" || fail "acl add"
"$SLUICE" acl add deny User:eve write topic:orders 127.0.0.9 "${KA[@]}" || fail "acl add with host"
list=$("$SLUICE" acl list "${KA[@]}")
[[ $list == *"allow User:eve describe topic:logs.* *"* ]] || fail "acl list: $list"
[[ $list == *"deny User:eve write topic:orders 127.0.0.9"* ]] || fail "acl list: $list"
[[ $list == *"allow User:alice read group:g-alice *"* ]] || fail "acl list: $list"
[[ $("$SLUICE" acl list topic:orders User:bob "${KA[@]}") == "deny User:bob read topic:orders *" ]] \
  || fail "acl list with a resource and principal"
[[ $("$SLUICE" acl list --json 'topic:logs.*' "${KA[@]}" | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))') == 2 ]] \
  || fail "acl list --json"
[[ $(kcat -b "$SP" "${KE[@]}" -L) == *'topic "logs.app"'* ]] || fail "eve's new DESCRIBE ACL not in force"
"$SLUICE" acl remove any User:eve any topic:orders "${KA[@]}" | grep -q "removed: deny User:eve write" \
  || fail "acl remove"
[[ $("$SLUICE" acl list topic:orders User:eve "${KA[@]}") == "" ]] || fail "removed ACL still listed"
if "$SLUICE" acl remove any User:eve any topic:orders "${KA[@]}" 2>/dev/null; then
  fail "removing nothing succeeded"; fi
if "$SLUICE" acl add allow alice read topic:x "${KA[@]}" 2>/dev/null; then
  fail "a principal without User: accepted"; fi
kill -0 "$BROKER_PID" || fail "broker died"
broker_stop

# The ACLs are in the metadata log: after a restart every check passes again.
start "${AUTHZ[@]}"
$PY "$(dirname "$0")/acl_clients.py" "$SP" after-restart || fail "ACL checks after a restart"
[[ $(kcat -b "$SP" "${KE[@]}" -L) == *'topic "logs.app"'* ]] || fail "eve's ACL lost at restart"
broker_stop
# Every version of the three ACL APIs, on the wire, with the anonymous principal a super user.
start "${AUTHZ[@]}" --set "super.users=User:admin;User:ANONYMOUS"
$PY "$(dirname "$0")/acl_wire.py" "$BROKER" || fail "ACL APIs at every version"
# Metadata by topic id (v10+) names only topics the principal may DESCRIBE.
$PY "$(dirname "$0")/metadata_id_acl.py" "$BROKER" "$SP" || fail "Metadata by id under ACLs"
broker_stop
echo "PASS test_acl"
