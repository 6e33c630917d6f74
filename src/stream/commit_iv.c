/* commit_iv.c -- the adaptive commit interval rule (commit_iv.h). */
#include "commit_iv.h"

#include "common/util.h"

int sl_commit_iv_next(const sl_commit_iv_t *c, int cur_ms, uint64_t records, uint64_t txn_ms) {
    int64_t cur = SL_MAX((int64_t)cur_ms, (int64_t)c->min_ms);
    cur = SL_MIN(cur, (int64_t)c->max_ms);
    if (txn_ms * 4 >= (uint64_t)cur) {
        cur *= 2;
    } else if (records < c->light_records && txn_ms * 4 < (uint64_t)(cur / 2)) {
        cur /= 2;
    }
    cur = SL_MAX(cur, (int64_t)c->min_ms);
    return (int)SL_MIN(cur, (int64_t)c->max_ms);
}
