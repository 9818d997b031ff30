/* The log line: UTC time, level, message on one line, cut on a UTF-8 boundary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "twinprobe/log.h"

static void test_format(void **state)
{
    char buf[128];
    (void)state;
    /* 2026-12-01T03:40:00Z */
    size_t n = tp_log_format(buf, sizeof buf, 1796096400, TP_LOG_WARN,
                             "redis unreachable; 72 entries spooled");
    assert_string_equal(buf, "2026-12-01T03:40:00Z warn redis unreachable; 72 entries spooled\n");
    assert_int_equal(n, strlen(buf));
    tp_log_format(buf, sizeof buf, 0, TP_LOG_ERROR, "two\nlines\tand\rmore");
    assert_string_equal(buf, "1970-01-01T00:00:00Z error two lines and more\n");
    tp_log_format(buf, sizeof buf, 0, TP_LOG_INFO, "");
    assert_string_equal(buf, "1970-01-01T00:00:00Z info \n");
}

static void test_cut(void **state)
{
    char buf[40];
    (void)state;
    /* 21 + 5 bytes of prefix leave 12 for the message: "aaaaaaaaaaa\xc3" would
     * end inside the two-byte é, so the cut goes before it. */
    size_t n = tp_log_format(buf, sizeof buf, 0, TP_LOG_INFO, "aaaaaaaaaaa\xc3\xa9zzzzzzzz");
    assert_true(n < sizeof buf);
    assert_int_equal(buf[n - 1], '\n');
    assert_null(strchr(buf, '\xc3'));
    assert_non_null(strstr(buf, " info aaaa"));
}

static void test_levels(void **state)
{
    (void)state;
    assert_string_equal(tp_log_level_name(TP_LOG_INFO), "info");
    assert_string_equal(tp_log_level_name(TP_LOG_WARN), "warn");
    assert_string_equal(tp_log_level_name(TP_LOG_ERROR), "error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_cut),
        cmocka_unit_test(test_levels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
