/* listener.h -- a listening TCP socket that accepts into sl_conn connections. */
#ifndef SL_LISTENER_H
#define SL_LISTENER_H

#include <stdbool.h>

#include "common/err.h"
#include "net/conn.h"
#include "net/loop.h"

typedef struct sl_listener sl_listener_t;

/* Parses "HOST:PORT" (HOST may be empty for all addresses) into host/port. Returns SL_OK or
 * SL_ERR_INVAL. `host` gets at most `host_len` bytes. */
SL_MUST_USE sl_err_t sl_parse_hostport(const char *s, char *host, size_t host_len, int *port);

/* Binds and listens on host:port (port 0 = any free port); accepted sockets become connections
 * with `hooks`. NULL on failure, with the reason in `err` (SL_ERRLEN bytes). */
sl_listener_t *sl_listener_new(sl_loop_t *loop, const char *host, int port,
                               const sl_conn_hooks_t *hooks, char *err);
/* Stops accepting while `max` connections (sl_conn_count) are open, rechecking every 100 ms;
 * 0 = no limit. Clients wait in the kernel's accept queue meanwhile. */
void sl_listener_set_max_conns(sl_listener_t *lst, size_t max);
/* Closes a new connection at once when its address already has `max_per_ip` open, or the limit
 * `overrides` gives it (max.connections.per.ip.overrides, "ADDR:N,..."). SL_ERR_INVAL for a bad
 * overrides string, with the reason in `err`. */
SL_MUST_USE sl_err_t sl_listener_set_ip_limits(sl_listener_t *lst, size_t max_per_ip,
                                               const char *overrides, char *err);
/* Asked at every accept, after the per-address count: false closes the new connection at once
 * (the broker's connection_creation_rate quota). `ip` is the numeric peer address. */
typedef bool sl_admit_fn(const char *ip, void *opaque);
void sl_listener_set_admit(sl_listener_t *lst, sl_admit_fn *fn, void *opaque);
/* The port actually bound (getsockname), for advertising and the port file. */
int sl_listener_port(const sl_listener_t *lst);
/* Stops accepting (closes the socket) and frees. NULL is a no-op. */
void sl_listener_free(sl_listener_t *lst);

#endif
