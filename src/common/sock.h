/* sock.h -- blocking client sockets for the brokers' own calls to each other: the replica
 * fetchers' Fetch requests and the calls to the quorum leader. One request at a time, each read
 * and write bounded by a timeout; the event loop's sockets are in src/net, not here. */
#ifndef SL_SOCK_H
#define SL_SOCK_H

#include <stdbool.h>
#include <stddef.h>

/* Connects to host:port (resolved with getaddrinfo, first address), waiting at most
 * `connect_ms` for the connection, and returns a blocking, close-on-exec descriptor whose every
 * read and write times out after `io_ms`. Returns -1 on failure with a readable reason in
 * `err` (`errlen` bytes, NUL-terminated; `err` may be NULL). */
int sl_sock_dial(const char *host, int port, int connect_ms, int io_ms, char *err, size_t errlen);

/* Writes all `n` bytes, retrying short writes and EINTR. False on an error, a timeout or a
 * closed peer (errno tells which, except for a peer that closed). */
bool sl_sock_write_all(int fd, const void *p, size_t n);

/* Reads exactly `n` bytes, retrying short reads and EINTR. False on an error, a timeout or end
 * of stream before `n` bytes. */
bool sl_sock_read_all(int fd, void *p, size_t n);

#endif
