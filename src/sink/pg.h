/* pg.h -- the PostgreSQL sink backend (pg.c). */
#ifndef SL_SINK_PG_H
#define SL_SINK_PG_H

#include <libpq-fe.h>
#include <signal.h>

#include "sink/sink.h"

typedef struct sl_pg_sink {
    const char *dsn;        /* libpq connection string */
    const char *table;      /* one identifier (quoted as given) */
    const char *upsert_key; /* column with a unique index, or NULL for plain inserts */
    sl_sink_map_t map;      /* columns <- JSON paths */
    int kind[64];           /* SL_COL_* of each mapped column, learned at connect */
    PGconn *conn;
    bool fatal; /* a setup error retrying cannot fix */
} sl_pg_sink_t;

extern const sl_sink_backend_t sl_pg_backend;
/* Closes the connection and frees the mapping. */
void sl_pg_sink_fini(sl_pg_sink_t *p);

#endif
