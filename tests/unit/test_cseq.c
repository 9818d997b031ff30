/* Unit tests for src/cseq.c (the normal-mixture confidence sequence) and
 * src/cross.c (pooling steps entries, the per-location and combined verdicts,
 * --since/--until times). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "twinprobe/cross.h"
#include "twinprobe/cseq.h"

#include "rng.h"

/* The radius against values computed independently (Python, the same formula). */
static void test_radius(void **state)
{
    static const struct {
        size_t n;
        double r;
    } cases[] = {{2, 4.733647587025431}, {12, 1.0667052430586803}, {100, 0.3035208990376253},
                 {10000, 0.035616410409188996}};
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_true(fabs(tp_cseq_radius(cases[i].n, 1.0, 0.05) - cases[i].r) < 1e-12);
    assert_true(isinf(tp_cseq_radius(0, 1.0, 0.05)));
    assert_true(tp_cseq_radius(100, 2.0, 0.05) == 2.0 * tp_cseq_radius(100, 1.0, 0.05));
}

static void test_add_merge_clip(void **state)
{
    struct tp_cseq a = {0, 0, 0}, b = {0, 0, 0}, all = {0, 0, 0};
    struct tp_cseq_interval ia, iall;
    uint64_t seed = 7;
    (void)state;
    for (int i = 0; i < 300; i++) {
        double d = 0.1 + 0.2 * rng_normal(&seed);
        tp_cseq_add(i % 3 ? &a : &b, d);
        tp_cseq_add(&all, d);
    }
    tp_cseq_merge(&a, &b);
    tp_cseq_interval(&a, 0.05, &ia);
    tp_cseq_interval(&all, 0.05, &iall);
    assert_int_equal(ia.n, 300);
    assert_true(fabs(ia.centre - iall.centre) < 1e-12);
    assert_true(fabs(ia.sigma - iall.sigma) < 1e-12);
    assert_true(ia.low < 0.1 && ia.high > 0.1);

    memset(&a, 0, sizeof a);
    tp_cseq_add(&a, INFINITY);
    tp_cseq_add(&a, -INFINITY);
    tp_cseq_add(&a, NAN);
    tp_cseq_add(&a, 50.0);
    assert_int_equal(a.n, 3);
    assert_true(fabs(a.mean - TP_CSEQ_CLIP / 3.0) < 1e-12);
    tp_cseq_interval(&(struct tp_cseq){1, 0.5, 0}, 0.05, &ia);
    assert_true(isinf(ia.low) && isinf(ia.high) && ia.sigma == TP_CSEQ_SIGMA_MIN);
}

static void test_pairs_for(void **state)
{
    size_t n;
    (void)state;
    n = tp_cseq_pairs_for(0.1, 0.03, 0.05, 1, 1000000);
    assert_true(n > 2);
    assert_true(tp_cseq_radius(n, 0.1, 0.05) < 0.03);
    assert_true(tp_cseq_radius(n - 1, 0.1, 0.05) >= 0.03);
    assert_int_equal(tp_cseq_pairs_for(0.1, 0, 0.05, 1, 1000), 0);
    assert_int_equal(tp_cseq_pairs_for(1.0, 1e-6, 0.05, 1, 1000), 0);
}

/* Anytime validity, empirically: A/A data looked at after every pair never
 * leaves the interval containing 0 in more than a few of 200 sequences. */
static void test_anytime_false_alarms(void **state)
{
    uint64_t seed = 42;
    int crossed = 0;
    (void)state;
    for (int s = 0; s < 200; s++) {
        struct tp_cseq cs = {0, 0, 0};
        for (int i = 0; i < 1000; i++) {
            struct tp_cseq_interval ci;
            tp_cseq_add(&cs, 0.15 * rng_normal(&seed));
            tp_cseq_interval(&cs, 0.05, &ci);
            if (i >= 5 && (ci.low > 0 || ci.high < 0)) {
                crossed++;
                break;
            }
        }
    }
    assert_true(crossed <= 20); /* 5 % of 200 is 10 */
}

/* ---- cross */

static void add(struct tp_cross_result *x, const char *loc, const char *journey, const char *run,
                const char *step, double base, double cand, int cand_ok)
{
    char b[32], c[32];
    const char *names[] = {"run", "round", "step", "base", "cand", "base_ok", "cand_ok",
                           "base_ms", "cand_ms", "match", "diffs"};
    const char *values[] = {run, "1", step, "stable", "canary", "1", cand_ok ? "1" : "0",
                            b, c, "1", "0"};
    struct tp_error err;
    snprintf(b, sizeof b, "%.3f", base);
    snprintf(c, sizeof c, "%.3f", cand);
    tp_error_clear(&err);
    assert_int_equal(tp_cross_add(x, loc, journey, names, values, 11, &err), TP_OK);
}

/* Three locations; the candidate is 40 % slower in one only: that one HIGH,
 * the step REGIONAL naming it; the journey REGIONAL too. */
static void test_regional(void **state)
{
    static const char *const locs[] = {"eu", "us", "ap"};
    struct tp_cross_result *x = tp_cross_create();
    struct tp_error err;
    uint64_t seed = 3;
    char run[16];
    (void)state;
    assert_non_null(x);
    for (int r = 0; r < 10; r++)
        for (int k = 0; k < 12; k++)
            for (int l = 0; l < 3; l++) {
                double base = 40.0 * exp(0.05 * rng_normal(&seed));
                double cand = 40.0 * exp(0.05 * rng_normal(&seed)) * (l == 1 ? 1.4 : 1.0);
                snprintf(run, sizeof run, "run%d", r);
                add(x, locs[l], "checkout", run, "search", base, cand, 1);
            }
    tp_error_clear(&err);
    assert_int_equal(tp_cross_judge(x, NULL, &err), TP_OK);
    assert_int_equal(x->njourneys, 1);
    assert_int_equal(x->nlocations, 3);
    assert_int_equal(x->journeys[0].nsteps, 1);
    assert_int_equal(x->journeys[0].steps[0].cells[1].verdict, TP_V_HIGH);
    assert_int_equal(x->journeys[0].steps[0].cells[0].verdict, TP_V_PASS);
    assert_int_equal(x->journeys[0].steps[0].cells[1].runs, 10);
    assert_int_equal(x->journeys[0].steps[0].cells[1].rounds, 120);
    assert_int_equal(x->journeys[0].steps[0].verdict, TP_V_HIGH);
    assert_true(x->journeys[0].steps[0].regional);
    assert_non_null(strstr(x->journeys[0].steps[0].reason, "us"));
    assert_string_equal(tp_cross_verdict_name(x->journeys[0].verdict, x->journeys[0].regional),
                        "REGIONAL");
    tp_cross_free(x);
}

/* Slow everywhere: HIGH; failures count as slow; too few rounds: INCONCLUSIVE
 * saying how many more. */
static void test_high_and_inconclusive(void **state)
{
    struct tp_cross_result *x = tp_cross_create();
    struct tp_error err;
    uint64_t seed = 5;
    (void)state;
    for (int k = 0; k < 60; k++)
        for (int l = 0; l < 2; l++)
            add(x, l ? "a" : "b", "j", "r1", "s", 40.0 * exp(0.05 * rng_normal(&seed)),
                52.0 * exp(0.05 * rng_normal(&seed)), 1);
    for (int k = 0; k < 4; k++)
        add(x, "a", "j2", "r1", "s", 40.0, 41.0, 1);
    add(x, "a", "j3", "r1", "s", 40.0, 0, 0);
    tp_error_clear(&err);
    assert_int_equal(tp_cross_judge(x, NULL, &err), TP_OK);
    assert_int_equal(x->journeys[0].steps[0].verdict, TP_V_HIGH);
    assert_false(x->journeys[0].steps[0].regional);
    assert_string_equal(x->journeys[0].steps[0].reason, "HIGH in 2 of 2 locations with data: b, a");
    assert_int_equal(x->journeys[0].verdict, TP_V_HIGH);
    assert_false(x->journeys[0].regional);
    assert_int_equal(x->journeys[1].steps[0].verdict, TP_V_INCONCLUSIVE);
    assert_non_null(strstr(x->journeys[1].steps[0].reason, "a: at least 2 more rounds"));
    assert_int_equal(x->journeys[1].steps[0].cells[0].verdict, TP_V_NODATA); /* "b" */
    assert_int_equal(x->journeys[2].steps[0].cells[1].errors, 1);
    tp_cross_free(x);
}

static void test_bad_entries(void **state)
{
    struct tp_cross_result *x = tp_cross_create();
    const char *names[] = {"run", "step", "cand", "base_ok", "cand_ok", "base_ms", "cand_ms",
                           "match"};
    const char *bad_ms[] = {"r", "s", "c", "1", "1", "abc", "1.0", "1"};
    const char *skipped[] = {"r", "s", "c", "1", "0", "", "1.0", "0"};
    const char *mono[] = {"r", "s", "", "1", "", "1.0", "", ""};
    struct tp_error err;
    (void)state;
    tp_error_clear(&err);
    assert_int_equal(tp_cross_add(x, "a", "j", names, bad_ms, 8, &err), TP_ERR_INVALID);
    assert_non_null(strstr(err.text, "base_ms"));
    assert_int_equal(tp_cross_add(x, "a", "j", names, bad_ms, 7, &err), TP_ERR_INVALID);
    assert_non_null(strstr(err.text, "match"));
    assert_int_equal(tp_cross_add(x, "a", "j", names, skipped, 8, &err), TP_OK);
    assert_int_equal(tp_cross_add(x, "a", "j", names, mono, 8, &err), TP_OK);
    assert_int_equal(x->skipped, 2);
    assert_int_equal(x->entries, 1);
    assert_int_equal(tp_cross_judge(x, NULL, &err), TP_OK);
    assert_int_equal(x->journeys[0].steps[0].verdict, TP_V_NODATA);
    assert_int_equal(x->journeys[0].verdict, TP_V_NODATA);
    tp_cross_free(x);
    tp_cross_free(NULL);
}

/* The series keeps <= TP_CROSS_MAX_POINTS evenly spaced points; diffs are counted. */
static void test_series_and_diffs(void **state)
{
    struct tp_cross_result *x = tp_cross_create();
    const char *names[] = {"run", "step", "cand", "base_ok", "cand_ok", "base_ms", "cand_ms",
                           "match", "diff"};
    const char *miss[] = {"r", "s", "c", "1", "1", "10.0", "11.0", "0", "$.a value_changed 1 -> 2"};
    const struct tp_cross_point *p;
    struct tp_error err;
    size_t n;
    (void)state;
    tp_error_clear(&err);
    for (int64_t i = 0; i < 5000; i++)
        assert_int_equal(tp_cross_add_at(x, "a", "j", 1000 * i, names, miss, 9, &err), TP_OK);
    assert_int_equal(tp_cross_add(x, "b", "j", names, miss, 9, &err), TP_OK);
    n = tp_cross_series(&x->journeys[0].steps[0], 0, &p);
    assert_true(n > 1000 && n <= TP_CROSS_MAX_POINTS);
    for (size_t i = 1; i < n; i++)
        assert_true(p[i].at_ms - p[i - 1].at_ms == p[1].at_ms - p[0].at_ms);
    assert_true(p[0].at_ms == 0 && p[0].base_ms == 10.0 && p[0].cand_ms == 11.0);
    assert_int_equal(tp_cross_series(&x->journeys[0].steps[0], 1, &p), 0);
    assert_int_equal(x->journeys[0].steps[0].ndiffs, 2);
    assert_int_equal(x->journeys[0].steps[0].diffs[0].count, 5000);
    assert_int_equal(x->journeys[0].steps[0].diffs[1].location, 1);
    tp_cross_free(x);
}

static void test_parse_time(void **state)
{
    int64_t t = 0, now = 1764150000000;
    struct tp_error err;
    (void)state;
    tp_error_clear(&err);
    assert_int_equal(tp_cross_parse_time("30m", now, 1, &t, &err), TP_OK);
    assert_true(t == now - 1800000);
    assert_int_equal(tp_cross_parse_time("2d", now, 1, &t, &err), TP_OK);
    assert_true(t == now - 2 * 86400000LL);
    assert_int_equal(tp_cross_parse_time("1764150000123", now, 0, &t, &err), TP_OK);
    assert_true(t == 1764150000123);
    assert_int_equal(tp_cross_parse_time("2025-11-26T09:40:00Z", now, 0, &t, &err), TP_OK);
    assert_true(t == 1764150000000);
    assert_int_equal(tp_cross_parse_time("2025-11-26T09:40", now, 0, &t, &err), TP_OK);
    assert_true(t == 1764150000000);
    assert_int_equal(tp_cross_parse_time("30m", now, 0, &t, &err), TP_ERR_INVALID);
    assert_int_equal(tp_cross_parse_time("yesterday", now, 1, &t, &err), TP_ERR_INVALID);
    assert_int_equal(tp_cross_parse_time("2025-13-01T00:00Z", now, 1, &t, &err), TP_ERR_INVALID);
    assert_int_equal(tp_cross_parse_time("", now, 1, &t, &err), TP_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_radius),           cmocka_unit_test(test_add_merge_clip),
        cmocka_unit_test(test_pairs_for),        cmocka_unit_test(test_anytime_false_alarms),
        cmocka_unit_test(test_regional),         cmocka_unit_test(test_high_and_inconclusive),
        cmocka_unit_test(test_bad_entries),      cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_series_and_diffs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
