/* admin.h -- the admin HTTP endpoints: GET /health, GET /ready, GET /metrics (Prometheus). */
#ifndef SL_ADMIN_H
#define SL_ADMIN_H

#include <stdbool.h>

#include "net/loop.h"

typedef struct sl_admin sl_admin_t;

typedef struct sl_admin_hooks {
    bool (*ready)(void *opaque); /* /ready answers 200 when true, 503 otherwise */
    void *opaque;
} sl_admin_hooks_t;

/* Serves the endpoints on host:port inside `loop`. NULL on failure, reason in err. */
sl_admin_t *sl_admin_start(sl_loop_t *loop, const char *host, int port,
                           const sl_admin_hooks_t *hooks, char *err);
int sl_admin_port(const sl_admin_t *admin);
void sl_admin_stop(sl_admin_t *admin);

#endif
