/* b64.c -- base64 encoding and strict decoding (see b64.h). */
#include "gateway/b64.h"

#include <stdint.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void sl_gw_b64_encode(sl_buf_t *out, const void *p, size_t n) {
    const uint8_t *b = p;
    sl_buf_reserve(out, (n + 2) / 3 * 4);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)b[i] << 16;
        if (i + 1 < n) {
            v |= (uint32_t)b[i + 1] << 8;
        }
        if (i + 2 < n) {
            v |= b[i + 2];
        }
        char q[4] = {alphabet[(v >> 18) & 63], alphabet[(v >> 12) & 63],
                     i + 1 < n ? alphabet[(v >> 6) & 63] : '=', i + 2 < n ? alphabet[v & 63] : '='};
        sl_buf_append(out, q, 4);
    }
}

static int value_of(char c) {
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

bool sl_gw_b64_decode(sl_buf_t *out, const char *s, size_t n) {
    if (n % 4) {
        return false;
    }
    for (size_t i = 0; i < n; i += 4) {
        bool last = i + 4 == n;
        int pad = 0;
        if (last && s[i + 3] == '=') {
            pad = s[i + 2] == '=' ? 2 : 1;
        }
        uint32_t v = 0;
        for (int k = 0; k < 4; k++) {
            int d = k >= 4 - pad ? 0 : value_of(s[i + (size_t)k]);
            if (d < 0) {
                return false;
            }
            v = v << 6 | (uint32_t)d;
        }
        uint8_t bytes[3] = {(uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
        sl_buf_append(out, bytes, (size_t)(3 - pad));
    }
    return true;
}
