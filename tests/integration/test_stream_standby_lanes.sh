#!/usr/bin/env bash
# Standby copies per instance, not per lane: one instance of word count with three lanes
# (--threads 3) and num.standby.replicas=1 over 6 partitions. Each lane is a group member running
# a third of the tasks; an instance keeps at most one copy of each task it does not run on that
# lane (one keeper lane per task), so /metrics shows every counting task's copy at most once
# across the lanes (each lane copying every task it did not run kept two copies of each), and
# at least the three copies the keepers of the lanes' task pairs must hold. The counts stay
# exactly once.
source "$(dirname "$0")/lib/broker.sh"
source "$(dirname "$0")/lib/stream.sh"
broker_start --set group.initial.rebalance.delay.ms=0
wc_start wsl 6 500
"$SLUICE" run "$PWD/$SLUICE_BUILD/examples/wordcount.so" --app-id wsl -b "$BROKER" --threads 3 \
  --admin 127.0.0.1:0 --set commit.interval.ms=500 --set num.standby.replicas=1 \
  -X session.timeout.ms=6000 -X heartbeat.interval.ms=500 >>"$T/a.log" 2>&1 &
a=$!
wc_produce 600 1000 1 2
A=$(admin_addr "$T/a.log" "no admin port in the log") || exit 1
copies() { # the task labels of the instance's standby series, one per line (duplicates kept)
  metrics "$A" | sed -nE 's/^sluice_stream_standby_lag_records\{app_id="wsl",lane="[0-9]+",task="(1_[0-9]+)"\} [0-9]+$/\1/p'
}
lanes_running() { # how many lanes run counting tasks (before all three do, copies cannot clash)
  metrics "$A" |
    sed -nE 's/^sluice_stream_records_in_total\{app_id="wsl",lane="([0-9]+)",task="1_[0-9]+"\} .*/\1/p' |
    sort -u | wc -l
}
settled() { # all three lanes run tasks, at least 3 copies, no task copied twice
  local c
  (( $(lanes_running) == 3 )) || return 1
  c=$(copies) || return 1
  (( $(wc -l <<<"$c") >= 3 )) && [[ -z $(sort <<<"$c" | uniq -d) ]]
}
ok=
for _ in $(seq $((300 * mult))); do
  if settled; then sleep 2; settled && { ok=1; break; }; fi
  sleep 0.2
done
echo "copies: $(copies | sort | tr '\n' ' ')"
[[ -n $ok ]] || { tail -n 20 "$T/a.log"; fail "standby copies did not settle at one per task"; }
wait "$producer" || fail "producer failed"
wc_verify $((90 * mult)) "$T/a.log"
wc_stop a
broker_stop
echo ok
