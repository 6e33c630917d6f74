/* trash.c -- deleted partitions leave the event loop's time: their directories are renamed into
 * <data-dir>/.deleted (one rename each, no data touched), and the whole batch is then renamed to
 * <data-dir>/.deleted.<n> and removed by a detached thread. Unlinking thousands of files, and
 * freeing their page cache, no longer stalls producers and consumers of other topics.
 *
 * Crash safety: the topic's deletion is in the metadata log before anything moves. A crash
 * leaves either the partition directories in place (a later topic of the same name removes them
 * before it opens its partitions, as before) or .deleted / .deleted.<n> directories, which the
 * next start removes, again off the loop. Neither name can be a partition directory
 * (<topic>-<index>). Thread: the broker's, except the removal threads, which touch only their own
 * directory. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/broker.h"
#include "common/log.h"
#include "common/os.h"

static void *remove_main(void *arg) {
    char *path = arg;
    if (sl_os_rmtree(path) < 0) {
        sl_log(SL_LOG_WARN, "storage", "dir=%s msg=\"could not remove deleted partitions\"", path);
    }
    free(path);
    return NULL;
}

/* Removes `path` on a detached thread; inline if no thread can be started. */
static void remove_later(char *path) {
    pthread_t th;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&th, &at, remove_main, path);
    pthread_attr_destroy(&at);
    if (rc != 0) {
        remove_main(path);
    }
}

/* Whether a data-directory entry is trash: ".deleted" or ".deleted.<digits>". */
static bool is_trash(const char *name) {
    if (strncmp(name, ".deleted", 8)) {
        return false;
    }
    if (!name[8]) {
        return true;
    }
    if (name[8] != '.' || !name[9]) {
        return false;
    }
    for (const char *p = name + 9; *p; p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }
    }
    return true;
}

/* Renames <data-dir>/.deleted to a fresh .deleted.<n> and removes that off the loop. */
static void empty_trash(sl_broker_t *b) {
    char from[4200], to[4200];
    snprintf(from, sizeof from, "%s/.deleted", b->conf.data_dir);
    for (int tries = 0; tries < 1000; tries++) {
        snprintf(to, sizeof to, "%s/.deleted.%llu", b->conf.data_dir,
                 (unsigned long long)b->trash_seq++);
        if (access(to, F_OK) == 0) {
            continue; /* left by an earlier run and not yet removed */
        }
        if (sl_os.rename(from, to) == 0) {
            remove_later(sl_xstrdup(to));
        } else if (errno != ENOENT) {
            sl_log(SL_LOG_WARN, "storage", "dir=%s err=\"%s\" msg=\"trash not emptied\"", from,
                   strerror(errno));
        }
        return;
    }
}

void sl_trash_start(sl_broker_t *b) {
    DIR *d = opendir(b->conf.data_dir);
    if (!d) {
        return;
    }
    struct dirent *de;
    char **found = NULL;
    size_t n = 0;
    while ((de = readdir(d))) {
        if (is_trash(de->d_name) && strcmp(de->d_name, ".deleted")) {
            found = sl_xrealloc(found, (n + 1) * sizeof *found);
            char path[4200];
            snprintf(path, sizeof path, "%s/%s", b->conf.data_dir, de->d_name);
            found[n++] = sl_xstrdup(path);
        }
    }
    closedir(d);
    for (size_t i = 0; i < n; i++) {
        remove_later(found[i]); /* a .deleted.<n> of an earlier run */
    }
    free(found);
    empty_trash(b); /* a .deleted an earlier run had not handed off */
}

bool sl_trash_move(sl_broker_t *b, const char *dir) {
    char trash[4200], to[4200];
    snprintf(trash, sizeof trash, "%s/.deleted", b->conf.data_dir);
    if (mkdir(trash, 0755) < 0 && errno != EEXIST) {
        return false;
    }
    const char *base = strrchr(dir, '/');
    base = base ? base + 1 : dir;
    snprintf(to, sizeof to, "%s/%s.%llu", trash, base, (unsigned long long)b->trash_seq++);
    if (sl_os.rename(dir, to) == 0) {
        return true;
    }
    return errno == ENOENT; /* never written: nothing to remove */
}

void sl_trash_empty(sl_broker_t *b) {
    empty_trash(b);
}
