/* log.h -- one line per event on stderr: UTC time, level, facility, then key=value text. */
#ifndef SL_LOG_H
#define SL_LOG_H

#include "err.h"

enum { SL_LOG_ERROR = 0, SL_LOG_WARN = 1, SL_LOG_INFO = 2, SL_LOG_DEBUG = 3 };

extern int sl_log_level;

/* The level is checked before the arguments are evaluated. */
#define sl_log(lvl, fac, ...)                                                                      \
    do {                                                                                           \
        if ((lvl) <= sl_log_level) {                                                               \
            sl_log_emit((lvl), (fac), __VA_ARGS__);                                                \
        }                                                                                          \
    } while (0)

void sl_log_emit(int lvl, const char *fac, const char *fmt, ...) SL_PRINTF(3, 4);
/* Parses "error|warn|info|debug"; returns -1 if unknown. */
int sl_log_parse_level(const char *s);

#endif
