/* breaker.h -- the circuit breaker between the gateway and the brokers.
 *
 *   CLOSED --(threshold failures within window_ms, a slow call counting as a failure, or trip)-->
 *   OPEN --(open_ms later, the next request is let through as the one probe)--> HALF_OPEN
 *   HALF_OPEN --probe ok--> CLOSED        HALF_OPEN --probe failed--> OPEN (for open_ms again)
 *
 * While OPEN, and in HALF_OPEN while the probe is out, sl_gw_breaker_admit refuses at once: the
 * caller answers 503 without touching the brokers. Times are the caller's (tests drive them);
 * every call takes the breaker's mutex. */
#ifndef SL_GW_BREAKER_H
#define SL_GW_BREAKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define SL_GW_BREAKER_MAX_THRESHOLD 1000

typedef enum sl_gw_br_state { SL_GW_BR_CLOSED, SL_GW_BR_OPEN, SL_GW_BR_HALF_OPEN } sl_gw_br_state_t;

typedef struct sl_gw_breaker {
    pthread_mutex_t mu;
    int threshold; /* failures within window_ms that open it (1..SL_GW_BREAKER_MAX_THRESHOLD) */
    uint64_t window_ms;
    uint64_t slow_ms; /* a call at least this slow counts as a failure; 0 = never */
    uint64_t open_ms; /* how long OPEN lasts before a probe */
    sl_gw_br_state_t state;
    uint64_t *fails; /* ring of the last `threshold` failure times */
    int n_fails, next_fail;
    uint64_t opened_at;
    bool probe_out;
    uint64_t transitions[3][3]; /* [from][to] */
    uint64_t rejected;          /* requests refused while open */
} sl_gw_breaker_t;

/* A closed breaker. threshold is clamped to 1..SL_GW_BREAKER_MAX_THRESHOLD. */
void sl_gw_breaker_init(sl_gw_breaker_t *br, int threshold, uint64_t window_ms, uint64_t slow_ms,
                        uint64_t open_ms);
void sl_gw_breaker_fini(sl_gw_breaker_t *br);
/* May a call go to the brokers now? Sets *probe when this call is the half-open probe, whose
 * outcome must be reported (sl_gw_breaker_done or sl_gw_breaker_release). */
bool sl_gw_breaker_admit(sl_gw_breaker_t *br, uint64_t now_ms, bool *probe);
/* Reports an admitted call's outcome: `ok` false for a broker failure (timeout, transport
 * error, broker down); `latency_ms` is checked against slow_ms. */
void sl_gw_breaker_done(sl_gw_breaker_t *br, uint64_t now_ms, bool probe, bool ok,
                        uint64_t latency_ms);
/* An admitted call ended without saying anything about the brokers (a client error found before
 * producing): frees the probe slot if it held it, changes nothing else. */
void sl_gw_breaker_release(sl_gw_breaker_t *br, bool probe);
/* Opens now, whatever the state (the client library reports every broker down). */
void sl_gw_breaker_trip(sl_gw_breaker_t *br, uint64_t now_ms);
sl_gw_br_state_t sl_gw_breaker_state(sl_gw_breaker_t *br);
const char *sl_gw_breaker_state_name(sl_gw_br_state_t s);

#endif
