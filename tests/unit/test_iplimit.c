/* test_iplimit.c -- max.connections.per.ip bookkeeping: counts per address come and go with their
 * connections (an entry disappears at zero), and the overrides string is parsed as Kafka writes
 * it, IPv6 included, with bad entries refused by name. */
#include "common/err.h"
#include "harness.h"
#include "net/iplimit.h"

TEST(counts_follow_acquire_and_release) {
    sl_ipcount_t *a1 = sl_ip_acquire("127.0.0.2");
    sl_ipcount_t *a2 = sl_ip_acquire("127.0.0.2");
    sl_ipcount_t *b = sl_ip_acquire("::1");
    CHECK_EQ_INT(sl_ip_count("127.0.0.2"), 2);
    CHECK_EQ_INT(sl_ip_count("::1"), 1);
    CHECK_EQ_INT(sl_ip_count("127.0.0.3"), 0);
    sl_ip_release(a1);
    CHECK_EQ_INT(sl_ip_count("127.0.0.2"), 1);
    sl_ip_release(a2);
    sl_ip_release(b);
    sl_ip_release(NULL);
    CHECK_EQ_INT(sl_ip_count("127.0.0.2"), 0);
    CHECK_EQ_INT(sl_ip_count("::1"), 0);
}

TEST(overrides_parse_and_reject) {
    sl_ip_override_t ov[4];
    size_t n = 99;
    char err[SL_ERRLEN];
    CHECK(sl_ip_parse_overrides("", ov, 4, &n, err) == SL_OK);
    CHECK_EQ_INT(n, 0);
    CHECK(sl_ip_parse_overrides("127.0.0.1:200,::1:5,10.0.0.7:0", ov, 4, &n, err) == SL_OK);
    CHECK_EQ_INT(n, 3);
    CHECK(!strcmp(ov[0].ip, "127.0.0.1"));
    CHECK_EQ_INT(ov[0].max, 200);
    CHECK(!strcmp(ov[1].ip, "::1"));
    CHECK_EQ_INT(ov[1].max, 5);
    CHECK_EQ_INT(ov[2].max, 0);
    const char *bad[] = {"127.0.0.1", "127.0.0.1:",         ":5", "a:1,,b:2", "h:-1",
                         "h:1x",      "a:1,b:2,c:3,d:4,e:5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        CHECK(sl_ip_parse_overrides(bad[i], ov, 4, &n, err) == SL_ERR_INVAL);
        CHECK(strstr(err, "max.connections.per.ip.overrides") != NULL);
    }
}
