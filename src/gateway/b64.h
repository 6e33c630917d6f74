/* b64.h -- base64 (RFC 4648, standard alphabet, padded) for BINARY keys and values. */
#ifndef SL_GW_B64_H
#define SL_GW_B64_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

/* Appends the encoding of p[0..n) to `out` (not NUL-terminated). */
void sl_gw_b64_encode(sl_buf_t *out, const void *p, size_t n);
/* Appends the decoding of s[0..n) to `out`. False on any character outside the alphabet, a
 * length that is not a multiple of 4, or padding anywhere but at the end (out is then left with
 * a partial result the caller discards). */
bool sl_gw_b64_decode(sl_buf_t *out, const char *s, size_t n);

#endif
