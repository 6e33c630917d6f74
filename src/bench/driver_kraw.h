/* driver_kraw.h -- the many-connection Kafka producer of `sluice bench --connections N`: raw
 * Produce v7 requests over N non-blocking sockets on epoll (librdkafka keeps a thread per broker
 * connection and cannot bind a source address, so it cannot open tens of thousands). Consumers and
 * topic creation are the kafka driver's. */
#ifndef SL_DRIVER_KRAW_H
#define SL_DRIVER_KRAW_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bench/bench.h"

extern const sl_bench_driver_t sl_bench_driver_kraw;

typedef struct sl_kraw_stats {
    int64_t wanted;         /* --connections */
    int64_t up;             /* connected at the end of setup */
    int64_t connect_failed; /* refused, timed out or never started */
    double connect_s;       /* first connect() to the last connection's outcome */
    int64_t closed;         /* connections lost during the run */
    int64_t acked;          /* records acknowledged (written, with acks=0) */
    int64_t failed;         /* records answered with an error, or lost with their connection */
    int first_error;        /* first Kafka error code in a response, 0 if none */
    int n_sources;          /* source addresses used (127.0.0.2 ...), 0 = kernel's choice */
} sl_kraw_stats_t;

/* Totals so far over every producer. Thread: any. */
sl_kraw_stats_t sl_kraw_stats(void);
/* Prints the connection figures: a summary line, or (json) a `,"connections":{...}` member to
 * splice into the report object. */
void sl_kraw_report(FILE *f, bool json);

#endif
