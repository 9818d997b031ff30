/* Unit tests for src/report_verdict_html.c: the page escapes every string from
 * the data, draws the series, and never prints a number that is not one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/cross.h"
#include "twinprobe/report_verdict_html.h"

static void add(struct tp_cross_result *x, const char *loc, const char *step, int64_t at,
                double base, double cand, const char *cand_ok, const char *match,
                const char *diff)
{
    char b[32], c[32];
    const char *names[] = {"run", "step", "cand", "base_ok", "cand_ok", "base_ms", "cand_ms",
                           "match", "diff"};
    const char *values[] = {"r1", step, "canary", "1", cand_ok, b, c, match, diff};
    struct tp_error err;
    snprintf(b, sizeof b, "%.3f", base);
    snprintf(c, sizeof c, "%.3f", cand);
    tp_error_clear(&err);
    assert_int_equal(tp_cross_add_at(x, loc, "j<1>", at, names, values, 9, &err), TP_OK);
}

static void test_escapes_and_draws(void **state)
{
    struct tp_cross_result *x = tp_cross_create();
    struct tp_error err;
    char *html;
    (void)state;
    for (int i = 0; i < 40; i++) {
        add(x, "eu\"west", "s&<t>", 1000 * i, 40 + i % 5, 41 + i % 3, "1", "1", "");
        add(x, "us'east", "s&<t>", 1000 * i, 40 + i % 5, 60 + i % 3, i == 7 ? "0" : "1",
            i == 9 ? "0" : "1", i == 9 ? "$.a value_changed 1 -> <img src=x>" : "");
    }
    tp_error_clear(&err);
    assert_int_equal(tp_cross_judge(x, NULL, &err), TP_OK);
    html = tp_report_verdict_html(x, 0, 40000);
    assert_non_null(html);
    assert_non_null(strstr(html, "<h2>j&lt;1&gt; "));
    assert_non_null(strstr(html, "s&amp;&lt;t&gt;"));
    assert_non_null(strstr(html, "eu&quot;west"));
    assert_non_null(strstr(html, "us&#39;east"));
    assert_non_null(strstr(html, "&lt;img src=x&gt;"));
    assert_null(strstr(html, "<img"));
    assert_null(strstr(html, "s&<t>"));
    assert_null(strstr(html, "nan"));
    assert_null(strstr(html, "inf"));
    assert_non_null(strstr(html, "<polyline"));
    assert_non_null(strstr(html, "<circle"));
    assert_non_null(strstr(html, "1 failed rounds not drawn"));
    free(html);
    tp_cross_free(x);
}

static void test_empty_is_nodata(void **state)
{
    struct tp_cross_result *x = tp_cross_create();
    struct tp_error err;
    char *html;
    (void)state;
    tp_error_clear(&err);
    assert_int_equal(tp_cross_judge(x, NULL, &err), TP_OK);
    html = tp_report_verdict_html(x, 0, 1000);
    assert_non_null(html);
    assert_non_null(strstr(html, "NODATA"));
    assert_null(strstr(html, "<svg"));
    assert_non_null(strstr(html, "</html>"));
    free(html);
    tp_cross_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escapes_and_draws),
        cmocka_unit_test(test_empty_is_nodata),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
