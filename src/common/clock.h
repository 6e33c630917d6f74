/* clock.h -- monotonic and wall clocks. Durations use CLOCK_MONOTONIC; record timestamps use
 * the wall clock in milliseconds since the epoch, as Kafka does. */
#ifndef SL_CLOCK_H
#define SL_CLOCK_H

#include <stdint.h>

uint64_t sl_mono_ns(void);
uint64_t sl_mono_ms(void);
int64_t sl_wall_ms(void);

#endif
