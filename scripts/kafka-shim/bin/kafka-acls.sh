#!/usr/bin/env bash
# kafka-acls.sh -- the subset of Kafka's kafka-acls.sh that librdkafka's test suite runs (0109,
# 0115, 0119: `--add`/`--remove [--force]` of one allow or deny entry on a topic, group or the
# cluster), done with `sluice acl`. scripts/run-librdkafka-suite points KAFKA_PATH here when
# SUITE_ACLS=1, so those tests run without Java. Anything else is refused with exit 2.
#   kafka-acls.sh --bootstrap-server H:P --add|--remove [--force]
#     --allow-principal P | --deny-principal P  --operation OP  [--allow-host H | --deny-host H]
#     --topic T | --group G | --cluster
set -euo pipefail
here=$(cd "$(dirname "$0")/../../.." && pwd)
SLUICE=${SLUICE:-$here/build/sluice}
die() { echo "kafka-acls.sh (sluice shim): $*" >&2; exit 2; }
action="" kind="" principal="" op="" host="*" resource="" bootstrap=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --bootstrap-server) bootstrap=$2; shift 2 ;;
    --add) action=add; shift ;;
    --remove) action=remove; shift ;;
    --force) shift ;;
    --allow-principal) kind=allow; principal=$2; shift 2 ;;
    --deny-principal) kind=deny; principal=$2; shift 2 ;;
    --allow-host | --deny-host) host=$2; shift 2 ;;
    --operation) op=$2; shift 2 ;;
    --topic) resource="topic:$2"; shift 2 ;;
    --group) resource="group:$2"; shift 2 ;;
    --cluster) resource=cluster; shift ;;
    *) die "unsupported argument '$1'" ;;
  esac
done
[[ -n $action && -n $kind && -n $principal && -n $op && -n $resource && -n $bootstrap ]] ||
  die "need --bootstrap-server, --add or --remove, a principal, --operation and a resource"
# Kafka's operation names are CamelCase (DescribeConfigs); sluice takes snake_case.
op=$(sed -E 's/([a-z])([A-Z])/\1_\2/g' <<<"$op" | tr '[:upper:]' '[:lower:]')
exec "$SLUICE" acl "$action" "$kind" "$principal" "$op" "$resource" "$host" -b "$bootstrap"
