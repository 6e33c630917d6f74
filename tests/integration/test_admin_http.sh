#!/usr/bin/env bash
# The admin endpoints and the HTTP layer (http.h) over loopback sockets, without a broker:
# build/itests/admin_smoke serves and queries them in one process and exits 0 when all is well.
set -u
SLUICE_BUILD=${SLUICE_BUILD:-build}
exec "$SLUICE_BUILD/itests/admin_smoke"
