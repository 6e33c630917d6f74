/* cmd_user.c -- `sluice user add|list|delete`: SCRAM credentials through
 * AlterUserScramCredentials (51) and DescribeUserScramCredentials (50), version 0 (KIP-554), on a
 * plain socket (librdkafka 2.0 has no call for them). Works against Kafka 2.7+ as well.
 *
 *   sluice user add NAME [--password PW] [--mechanism M]... [--iterations N]
 *   sluice user list
 *   sluice user delete NAME [--mechanism M]...
 * The password comes from --password or $SLUICE_PASSWORD; it is salted and hashed here
 * (PBKDF2, a random 32-byte salt), so only the salted password travels and only the derived
 * keys are stored. Without --mechanism, add sets SCRAM-SHA-256 and SCRAM-SHA-512 (PLAIN checks
 * against either), and delete removes every mechanism the user has. Connect to a PLAINTEXT
 * listener (-b HOST:PORT, default 127.0.0.1:9092). */
#include <getopt.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/buf.h"
#include "common/codec.h"
#include "common/util.h"
#include "security/scram.h"

#define API_DESCRIBE 50
#define API_ALTER    51
#define SALT_BYTES   32

static void usage(FILE *f) {
    fprintf(f, "usage: sluice user add NAME [--password PW] [--mechanism M]... [--iterations N]\n"
               "       sluice user list\n"
               "       sluice user delete NAME [--mechanism M]...\n"
               "M: SCRAM-SHA-256 or SCRAM-SHA-512 (default: both); the password may come from\n"
               "$SLUICE_PASSWORD; iterations 4096..16384 (default 8192)\n"
               "options: -b HOST:PORT of a PLAINTEXT listener (default 127.0.0.1:9092)\n");
}

/* Describes every user: prints them when `print`, else finds `name`'s mechanisms into has[]. */
static int describe(int fd, bool print, const char *name, bool *has) {
    sl_buf_t req = {0}, resp = {0};
    sl_writer_t w = {&req};
    sl_cli_req_begin(&w, API_DESCRIBE, 0, true);
    sl_wr_array_len(&w, true, -1);
    sl_wr_tags(&w, true);
    sl_reader_t rd;
    int rc = 1;
    if (!sl_cli_roundtrip(fd, &req, true, &resp, &rd)) {
        goto out;
    }
    sl_rd_i32(&rd);
    int16_t err = sl_rd_i16(&rd);
    sl_str_t msg = sl_rd_str(&rd, true);
    if (err) {
        fprintf(stderr, "sluice: user: error %d: %.*s\n", err, (int)msg.len, msg.p ? msg.p : "");
        goto out;
    }
    int32_t n = sl_rd_count(&rd, true, 4);
    for (int32_t i = 0; i < n && !rd.err; i++) {
        sl_str_t user = sl_rd_str(&rd, true);
        sl_rd_i16(&rd);
        sl_rd_str(&rd, true);
        int32_t k = sl_rd_count(&rd, true, 6);
        bool mine = name && sl_str_eqz(user, name);
        if (print) {
            printf("%.*s", (int)user.len, user.p ? user.p : "");
        }
        for (int32_t j = 0; j < k && !rd.err; j++) {
            int m = sl_scram_mech_from_kafka_type(sl_rd_i8(&rd));
            int32_t it = sl_rd_i32(&rd);
            sl_rd_tags(&rd, true);
            if (m >= 0 && print) {
                printf(" %s(iterations=%d)", sl_scram_mech_name((sl_scram_mech_t)m), (int)it);
            }
            if (m >= 0 && mine) {
                has[m] = true;
            }
        }
        sl_rd_tags(&rd, true);
        if (print) {
            printf("\n");
        }
    }
    rc = rd.err ? 1 : 0;
    if (rc) {
        sl_cli_error("user", "malformed DescribeUserScramCredentials response");
    }
out:
    sl_buf_fini(&req);
    sl_buf_fini(&resp);
    return rc;
}

/* Sends the upsertions (password != NULL) or deletions of `name` for the mechanisms in `mech`. */
static int alter(int fd, const char *name, const bool *mech, const char *password,
                 int32_t iterations) {
    sl_buf_t req = {0}, resp = {0};
    sl_writer_t w = {&req};
    sl_cli_req_begin(&w, API_ALTER, 0, true);
    int32_t n = 0;
    for (int m = 0; m < SL_SCRAM_N; m++) {
        n += mech[m];
    }
    sl_wr_array_len(&w, true, password ? 0 : n); /* deletions */
    for (int m = 0; m < SL_SCRAM_N && !password; m++) {
        if (mech[m]) {
            sl_wr_strz(&w, true, name);
            sl_wr_i8(&w, sl_scram_mech_kafka_type((sl_scram_mech_t)m));
            sl_wr_tags(&w, true);
        }
    }
    sl_wr_array_len(&w, true, password ? n : 0); /* upsertions */
    int rc = 1;
    for (int m = 0; m < SL_SCRAM_N && password; m++) {
        if (!mech[m]) {
            continue;
        }
        uint8_t salt[SALT_BYTES], salted[SL_SCRAM_MAX_HASH];
        if (RAND_bytes(salt, sizeof salt) != 1 ||
            sl_scram_salted_password((sl_scram_mech_t)m, password, strlen(password), salt,
                                     sizeof salt, iterations, salted) != SL_OK) {
            sl_cli_error("user", "cannot salt the password");
            goto out;
        }
        sl_wr_strz(&w, true, name);
        sl_wr_i8(&w, sl_scram_mech_kafka_type((sl_scram_mech_t)m));
        sl_wr_i32(&w, iterations);
        sl_wr_bytes(&w, true, (sl_bytes_t){salt, sizeof salt});
        sl_wr_bytes(&w, true, (sl_bytes_t){salted, sl_scram_hash_len((sl_scram_mech_t)m)});
        sl_wr_tags(&w, true);
        OPENSSL_cleanse(salted, sizeof salted);
    }
    sl_wr_tags(&w, true);
    sl_reader_t rd;
    if (!sl_cli_roundtrip(fd, &req, true, &resp, &rd)) {
        goto out;
    }
    sl_rd_i32(&rd);
    int32_t k = sl_rd_count(&rd, true, 4);
    rc = 0;
    for (int32_t i = 0; i < k && !rd.err; i++) {
        sl_str_t user = sl_rd_str(&rd, true);
        int16_t err = sl_rd_i16(&rd);
        sl_str_t msg = sl_rd_str(&rd, true);
        sl_rd_tags(&rd, true);
        if (err) {
            fprintf(stderr, "sluice: user %.*s: error %d: %.*s\n", (int)user.len,
                    user.p ? user.p : "", err, (int)msg.len, msg.p ? msg.p : "");
            rc = 1;
        }
    }
    if (rd.err) {
        sl_cli_error("user", "malformed AlterUserScramCredentials response");
        rc = 1;
    }
out:
    OPENSSL_cleanse(req.data, req.cap);
    sl_buf_fini(&req);
    sl_buf_fini(&resp);
    return rc;
}

int sl_cmd_user(int argc, char **argv) {
    static const struct option opts[] = {
        {"brokers", required_argument, 0, 'b'},
        {"password", required_argument, 0, 'p'},
        {"mechanism", required_argument, 0, 'm'},
        {"iterations", required_argument, 0, 'i'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *brokers = "127.0.0.1:9092", *password = getenv("SLUICE_PASSWORD");
    bool mech[SL_SCRAM_N] = {false, false}, any_mech = false;
    int64_t iterations = 8192;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "b:h", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            brokers = optarg;
            break;
        case 'p':
            password = optarg;
            break;
        case 'm': {
            int m = sl_scram_mech_find(optarg, strlen(optarg));
            if (m < 0) {
                sl_cli_error("user", "--mechanism: SCRAM-SHA-256 or SCRAM-SHA-512");
                return 2;
            }
            mech[m] = any_mech = true;
            break;
        }
        case 'i':
            if (!sl_cli_parse_i64("--iterations", optarg, SL_SCRAM_MIN_ITER, SL_SCRAM_MAX_ITER,
                                  &iterations)) {
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    const char *verb = optind < argc ? argv[optind] : NULL;
    const char *name = optind + 1 < argc ? argv[optind + 1] : NULL;
    bool list = verb && !strcmp(verb, "list");
    bool add = verb && !strcmp(verb, "add"), del = verb && !strcmp(verb, "delete");
    if (!verb || (!list && !add && !del) || (!list && (!name || optind + 2 != argc)) ||
        (list && optind + 1 != argc)) {
        usage(stderr);
        return 2;
    }
    if (add && (!password || !*password)) {
        sl_cli_error("user", "add needs --password or $SLUICE_PASSWORD");
        return 2;
    }
    int fd = sl_cli_dial_first(brokers, "user");
    if (fd < 0) {
        return 1;
    }
    int rc;
    if (list) {
        rc = describe(fd, true, NULL, NULL);
    } else if (add) {
        if (!any_mech) {
            mech[SL_SCRAM_SHA256] = mech[SL_SCRAM_SHA512] = true;
        }
        rc = alter(fd, name, mech, password, (int32_t)iterations);
    } else {
        if (!any_mech && (rc = describe(fd, false, name, mech)) != 0) {
            close(fd);
            return rc;
        }
        if (!mech[0] && !mech[1]) {
            fprintf(stderr, "sluice: user %s: no such user\n", name);
            close(fd);
            return 1;
        }
        rc = alter(fd, name, mech, NULL, 0);
    }
    close(fd);
    return rc;
}
