/* File descriptors for a run: the need of a run's shape (table), the largest
 * --max-concurrency that fits a limit, and the message of a run that does not fit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "twinprobe/fdlimit.h"

static const struct {
    long max_concurrency;
    size_t runs;
    uint64_t in_flight, connections, total;
} needs[] = {
    /* the default cap, one journey against two targets (however many rounds: each
     * round's connections close with it) */
    {64, 2, 2, 2, 36},
    /* 500 journeys x 2 targets, all in flight: one connection per journey run */
    {1000, 1000, 1000, 1000, 2032},
    /* a cap above the runs: the runs bound it */
    {5000, 10, 10, 10, 52},
    /* many runs under a small cap: finished runs' connections stay cached, five
     * per transfer in flight at most */
    {64, 10000, 64, 320, 416},
    {496, 1000, 496, 1000, 1528},
    {1, 1, 1, 1, 34},
    /* saturating, never wrapping */
    {10000, SIZE_MAX, 10000, 50000, 60032},
};

static void test_need_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof needs / sizeof needs[0]; i++) {
        struct tp_fdlimit_shape s = {needs[i].max_concurrency, needs[i].runs};
        struct tp_fdlimit_need n = tp_fdlimit_need(&s);
        assert_int_equal(n.in_flight, needs[i].in_flight);
        assert_int_equal(n.connections, needs[i].connections);
        assert_int_equal(n.total, needs[i].total);
    }
}

static void test_max_concurrency(void **state)
{
    struct tp_fdlimit_shape s = {1000, 10000};
    (void)state;
    /* 32 + 5C + C <= 1024 */
    assert_int_equal(tp_fdlimit_max_concurrency(&s, 1024), 165);
    s.max_concurrency = 165;
    assert_true(tp_fdlimit_need(&s).total <= 1024);
    s.max_concurrency = 166;
    assert_true(tp_fdlimit_need(&s).total > 1024);
    /* never above the cap asked for */
    s.max_concurrency = 10;
    assert_int_equal(tp_fdlimit_max_concurrency(&s, 1u << 20), 10);
    /* nothing fits below the base */
    s.max_concurrency = 1000;
    /* C = 1: one in flight, five connections cached */
    assert_int_equal(tp_fdlimit_max_concurrency(&s, TP_FDLIMIT_BASE + 5), 0);
    assert_int_equal(tp_fdlimit_max_concurrency(&s, TP_FDLIMIT_BASE + 6), 1);
    assert_int_equal(tp_fdlimit_max_concurrency(&s, TP_FDLIMIT_UNLIMITED), 1000);
}

static void test_check_fits(void **state)
{
    struct tp_fdlimit_shape s = {1000, 1000};
    struct tp_error err;
    (void)state;
    tp_error_clear(&err);
    assert_int_equal(tp_fdlimit_check(&s, 2032, 2032, &err), TP_OK);
    assert_int_equal(tp_fdlimit_check(&s, TP_FDLIMIT_UNLIMITED, TP_FDLIMIT_UNLIMITED, &err), TP_OK);
    assert_string_equal(err.text, "");
}

static void test_check_message(void **state)
{
    struct tp_fdlimit_shape s = {1000, 1000};
    struct tp_error err;
    (void)state;
    tp_error_clear(&err);
    assert_int_equal(tp_fdlimit_check(&s, 1024, 1024, &err), TP_ERR_LIMIT);
    assert_string_equal(err.text,
                        "--max-concurrency 1000 (1000 journey runs a round) needs about 2032 file "
                        "descriptors; the limit is 1024 (ulimit -n; hard limit 1024): use "
                        "--max-concurrency 165 or less, or raise the hard limit (ulimit -Hn, "
                        "LimitNOFILE= in a systemd unit)");
    s = (struct tp_fdlimit_shape){5000, 1};
    tp_error_clear(&err);
    assert_int_equal(tp_fdlimit_check(&s, 20, TP_FDLIMIT_UNLIMITED, &err), TP_ERR_LIMIT);
    assert_string_equal(err.text,
                        "--max-concurrency 5000 (1 journey run a round) needs about 34 file "
                        "descriptors; "
                        "the limit is 20 (ulimit -n; hard limit unlimited): raise the hard limit "
                        "(ulimit -Hn, LimitNOFILE= in a systemd unit)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_need_table),
        cmocka_unit_test(test_max_concurrency),
        cmocka_unit_test(test_check_fits),
        cmocka_unit_test(test_check_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
