# postgres.sh -- a throwaway PostgreSQL server for one test (source after broker.sh, which sets $T).
#   pg_start     initdb into $T/pg (first call) and start on a free loopback port, unix sockets in
#                $T/pg; sets PG_PORT, PG_DSN. Runs as the `postgres` system user when root (the
#                server refuses to run as root).
#   pg_stop [MODE]   pg_ctl stop -m MODE (default fast)
#   psqlc SQL    runs SQL, prints unaligned tuples
# Tests using it are skipped (exit 0 with a SKIP line) when PostgreSQL is not installed.
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}

pg_have() { [[ -n "$PG_BIN" && -x "$PG_BIN/initdb" ]]; }

pg_as() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_start() {
  local d=$T/pg
  if [[ ! -d $d/data ]]; then
    mkdir -p "$d"
    chmod o+x "$T"
    [[ $(id -u) -eq 0 ]] && chown postgres "$d"
    pg_as "$PG_BIN/initdb" -D "$d/data" -A trust -U postgres --no-sync >"$T/initdb.log" 2>&1 ||
      { cat "$T/initdb.log" >&2; fail "initdb"; }
    PG_PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  fi
  pg_as "$PG_BIN/pg_ctl" -D "$d/data" -l "$d/log" -w -t $((60 * mult)) start \
    -o "-p $PG_PORT -k $d -c listen_addresses=127.0.0.1 -c fsync=off" \
    >/dev/null || { tail -n 20 "$d/log" >&2; fail "postgres did not start"; }
  PG_DSN="host=127.0.0.1 port=$PG_PORT dbname=postgres user=postgres connect_timeout=5"
  export PG_PORT PG_DSN
}

pg_stop() {
  pg_as "$PG_BIN/pg_ctl" -D "$T/pg/data" -m "${1:-fast}" -w stop >/dev/null 2>&1 || true
}

psqlc() {
  psql "$PG_DSN" -X -q -At -v ON_ERROR_STOP=1 -c "$1"
}
