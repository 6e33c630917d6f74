#!/usr/bin/env bash
# serial: a live query in a pseudo-terminal; its rows are timed against a deadline
# The `sluice sql` shell through a pseudo-terminal: CREATE STREAM persists in the catalog file,
# a SELECT ... EMIT CHANGES prints its rows live as a table, Ctrl-C stops it and returns to the
# prompt, a bad column is refused with its position, quit exits 0; `sluice run` then uses the
# same catalog file.
source "$(dirname "$0")/lib/broker.sh"
broker_start --set group.initial.rebalance.delay.ms=0
HERE=$(cd "$(dirname "$0")" && pwd)
"$SLUICE" topic create clicks -p 2 -b "$BROKER" >/dev/null
"$SLUICE" topic create click-pages -p 1 -b "$BROKER" >/dev/null
printf '%s\n' '{"user":"ann","page":"/home","ms":1000}' '{"user":"x","page":"skip","ms":1001}' \
  '{"user":"bob","page":"/cart","ms":1002}' | "$SLUICE" produce clicks -b "$BROKER" >/dev/null
export HOME=$T
HOME=$T $PY "$HERE/sql_shell.py" "$SLUICE" "$BROKER" "$T/catalog.sql" $((60 * mult)) ||
  fail "the shell session failed"
grep -q "CREATE STREAM clicks" "$T/catalog.sql" || fail "the catalog file lacks the stream"
[[ -s "$T/.sluice_sql_history" ]] || fail "no shell history was written"
# A persistent query over the shell's catalog.
cat >"$T/pages.sql" <<'SQL'
INSERT INTO pages SELECT page FROM clicks;
SQL
SLUICE_SQL_CATALOG=$T/catalog.sql "$SLUICE" run "$T/pages.sql" --app-id pages -b "$BROKER" \
  >"$T/run.log" 2>&1 && fail "an INSERT into an unknown stream ran"
grep -q "line 1, column 1: unknown stream 'pages'" "$T/run.log" || { cat "$T/run.log"; fail "no positioned error"; }
broker_stop
echo ok
