/* fuzz_request.c -- libFuzzer target: request frames of every API and version through the broker's
 * frame handler (sl_broker_on_frame), as a client's connection would deliver them.
 *
 * Input: what a client writes on one connection, frames as on the wire (a 4-byte big-endian size,
 * then api_key, api_version, correlation_id, client_id, body). A size that overruns the input
 * takes the rest of it, so mutated sizes still reach the handlers. The seeds
 * (fuzz/corpus/fuzz_request/) are such byte streams recorded from real clients.
 *
 * Each input gets a new connection on a long-lived broker, recycled every FUZZ_RECYCLE inputs
 * (default 500) so topics and groups made by earlier inputs do not pile up. After the frames the
 * harness does what the loop would: syncs (acks=all answered), advances the simulated clock by a
 * second and fires due timers (fetch long-polls, rebalances, ticks), then hangs up.
 * Checked: no sanitizer report, and every response answers a request of this connection, in
 * request order, once (only a produce may go unanswered: acks=0). */
#include <stdlib.h>

#include "env.h"

static sl_broker_t *broker;
static unsigned long runs, recycle_every;
static fz_client_t client;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!broker) {
        const char *r = getenv("FUZZ_RECYCLE");
        recycle_every = r && atol(r) > 0 ? (unsigned long)atol(r) : 500;
        broker = fz_broker_start(NULL);
    }
    fz_client_open(&client, broker, false, NULL, NULL);
    size_t pos = 0;
    while (size - pos >= 4 && fz_client_alive(&client)) {
        uint32_t n = (uint32_t)data[pos] << 24 | (uint32_t)data[pos + 1] << 16 |
                     (uint32_t)data[pos + 2] << 8 | data[pos + 3];
        pos += 4;
        size_t len = n <= size - pos ? n : size - pos;
        (void)fz_client_send(&client, broker, data + pos, len, 0);
        pos += len;
        fz_client_drain(&client);
    }
    fz_settle(broker, false);
    fz_client_drain(&client);
    fz_advance(broker, 1000);
    fz_settle(broker, true);
    fz_client_drain(&client);
    fz_client_close(&client);
    fz_settle(broker, true);
    if (++runs % recycle_every == 0) {
        fz_broker_stop(broker);
        broker = NULL;
    }
    return 0;
}
