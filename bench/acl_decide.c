/* acl_decide.c -- what one authorization decision costs (src/security/acl.c), by how many ACLs
 * the broker holds: N literal topic ACLs for N users, N/10 prefixed ones, and the one that
 * allows the producer; then decisions for a topic the producer may write, one it may not, and
 * a super user. Prints ns per decision for each.
 *   acl_decide [N...]        default 10 1000 10000 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "security/acl.h"

static double per_call_ns(sl_acls_t *a, const char *who, const char *topic) {
    size_t len = strlen(topic);
    int rounds = 2000000, hits = 0;
    uint64_t t0 = sl_mono_ns();
    for (int i = 0; i < rounds; i++) {
        hits += sl_acls_authorize(a, who, "127.0.0.1", SL_RES_TOPIC, topic, len, SL_ACL_WRITE);
    }
    uint64_t t1 = sl_mono_ns();
    if (hits != 0 && hits != rounds) {
        fprintf(stderr, "acl_decide: decisions changed between calls\n");
        exit(1);
    }
    return (double)(t1 - t0) / rounds;
}

int main(int argc, char **argv) {
    static const long dflt[] = {10, 1000, 10000};
    int n_sizes = argc > 1 ? argc - 1 : 3;
    for (int s = 0; s < n_sizes; s++) {
        long n = argc > 1 ? atol(argv[s + 1]) : dflt[s];
        sl_acls_t *a = sl_acls_new();
        sl_acls_set_super_users(a, "User:admin");
        char name[64], who[64];
        for (long i = 0; i < n; i++) {
            snprintf(name, sizeof name, "topic-%ld", i);
            snprintf(who, sizeof who, "User:u%ld", i);
            sl_acl_binding_t b = {
                SL_RES_TOPIC, SL_PAT_LITERAL, SL_ACL_READ, SL_PERM_ALLOW, name, who, "*"};
            (void)sl_acls_add(a, &b);
            if (i % 10 == 0) {
                snprintf(name, sizeof name, "team%ld.", i);
                b.res_name = name, b.pattern = SL_PAT_PREFIXED;
                (void)sl_acls_add(a, &b);
            }
        }
        sl_acl_binding_t mine = {SL_RES_TOPIC, SL_PAT_LITERAL, SL_ACL_WRITE, SL_PERM_ALLOW,
                                 "bench",      "User:bench",   "*"};
        (void)sl_acls_add(a, &mine);
        printf("acls=%zu allowed=%.0f ns denied=%.0f ns super_user=%.0f ns\n", sl_acls_count(a),
               per_call_ns(a, "User:bench", "bench"), per_call_ns(a, "User:bench", "other"),
               per_call_ns(a, "User:admin", "bench"));
        sl_acls_free(a);
    }
    return 0;
}
