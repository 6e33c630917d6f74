# stream.sh -- helpers for the stream engine's tests; source it after broker.sh.
#   committed_lines TOPIC     records of TOPIC visible under read_committed
#   wait_committed TOPIC N    until TOPIC holds at least N of them (fails after 60 s x mult)
committed_lines() {
  timeout 20 "$SLUICE" consume "$1" -b "$BROKER" -o beginning -e \
    -X isolation.level=read_committed 2>/dev/null | wc -l
}

wait_committed() {
  for _ in $(seq $((300 * mult))); do
    (( $(committed_lines "$1") >= $2 )) && return 0
    sleep 0.2
  done
  fail "no progress: $1 has fewer than $2 committed records"
}
