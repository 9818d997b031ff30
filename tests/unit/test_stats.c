/* Unit tests for src/stats.c: every case of tests/conformance/stats-vectors.json
 * (read at run time; TP_STATS_VECTORS overrides the path), cross-checks against
 * values computed with R 4.2.2 (noted per case), and edge cases: empty input,
 * one pair, all zeros, all ties, infinities, NaN. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/stats.h"

#ifndef TP_SOURCE_DIR
#define TP_SOURCE_DIR "."
#endif
#define VECTORS_PATH TP_SOURCE_DIR "/tests/conformance/stats-vectors.json"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

static void near(double got, double want, double tol, const char *what)
{
    if (got == want || fabs(got - want) <= tol)
        return;
    fail_msg("%s = %.17g, want %.17g (tol %g)", what, got, want, tol);
}

/* ---- the conformance vectors */

struct tally {
    size_t cases;       /* reference cases reproduced */
    size_t informative; /* informative cases checked loosely */
    size_t values;      /* expected values compared */
};

/* Array of numbers -> new double array; *n its length. */
static double *numbers(const json_t *a, size_t *n)
{
    size_t i;
    double *v;
    assert_true(json_is_array(a));
    *n = json_array_size(a);
    v = malloc((*n + 1) * sizeof *v);
    assert_non_null(v);
    for (i = 0; i < *n; i++) {
        assert_true(json_is_number(json_array_get(a, i)));
        v[i] = json_number_value(json_array_get(a, i));
    }
    return v;
}

/* "p_<two_sided|greater|less>_<exact|asymptotic_cc|asymptotic_no_cc>" */
struct pkey {
    int alt; /* 0 two-sided, 1 greater, 2 less */
    struct tp_stats_opts opts;
};

static int parse_pkey(const char *key, struct pkey *pk)
{
    static const char *const alts[] = {"two_sided_", "greater_", "less_"};
    size_t i;
    if (strncmp(key, "p_", 2) != 0)
        return 0;
    key += 2;
    for (i = 0; i < COUNT_OF(alts); i++)
        if (strncmp(key, alts[i], strlen(alts[i])) == 0)
            break;
    if (i == COUNT_OF(alts))
        return 0;
    pk->alt = (int)i;
    key += strlen(alts[i]);
    pk->opts.conf = 0.95;
    pk->opts.correct = true;
    if (strcmp(key, "exact") == 0)
        pk->opts.method = TP_STATS_EXACT;
    else if (strcmp(key, "asymptotic_cc") == 0)
        pk->opts.method = TP_STATS_NORMAL;
    else if (strcmp(key, "asymptotic_no_cc") == 0) {
        pk->opts.method = TP_STATS_NORMAL;
        pk->opts.correct = false;
    } else
        return 0;
    return 1;
}

static double pick_p(const struct tp_stats_test *t, int alt)
{
    return alt == 0 ? t->p_two_sided : alt == 1 ? t->p_greater : t->p_less;
}

struct vcase {
    const char *section;
    size_t index;
    json_t *c;
    int informative;
    double tol;
};

static void vnear(const struct vcase *vc, const char *key, double got, json_t *want,
                  struct tally *t)
{
    char what[160];
    snprintf(what, sizeof what, "%s[%zu].expect.%s%s", vc->section, vc->index, key,
             vc->informative ? " (informative)" : "");
    assert_true(json_is_number(want));
    near(got, json_number_value(want), vc->informative ? 10 * vc->tol : vc->tol, what);
    t->values++;
}

/* The canary must come out significantly slower: test and interval agree. */
static void check_high(const struct tp_stats_test *test, const struct tp_stats_interval *iv)
{
    assert_true(test->p_greater < 0.05);
    assert_true(test->p_two_sided < 0.05);
    assert_true(iv->estimate > 0);
    assert_true(iv->low > 0 || (iv->low == 0 && iv->low_open));
}

static void run_mwu(const struct vcase *vc, struct tally *t)
{
    size_t nx, ny;
    double *x = numbers(json_object_get(vc->c, "x"), &nx);
    double *y = numbers(json_object_get(vc->c, "y"), &ny);
    json_t *expect = json_object_get(vc->c, "expect"), *want;
    const char *key;
    struct tp_stats_test auto_t, test;
    struct tp_stats_interval iv;

    assert_int_equal(tp_stats_mwu(x, nx, y, ny, NULL, &auto_t, NULL), TP_OK);
    json_object_foreach(expect, key, want) {
        struct pkey pk;
        if (strcmp(key, "U_x") == 0 || strcmp(key, "W") == 0) {
            vnear(vc, key, auto_t.statistic, want, t);
        } else if (parse_pkey(key, &pk)) {
            assert_int_equal(tp_stats_mwu(x, nx, y, ny, &pk.opts, &test, NULL), TP_OK);
            assert_int_equal(test.method, pk.opts.method);
            vnear(vc, key, pick_p(&test, pk.alt), want, t);
        } else if (strcmp(key, "verdict") == 0 && vc->informative) {
            assert_string_equal(json_string_value(want), "HIGH");
            assert_int_equal(tp_stats_mwu_hl(x, nx, y, ny, NULL, &iv, NULL), TP_OK);
            check_high(&auto_t, &iv);
            t->values++;
        } else {
            fail_msg("mann_whitney_u[%zu]: unknown expect key %s", vc->index, key);
        }
    }
    free(x);
    free(y);
}

static void check_interval(const struct vcase *vc, const struct tp_stats_interval *iv,
                           const char *est_key, struct tally *t)
{
    json_t *expect = json_object_get(vc->c, "expect"), *want;
    const char *key;
    json_object_foreach(expect, key, want) {
        if (strcmp(key, est_key) == 0)
            vnear(vc, key, iv->estimate, want, t);
        else if (strcmp(key, "ci_low") == 0)
            vnear(vc, key, iv->low, want, t);
        else if (strcmp(key, "ci_high") == 0)
            vnear(vc, key, iv->high, want, t);
        else if (strcmp(key, "achieved_conf") == 0)
            vnear(vc, key, iv->conf, want, t);
        else if (strncmp(key, "p_", 2) != 0 && strcmp(key, "V") != 0)
            fail_msg("%s[%zu]: unknown expect key %s", vc->section, vc->index, key);
    }
}

static void run_hl_unpaired(const struct vcase *vc, struct tally *t)
{
    size_t nx, ny;
    double *x = numbers(json_object_get(vc->c, "x"), &nx);
    double *y = numbers(json_object_get(vc->c, "y"), &ny);
    struct tp_stats_opts o = TP_STATS_OPTS_INIT;
    struct tp_stats_interval iv;

    o.conf = json_number_value(json_object_get(vc->c, "conf"));
    assert_int_equal(tp_stats_mwu_hl(x, nx, y, ny, &o, &iv, NULL), TP_OK);
    assert_int_equal(iv.method, TP_STATS_EXACT);
    check_interval(vc, &iv, "estimate", t);
    free(x);
    free(y);
}

static void run_signed(const struct vcase *vc, struct tally *t)
{
    size_t n, ny;
    double *d;
    json_t *expect = json_object_get(vc->c, "expect"), *want;
    const char *key;
    struct tp_stats_test test;

    if (json_object_get(vc->c, "d")) {
        d = numbers(json_object_get(vc->c, "d"), &n);
    } else {
        double *y = numbers(json_object_get(vc->c, "y"), &ny);
        d = numbers(json_object_get(vc->c, "x"), &n);
        size_t i;
        assert_int_equal(n, ny);
        for (i = 0; i < n; i++)
            d[i] -= y[i];
        free(y);
    }
    json_object_foreach(expect, key, want) {
        struct pkey pk;
        if (strcmp(key, "V") == 0) {
            assert_int_equal(tp_stats_wilcoxon(d, n, NULL, &test, NULL), TP_OK);
            vnear(vc, key, test.statistic, want, t);
        } else if (parse_pkey(key, &pk)) {
            assert_int_equal(tp_stats_wilcoxon(d, n, &pk.opts, &test, NULL), TP_OK);
            assert_int_equal(test.method, pk.opts.method);
            vnear(vc, key, pick_p(&test, pk.alt), want, t);
        }
    }
    if (json_object_get(vc->c, "conf")) {
        struct tp_stats_opts o = TP_STATS_OPTS_INIT;
        struct tp_stats_interval iv;
        o.conf = json_number_value(json_object_get(vc->c, "conf"));
        assert_int_equal(tp_stats_wilcoxon_hl(d, n, &o, &iv, NULL), TP_OK);
        assert_int_equal(iv.method, TP_STATS_EXACT);
        check_interval(vc, &iv, "pseudo_median", t);
    } else {
        json_object_foreach(expect, key, want) {
            struct pkey pk;
            if (strcmp(key, "V") != 0 && !parse_pkey(key, &pk))
                fail_msg("%s[%zu]: unknown expect key %s", vc->section, vc->index, key);
        }
    }
    free(d);
}

static void run_fisher(const struct vcase *vc, struct tally *t)
{
    json_t *tab = json_object_get(vc->c, "table"), *want;
    json_t *expect = json_object_get(vc->c, "expect");
    const char *key;
    size_t cell[4], i;
    struct tp_stats_fisher f;

    for (i = 0; i < 4; i++) {
        json_t *v = json_array_get(json_array_get(tab, i / 2), i % 2);
        assert_true(json_is_integer(v) && json_integer_value(v) >= 0);
        cell[i] = (size_t)json_integer_value(v);
    }
    assert_int_equal(tp_stats_fisher(cell[0], cell[1], cell[2], cell[3], &f, NULL), TP_OK);
    json_object_foreach(expect, key, want) {
        if (strcmp(key, "odds_ratio") == 0)
            vnear(vc, key, f.odds_ratio, want, t);
        else if (strcmp(key, "p_two_sided") == 0)
            vnear(vc, key, f.p_two_sided, want, t);
        else if (strcmp(key, "p_greater") == 0)
            vnear(vc, key, f.p_greater, want, t);
        else if (strcmp(key, "p_less") == 0)
            vnear(vc, key, f.p_less, want, t);
        else
            fail_msg("fisher_exact[%zu]: unknown expect key %s", vc->index, key);
    }
}

/* {"3+3": p, ...} and "2 / 2^n: N pairs are needed ..." */
static void run_minimum(json_t *ms, struct tally *t)
{
    json_t *un = json_object_get(ms, "unpaired_smallest_two_sided_p"), *want;
    json_t *paired = json_object_get(ms, "paired_smallest_two_sided_p");
    const char *key, *s, *hit, *p;
    size_t n;

    json_object_foreach(ms, key, want) {
        if (strcmp(key, "source") != 0 && strcmp(key, "unpaired_smallest_two_sided_p") != 0 &&
            strcmp(key, "paired_smallest_two_sided_p") != 0)
            fail_msg("minimum_samples: unknown key %s", key);
    }
    assert_true(json_is_object(un));
    json_object_foreach(un, key, want) {
        char *end;
        unsigned long a = strtoul(key, &end, 10), b;
        double x[64], y[64];
        size_t i;
        struct tp_stats_test test;
        struct tp_stats_opts exact = {TP_STATS_EXACT, true, 0.95, 0};

        assert_true(*end == '+');
        b = strtoul(end + 1, &end, 10);
        assert_true(*end == '\0' && a > 0 && b > 0 && a <= 64 && b <= 64);
        near(tp_stats_mwu_min_p(a, b), json_number_value(want), 1e-15, key);
        /* the exact test reaches it with complete separation */
        for (i = 0; i < a; i++)
            x[i] = 100 + (double)i;
        for (i = 0; i < b; i++)
            y[i] = (double)i;
        assert_int_equal(tp_stats_mwu(x, a, y, b, &exact, &test, NULL), TP_OK);
        near(test.p_two_sided, json_number_value(want), 1e-15, key);
        t->values++;
    }
    s = json_string_value(paired);
    assert_non_null(s);
    assert_true(strncmp(s, "2 / 2^n", 7) == 0);
    for (n = 1; n <= 30; n++)
        near(tp_stats_wilcoxon_min_p(n), fmin(1, 2 / ldexp(1, (int)n)), 0, "2 / 2^n");
    hit = strstr(s, " pairs are needed");
    assert_non_null(hit);
    for (p = hit; p > s && p[-1] >= '0' && p[-1] <= '9'; p--)
        ;
    n = (size_t)strtoul(p, NULL, 10);
    assert_true(n > 0);
    assert_true(tp_stats_wilcoxon_can_reject(n, 0.049999));
    assert_false(tp_stats_wilcoxon_can_reject(n - 1, 0.05));
    t->values++;
    t->cases++;
}

static void test_vectors(void **state)
{
    static const struct {
        const char *name;
        void (*run)(const struct vcase *, struct tally *);
    } sections[] = {
        {"mann_whitney_u", run_mwu},
        {"hodges_lehmann_unpaired", run_hl_unpaired},
        {"wilcoxon_signed_rank_paired", run_signed},
        {"fisher_exact", run_fisher},
    };
    const char *path = getenv("TP_STATS_VECTORS");
    json_error_t jerr;
    json_t *root, *val;
    const char *key;
    struct tally t = {0, 0, 0};
    size_t i, j;
    (void)state;

    if (!path || !*path)
        path = VECTORS_PATH;
    root = json_load_file(path, 0, &jerr);
    if (!root)
        fail_msg("%s:%d: %s", path, jerr.line, jerr.text);
    json_object_foreach(root, key, val) {
        for (i = 0; i < COUNT_OF(sections); i++)
            if (strcmp(key, sections[i].name) == 0)
                break;
        if (strcmp(key, "about") == 0)
            continue;
        if (strcmp(key, "minimum_samples") == 0) {
            run_minimum(val, &t);
            continue;
        }
        if (i == COUNT_OF(sections))
            fail_msg("%s: unknown section %s", path, key);
        assert_true(json_is_array(val));
        for (j = 0; j < json_array_size(val); j++) {
            struct vcase vc;
            vc.section = key;
            vc.index = j;
            vc.c = json_array_get(val, j);
            vc.informative = json_is_true(json_object_get(vc.c, "informative"));
            vc.tol = json_number_value(json_object_get(vc.c, "tol"));
            assert_true(vc.tol > 0);
            sections[i].run(&vc, &t);
            if (vc.informative)
                t.informative++;
            else
                t.cases++;
        }
    }
    json_decref(root);
    printf("stats-vectors: %zu reference cases reproduced, %zu informative checked, "
           "%zu values (%s)\n",
           t.cases, t.informative, t.values, path);
    assert_true(t.cases >= 9);
}

/* ---- cross-checks against R 4.2.2 */

static void test_wilcoxon_infinity_exact(void **state)
{
    /* wilcox.test(c(0.5,1.2,-0.3,2.2,0.9,1.7,Inf), conf.int=TRUE): one infinity,
     * no ties, so exact; V = 27, p = 0.03125, CI [0.3, Inf], estimate 1.325 */
    const double d[] = {0.5, 1.2, -0.3, 2.2, 0.9, 1.7, INFINITY};
    struct tp_stats_test t;
    struct tp_stats_interval iv;
    (void)state;
    assert_int_equal(tp_stats_wilcoxon(d, COUNT_OF(d), NULL, &t, NULL), TP_OK);
    assert_int_equal(t.method, TP_STATS_EXACT);
    assert_false(t.ties);
    near(t.statistic, 27, 0, "V");
    near(t.p_two_sided, 0.03125, 1e-15, "p");
    near(t.p_greater, 0.015625, 1e-15, "p greater");
    assert_int_equal(tp_stats_wilcoxon_hl(d, COUNT_OF(d), NULL, &iv, NULL), TP_OK);
    assert_int_equal(iv.method, TP_STATS_EXACT);
    near(iv.estimate, 1.325, 1e-12, "estimate");
    near(iv.low, 0.3, 1e-12, "low");
    assert_true(isinf(iv.high) && iv.high > 0);
    near(iv.conf, 1 - 2 * 3.0 / 128, 1e-15, "conf"); /* P(V <= 2) = 3/128 */
}

static void test_wilcoxon_infinity_ties(void **state)
{
    /* +inf and -inf tie in |d|: wilcox.test(c(Inf,-Inf,1,2)): V = 6.5,
     * p = 0.71270185665817842 (normal, corrected) */
    const double d[] = {INFINITY, -INFINITY, 1, 2};
    const double d2[] = {1, 2, 3, INFINITY, 5, 6, 7};
    struct tp_stats_test t;
    struct tp_stats_interval iv;
    (void)state;
    assert_int_equal(tp_stats_wilcoxon(d, COUNT_OF(d), NULL, &t, NULL), TP_OK);
    assert_int_equal(t.method, TP_STATS_NORMAL);
    assert_true(t.ties);
    near(t.statistic, 6.5, 0, "V");
    near(t.p_two_sided, 0.71270185665817842, 1e-13, "p");
    assert_int_equal(tp_stats_wilcoxon_hl(d, COUNT_OF(d), NULL, &iv, NULL), TP_OK);
    assert_true(isinf(iv.low) && iv.low < 0 && isinf(iv.high) && iv.high > 0);
    assert_false(isnan(iv.estimate));
    /* wilcox.test(c(1,2,3,Inf,5,6,7)): all positive, p = 2/128 */
    assert_int_equal(tp_stats_wilcoxon(d2, COUNT_OF(d2), NULL, &t, NULL), TP_OK);
    near(t.p_two_sided, 0.015625, 1e-15, "p all positive");
}

static void test_wilcoxon_normal_interval(void **state)
{
    /* wilcox.test(c(1.5,2,2,3.5,-1,4,2.5,3,0.5,2), conf.int=TRUE): ties, so normal;
     * p = 0.010622421299216341, CI [0.75005, 3.00004] by uniroot (tol 1e-4): the
     * exact inversion gives the Walsh averages 0.75 and 3 */
    const double d[] = {1.5, 2, 2, 3.5, -1, 4, 2.5, 3, 0.5, 2};
    struct tp_stats_test t;
    struct tp_stats_interval iv;
    (void)state;
    assert_int_equal(tp_stats_wilcoxon(d, COUNT_OF(d), NULL, &t, NULL), TP_OK);
    assert_int_equal(t.method, TP_STATS_NORMAL);
    near(t.statistic, 53, 0, "V");
    near(t.p_two_sided, 0.010622421299216341, 1e-13, "p");
    assert_int_equal(tp_stats_wilcoxon_hl(d, COUNT_OF(d), NULL, &iv, NULL), TP_OK);
    assert_int_equal(iv.method, TP_STATS_NORMAL);
    near(iv.low, 0.75, 1e-12, "low");
    near(iv.high, 3, 1e-12, "high");
    near(iv.estimate, 2, 1e-12, "estimate");
    near(iv.conf, 0.95, 1e-12, "conf");
}

static void test_mwu_normal_interval(void **state)
{
    /* wilcox.test(c(1,2,2,3,5,8), c(0,1,1,2,2,3,4), conf.int=TRUE, conf.level=0.9):
     * W = 29.5, p = 0.24314627115082685, CI [-8.4e-6, 3.99997] (uniroot), i.e. [0, 4] */
    const double x[] = {1, 2, 2, 3, 5, 8}, y[] = {0, 1, 1, 2, 2, 3, 4};
    struct tp_stats_opts o = {TP_STATS_AUTO, true, 0.9, 0};
    struct tp_stats_test t;
    struct tp_stats_interval iv;
    (void)state;
    assert_int_equal(tp_stats_mwu(x, COUNT_OF(x), y, COUNT_OF(y), &o, &t, NULL), TP_OK);
    assert_int_equal(t.method, TP_STATS_NORMAL);
    near(t.statistic, 29.5, 0, "W");
    near(t.p_two_sided, 0.24314627115082685, 1e-13, "p");
    assert_int_equal(tp_stats_mwu_hl(x, COUNT_OF(x), y, COUNT_OF(y), &o, &iv, NULL), TP_OK);
    near(iv.low, 0, 1e-12, "low");
    near(iv.high, 4, 1e-12, "high");
    near(iv.estimate, 1, 1e-12, "estimate");
}

static void test_kayenta_bimodal(void **state)
{
    /* spinnaker/spinnaker#6278: R gives W = 85, p = 0.0016167728306206081, one-sided
     * 0.00080838641531030407, CI [7.1e-05, 99]: the lower end is the difference
     * 0 approached from above, and the test rejects a shift of exactly 0 */
    double x[10], y[10];
    struct tp_stats_test t;
    struct tp_stats_interval iv;
    size_t i;
    (void)state;
    for (i = 0; i < 10; i++) {
        x[i] = i < 7 ? 100 : 1;
        y[i] = 1;
    }
    assert_int_equal(tp_stats_mwu(x, 10, y, 10, NULL, &t, NULL), TP_OK);
    near(t.p_two_sided, 0.0016167728306206081, 1e-13, "p");
    near(t.p_greater, 0.00080838641531030407, 1e-13, "p greater");
    assert_int_equal(tp_stats_mwu_hl(x, 10, y, 10, NULL, &iv, NULL), TP_OK);
    near(iv.estimate, 99, 0, "estimate");
    near(iv.low, 0, 0, "low");
    assert_true(iv.low_open);
    near(iv.high, 99, 0, "high");
    assert_false(iv.high_open);
    check_high(&t, &iv);
}

static void test_fisher_r(void **state)
{
    struct tp_stats_fisher f;
    (void)state;
    /* fisher.test(matrix(c(3,1,1,3),2)): 0.48571428571428582, greater 0.24285714285714288 */
    assert_int_equal(tp_stats_fisher(3, 1, 1, 3, &f, NULL), TP_OK);
    near(f.p_two_sided, 0.48571428571428582, 1e-13, "p");
    near(f.p_greater, 0.24285714285714288, 1e-13, "p greater");
    near(f.p_less, 1 - 0.24285714285714288 + 16.0 / 70, 1e-13, "p less"); /* P(A=3) = 16/70 */
    near(f.odds_ratio, 9, 0, "odds ratio");
    /* counts in the millions: fisher.test(matrix(c(1e6, 999000, 998000, 1001000), 2)) */
    assert_int_equal(tp_stats_fisher(1000000, 998000, 999000, 1001000, &f, NULL), TP_OK);
    near(f.p_two_sided, 0.045554248074022544, 1e-9 * 0.0455, "p large");
    assert_true(f.p_greater < f.p_two_sided && f.p_less > 0.9);
    /* a symmetric table at the mode: p = 1 */
    assert_int_equal(tp_stats_fisher(500000, 500000, 500000, 500000, &f, NULL), TP_OK);
    near(f.p_two_sided, 1, 1e-9, "p symmetric");
    near(f.odds_ratio, 1, 0, "odds ratio 1");
}

static void test_fisher_edges(void **state)
{
    struct tp_stats_fisher f;
    struct tp_error e;
    (void)state;
    assert_int_equal(tp_stats_fisher(0, 0, 3, 4, &f, NULL), TP_OK); /* empty row */
    near(f.p_two_sided, 1, 0, "empty row");
    assert_true(isnan(f.odds_ratio));
    assert_int_equal(tp_stats_fisher(5, 0, 0, 5, &f, NULL), TP_OK);
    assert_true(isinf(f.odds_ratio) && f.odds_ratio > 0);
    near(f.p_two_sided, 2.0 / 252, 1e-15, "separated"); /* 2 / C(10, 5) */
    near(f.p_greater, 1.0 / 252, 1e-15, "separated greater");
    near(f.p_less, 1, 0, "separated less");
    assert_int_equal(tp_stats_fisher(0, 0, 0, 0, &f, NULL), TP_OK);
    near(f.p_two_sided, 1, 0, "empty table");
    tp_error_clear(&e);
    assert_int_equal(tp_stats_fisher(TP_STATS_FISHER_MAX_TOTAL, 1, 0, 0, &f, &e), TP_ERR_LIMIT);
    assert_true(e.text[0] != '\0');
    assert_int_equal(tp_stats_fisher(1, 1, 1, 1, NULL, NULL), TP_ERR_INVALID);
}

/* ---- edge cases */

static void test_wilcoxon_empty_and_zeros(void **state)
{
    const double zeros[] = {0, 0, 0, -0.0};
    struct tp_stats_test t;
    struct tp_stats_interval iv;
    (void)state;
    assert_int_equal(tp_stats_wilcoxon(NULL, 0, NULL, &t, NULL), TP_OK);
    assert_int_equal(t.method, TP_STATS_NONE);
    near(t.p_two_sided, 1, 0, "p empty");
    near(t.p_greater, 1, 0, "p greater empty");
    assert_int_equal(tp_stats_wilcoxon_hl(NULL, 0, NULL, &iv, NULL), TP_OK);
    assert_int_equal(iv.method, TP_STATS_NONE);
    assert_true(isnan(iv.estimate) && isnan(iv.low) && isnan(iv.high));

    assert_int_equal(tp_stats_wilcoxon(zeros, COUNT_OF(zeros), NULL, &t, NULL), TP_OK);
    assert_int_equal(t.method, TP_STATS_NONE);
    assert_int_equal(t.zeros, 4);
    assert_int_equal(t.n, 0);
    near(t.p_two_sided, 1, 0, "p zeros");
    assert_int_equal(tp_stats_wilcoxon_hl(zeros, COUNT_OF(zeros), NULL, &iv, NULL), TP_OK);
    assert_int_equal(iv.method, TP_STATS_NONE);
}

static void test_wilcoxon_zeros_dropped(void **state)
{
    /* wilcox.test(c(0, 0, 1, 2, 3, -0.5)): zeros dropped, then normal (R refuses
     * the exact test with zeros): V = 9, p = 0.20124262095772402 */
    const double d[] = {0, 0, 1, 2, 3, -0.5};
    struct tp_stats_test t;
    double z;
    (void)state;
    assert_int_equal(tp_stats_wilcoxon(d, COUNT_OF(d), NULL, &t, NULL), TP_OK);
    assert_int_equal(t.zeros, 2);
    assert_int_equal(t.n, 4);
    assert_int_equal(t.method, TP_STATS_NORMAL);
    near(t.statistic, 9, 0, "V"); /* ranks of |d|: 0.5 -> 1, 1 -> 2, 2 -> 3, 3 -> 4 */
    z = (9 - 5 - 0.5) / sqrt(4 * 5 * 9 / 24.0);
    near(t.p_two_sided, 2 * tp_stats_norm_sf(z), 1e-15, "p");
    near(t.p_two_sided, 0.20124262095772402, 1e-13, "p (R)");
}

static void test_wilcoxon_one_pair(void **state)
{
    const double d[] = {0.3};
    struct tp_stats_test t;
    struct tp_stats_interval iv;
    (void)state;
    assert_int_equal(tp_stats_wilcoxon(d, 1, NULL, &t, NULL), TP_OK);
    assert_int_equal(t.method, TP_STATS_EXACT);
    near(t.statistic, 1, 0, "V");
    near(t.p_two_sided, 1, 0, "p");
    near(t.p_greater, 0.5, 0, "p greater");
    near(t.p_less, 1, 0, "p less");
    assert_int_equal(tp_stats_wilcoxon_hl(d, 1, NULL, &iv, NULL), TP_OK);
    near(iv.estimate, 0.3, 0, "estimate");
    near(iv.low, 0.3, 0, "low");
    near(iv.high, 0.3, 0, "high");
    near(iv.conf, 0, 0, "conf"); /* no level is reachable with one pair */
}

static void test_all_ties(void **state)
{
    /* wilcox.test(rep(1, 7)): V = 28, p = 0.010733416102997195 */
    const double d[] = {1, 1, 1, 1, 1, 1, 1};
    const double x[] = {2, 2, 2}, y[] = {2, 2};
    struct tp_stats_test t;
    struct tp_stats_interval iv;
    (void)state;
    assert_int_equal(tp_stats_wilcoxon(d, COUNT_OF(d), NULL, &t, NULL), TP_OK);
    assert_int_equal(t.method, TP_STATS_NORMAL);
    assert_true(t.ties);
    near(t.statistic, 28, 0, "V");
    near(t.p_two_sided, 0.010733416102997195, 1e-13, "p");
    assert_int_equal(tp_stats_wilcoxon_hl(d, COUNT_OF(d), NULL, &iv, NULL), TP_OK);
    near(iv.estimate, 1, 0, "estimate");
    near(iv.low, 1, 0, "low");
    near(iv.high, 1, 0, "high");
    /* two samples, one value: nothing to test, the shift is exactly 0 */
    assert_int_equal(tp_stats_mwu(x, 3, y, 2, NULL, &t, NULL), TP_OK);
    assert_int_equal(t.method, TP_STATS_NONE);
    near(t.statistic, 3, 0, "U");
    near(t.p_two_sided, 1, 0, "p tied");
    assert_int_equal(tp_stats_mwu_hl(x, 3, y, 2, NULL, &iv, NULL), TP_OK);
    near(iv.estimate, 0, 0, "shift");
    near(iv.low, 0, 0, "shift low");
    near(iv.high, 0, 0, "shift high");
}

static void test_mwu_empty_and_infinity(void **state)
{
    const double x[] = {INFINITY, INFINITY, INFINITY, 5}, y[] = {1, 2, 3, 4, 2.5, 1.5};
    const double both[] = {INFINITY, INFINITY};
    struct tp_stats_test t;
    struct tp_stats_interval iv;
    (void)state;
    assert_int_equal(tp_stats_mwu(NULL, 0, y, COUNT_OF(y), NULL, &t, NULL), TP_OK);
    assert_int_equal(t.method, TP_STATS_NONE);
    near(t.p_two_sided, 1, 0, "p empty");
    assert_int_equal(tp_stats_mwu_hl(x, COUNT_OF(x), NULL, 0, NULL, &iv, NULL), TP_OK);
    assert_int_equal(iv.method, TP_STATS_NONE);
    assert_true(isnan(iv.estimate));

    /* failed candidate runs are worse than any completed run */
    assert_int_equal(tp_stats_mwu(x, COUNT_OF(x), y, COUNT_OF(y), NULL, &t, NULL), TP_OK);
    near(t.statistic, 24, 0, "U all above");
    assert_true(t.ties); /* the three infinities */
    assert_true(t.p_greater < 0.01);
    assert_int_equal(tp_stats_mwu_hl(x, COUNT_OF(x), y, COUNT_OF(y), NULL, &iv, NULL), TP_OK);
    assert_true(isinf(iv.estimate) && iv.estimate > 0);
    assert_true(iv.low > 0 && isfinite(iv.low));
    assert_true(isinf(iv.high) && iv.high > 0);

    /* inf - inf among the differences counts as 0, as the ranks tie */
    assert_int_equal(tp_stats_mwu_hl(both, 2, both, 2, NULL, &iv, NULL), TP_OK);
    near(iv.estimate, 0, 0, "inf - inf");
}

static void test_nan_rejected(void **state)
{
    const double bad[] = {1, 2, NAN, 4};
    const double ok[] = {1, 2, 3};
    struct tp_stats_test t;
    struct tp_stats_interval iv;
    struct tp_error e;
    double out, adj[4];
    (void)state;
    tp_error_clear(&e);
    assert_int_equal(tp_stats_wilcoxon(bad, 4, NULL, &t, &e), TP_ERR_INVALID);
    assert_non_null(strstr(e.text, "d[2]"));
    assert_int_equal(t.method, TP_STATS_NONE);
    assert_int_equal(tp_stats_wilcoxon_hl(bad, 4, NULL, &iv, NULL), TP_ERR_INVALID);
    assert_true(isnan(iv.estimate));
    tp_error_clear(&e);
    assert_int_equal(tp_stats_mwu(ok, 3, bad, 4, NULL, &t, &e), TP_ERR_INVALID);
    assert_non_null(strstr(e.text, "y[2]"));
    assert_int_equal(tp_stats_mwu_hl(bad, 4, ok, 3, NULL, &iv, NULL), TP_ERR_INVALID);
    assert_int_equal(tp_stats_quantile(bad, 4, 0.5, NULL, &out, NULL), TP_ERR_INVALID);
    assert_int_equal(tp_stats_quantile(ok, 3, NAN, NULL, &out, NULL), TP_ERR_INVALID);
    assert_int_equal(tp_stats_holm(bad, 4, adj, NULL), TP_ERR_INVALID);
    assert_true(isnan(tp_stats_norm_quantile(NAN)));
}

static void test_bad_arguments(void **state)
{
    const double d[] = {1, 2, 3};
    struct tp_stats_opts o = {TP_STATS_AUTO, true, 1.0, 0};
    struct tp_stats_interval iv;
    struct tp_stats_test t;
    double adj[2], p[2] = {0.5, 1.5}, out;
    (void)state;
    assert_int_equal(tp_stats_wilcoxon_hl(d, 3, &o, &iv, NULL), TP_ERR_INVALID);
    o.conf = 0.95;
    o.method = TP_STATS_NONE;
    assert_int_equal(tp_stats_wilcoxon(d, 3, &o, &t, NULL), TP_ERR_INVALID);
    assert_int_equal(tp_stats_wilcoxon(d, 3, NULL, NULL, NULL), TP_ERR_INVALID);
    assert_int_equal(tp_stats_wilcoxon(NULL, 3, NULL, &t, NULL), TP_ERR_INVALID);
    assert_int_equal(tp_stats_holm(p, 2, adj, NULL), TP_ERR_INVALID);
    assert_int_equal(tp_stats_quantile(d, 3, 1.5, NULL, &out, NULL), TP_ERR_INVALID);
}

static void test_limits(void **state)
{
    /* 5000 x 5000 differences: over TP_STATS_HL_MAX for Mann-Whitney; the
     * signed-rank function counts its 12.5 million Walsh averages instead */
    const size_t n = 5000;
    double *d = calloc(n, sizeof *d);
    struct tp_stats_interval iv;
    struct tp_error e;
    (void)state;
    assert_non_null(d);
    tp_error_clear(&e);
    assert_int_equal(tp_stats_mwu_hl(d, n, d, n, NULL, &iv, &e), TP_ERR_LIMIT);
    assert_int_equal(iv.method, TP_STATS_NONE);
    assert_true(e.text[0] != '\0');
    for (size_t i = 0; i < n; i++)
        d[i] = (double)(i % 97) - 40.5;
    assert_int_equal(tp_stats_wilcoxon_hl(d, n, NULL, &iv, NULL), TP_OK);
    assert_int_equal(iv.method, TP_STATS_NORMAL);
    assert_true(iv.low <= iv.estimate && iv.estimate <= iv.high);
    for (size_t i = 0; i < n; i++)
        d[i] = 0;
    assert_int_equal(tp_stats_wilcoxon_hl(d, 4000, NULL, &iv, NULL), TP_OK); /* all zeros */
    assert_int_equal(iv.method, TP_STATS_NONE);
    free(d);
}

/* The signed-rank interval read from the Walsh averages held in memory and
 * from the sorted differences by counting (past opts->hold_max) is the same,
 * bit for bit: ties, zeros, infinities of both signs, exact and normal. */
static void test_hl_held_or_counted(void **state)
{
    static const size_t sizes[] = {1, 2, 7, 30, 49, 120, 401};
    uint64_t x = 88172645463325252ull;
    (void)state;
    for (size_t z = 0; z < sizeof sizes / sizeof *sizes; z++) {
        size_t n = sizes[z];
        double *d = calloc(n, sizeof *d);
        assert_non_null(d);
        for (int round = 0; round < 6; round++) {
            for (size_t i = 0; i < n; i++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                /* round 0: distinct reals; 1: coarse (ties, zeros); 2: with infinities */
                d[i] = round % 3 == 0   ? (double)(x % 1000003) / 7919.0 - 60.0
                       : round % 3 == 1 ? (double)(x % 9) - 4.0
                       : x % 11 == 0    ? INFINITY
                       : x % 13 == 0    ? -INFINITY
                                        : (double)(x % 2001) / 100.0 - 9.0;
            }
            for (int method = 0; method < 2; method++) {
                struct tp_stats_opts held = {method ? TP_STATS_EXACT : TP_STATS_AUTO, true, 0.95,
                                             SIZE_MAX};
                struct tp_stats_opts counted = held;
                struct tp_stats_interval a, b;
                counted.hold_max = 1;
                assert_int_equal(tp_stats_wilcoxon_hl(d, n, &held, &a, NULL), TP_OK);
                assert_int_equal(tp_stats_wilcoxon_hl(d, n, &counted, &b, NULL), TP_OK);
                assert_int_equal(a.method, b.method);
                assert_int_equal(a.n, b.n);
                assert_memory_equal(&a.estimate, &b.estimate, sizeof a.estimate);
                assert_memory_equal(&a.low, &b.low, sizeof a.low);
                assert_memory_equal(&a.high, &b.high, sizeof a.high);
                assert_memory_equal(&a.conf, &b.conf, sizeof a.conf);
                assert_int_equal(a.low_open, b.low_open);
                assert_int_equal(a.high_open, b.high_open);
            }
        }
        free(d);
    }
}

static void test_method_choice(void **state)
{
    double d[60], x[60], y[60];
    struct tp_stats_opts exact = {TP_STATS_EXACT, true, 0.95, 0};
    struct tp_stats_test t;
    size_t i;
    (void)state;
    for (i = 0; i < 60; i++) {
        d[i] = (i % 3 ? 1.0 : -1.0) * (double)(i + 1) / 7;
        x[i] = (double)i + 0.5;
        y[i] = (double)i * 0.97 + 0.013;
    }
    assert_int_equal(tp_stats_wilcoxon(d, 49, NULL, &t, NULL), TP_OK);
    assert_int_equal(t.method, TP_STATS_EXACT);
    assert_int_equal(tp_stats_wilcoxon(d, 50, NULL, &t, NULL), TP_OK);
    assert_int_equal(t.method, TP_STATS_NORMAL);
    assert_int_equal(tp_stats_wilcoxon(d, 60, &exact, &t, NULL), TP_OK);
    assert_int_equal(t.method, TP_STATS_EXACT);
    d[1] = d[0]; /* a tie: exact is refused even when asked for */
    assert_int_equal(tp_stats_wilcoxon(d, 10, &exact, &t, NULL), TP_OK);
    assert_int_equal(t.method, TP_STATS_NORMAL);
    assert_int_equal(tp_stats_mwu(x, 49, y, 49, NULL, &t, NULL), TP_OK);
    assert_int_equal(t.method, TP_STATS_EXACT);
    assert_int_equal(tp_stats_mwu(x, 50, y, 49, NULL, &t, NULL), TP_OK);
    assert_int_equal(t.method, TP_STATS_NORMAL);
    assert_int_equal(tp_stats_mwu(x, 60, y, 60, &exact, &t, NULL), TP_OK);
    assert_int_equal(t.method, TP_STATS_EXACT);
}

static void test_exact_symmetry(void **state)
{
    /* exact p-values: less + greater = 1 + P(V = v); two-sided = 2 min tail */
    const double d[] = {0.3, -1.1, 2.4, 0.7, -0.2, 1.9, 1.3, -0.6, 2.8, 0.1};
    double neg[COUNT_OF(d)];
    struct tp_stats_test a, b;
    size_t i;
    (void)state;
    for (i = 0; i < COUNT_OF(d); i++)
        neg[i] = -d[i];
    assert_int_equal(tp_stats_wilcoxon(d, COUNT_OF(d), NULL, &a, NULL), TP_OK);
    assert_int_equal(tp_stats_wilcoxon(neg, COUNT_OF(d), NULL, &b, NULL), TP_OK);
    near(a.statistic + b.statistic, 55, 0, "V + V'");
    near(a.p_greater, b.p_less, 1e-15, "mirror");
    near(a.p_two_sided, b.p_two_sided, 1e-15, "mirror two-sided");
    near(a.p_two_sided, 2 * fmin(a.p_greater, a.p_less), 1e-15, "two tails");
}

static void test_small_sample_guard(void **state)
{
    double d[12];
    struct tp_stats_test t;
    size_t n;
    (void)state;
    near(tp_stats_wilcoxon_min_p(0), 1, 0, "n = 0");
    near(tp_stats_wilcoxon_min_p(1), 1, 0, "n = 1");
    near(tp_stats_wilcoxon_min_p(5), 0.0625, 0, "n = 5");
    assert_false(tp_stats_wilcoxon_can_reject(5, 0.05));
    assert_true(tp_stats_wilcoxon_can_reject(6, 0.05));
    assert_true(tp_stats_wilcoxon_can_reject(5, 0.0625));
    assert_true(tp_stats_wilcoxon_min_p(5000) == 0);
    for (n = 1; n <= COUNT_OF(d); n++) {
        d[n - 1] = (double)n * 0.25;
        assert_int_equal(tp_stats_wilcoxon(d, n, NULL, &t, NULL), TP_OK);
        near(t.p_two_sided, tp_stats_wilcoxon_min_p(n), 1e-15, "all positive");
    }
    near(tp_stats_mwu_min_p(0, 4), 1, 0, "empty");
    near(tp_stats_mwu_min_p(1, 1), 1, 0, "1 + 1");
    near(tp_stats_mwu_min_p(5, 5), 2.0 / 252, 1e-17, "5 + 5");
    near(tp_stats_mwu_min_p(2, 8), 2.0 / 45, 1e-17, "2 + 8");
}

static void test_holm(void **state)
{
    /* p.adjust(c(0.01, 0.04, 0.03, 0.005, 0.5), "holm") */
    double p[] = {0.01, 0.04, 0.03, 0.005, 0.5};
    const double want[] = {0.04, 0.09, 0.09, 0.025, 0.5};
    double q[] = {0.02, 0.02, 0.5, 0.9}, adj[5];
    const double want_q[] = {0.08, 0.08, 1, 1};
    size_t i;
    (void)state;
    assert_int_equal(tp_stats_holm(p, COUNT_OF(p), adj, NULL), TP_OK);
    for (i = 0; i < COUNT_OF(p); i++)
        near(adj[i], want[i], 1e-15, "holm");
    assert_int_equal(tp_stats_holm(q, COUNT_OF(q), q, NULL), TP_OK); /* in place */
    for (i = 0; i < COUNT_OF(q); i++)
        near(q[i], want_q[i], 1e-15, "holm in place");
    assert_int_equal(tp_stats_holm(NULL, 0, NULL, NULL), TP_OK);
}

static void test_normal(void **state)
{
    const double ps[] = {1e-300, 1e-20, 1e-10, 0.001, 0.025, 0.3, 0.5, 0.9, 0.999, 1 - 1e-10};
    size_t i;
    (void)state;
    near(tp_stats_norm_cdf(0), 0.5, 0, "cdf(0)");
    near(tp_stats_norm_sf(1.959963984540054), 0.025, 1e-16, "sf(1.96)");
    near(tp_stats_norm_sf(10) / 7.6198530241605269e-24, 1, 1e-13, "sf(10)"); /* pnorm(-10) */
    near(tp_stats_norm_quantile(0.975), 1.959963984540054, 1e-15, "qnorm(0.975)");
    near(tp_stats_norm_quantile(1e-10), -6.3613409024040557, 1e-14, "qnorm(1e-10)");
    near(tp_stats_norm_quantile(1e-300), -37.047096299361201, 1e-12, "qnorm(1e-300)");
    assert_true(isinf(tp_stats_norm_quantile(0)) && tp_stats_norm_quantile(0) < 0);
    assert_true(isinf(tp_stats_norm_quantile(1)) && tp_stats_norm_quantile(1) > 0);
    assert_true(isnan(tp_stats_norm_quantile(1.5)));
    for (i = 0; i < COUNT_OF(ps); i++) {
        double z = tp_stats_norm_quantile(ps[i]);
        double back = ps[i] < 0.5 ? tp_stats_norm_cdf(z) : 1 - tp_stats_norm_sf(z);
        near(back / ps[i], 1, 1e-13, "quantile round trip");
    }
}

static void test_quantile(void **state)
{
    /* quantile(c(3,1,4,1,5,9,2,6), c(0, .1, .25, .5, .9, 1)) */
    const double x[] = {3, 1, 4, 1, 5, 9, 2, 6};
    const double probs[] = {0, 0.1, 0.25, 0.5, 0.9, 1};
    const double want[] = {1, 1, 1.75, 3.5, 6.8999999999999995, 9};
    const double inf2[] = {1, INFINITY}, infs[] = {-INFINITY, INFINITY};
    double scratch[8], copy[8], out;
    size_t i;
    (void)state;
    for (i = 0; i < COUNT_OF(probs); i++) {
        assert_int_equal(tp_stats_quantile(x, 8, probs[i], NULL, &out, NULL), TP_OK);
        near(out, want[i], 1e-15, "quantile");
        assert_int_equal(tp_stats_quantile(x, 8, probs[i], scratch, &out, NULL), TP_OK);
        near(out, want[i], 1e-15, "quantile scratch");
    }
    memcpy(copy, x, sizeof copy);
    assert_int_equal(tp_stats_median(copy, 8, copy, &out, NULL), TP_OK); /* in place */
    near(out, 3.5, 0, "median");
    assert_true(copy[0] == 1 && copy[7] == 9);
    assert_int_equal(tp_stats_median(NULL, 0, NULL, &out, NULL), TP_OK);
    assert_true(isnan(out));
    assert_int_equal(tp_stats_median(x, 1, NULL, &out, NULL), TP_OK);
    near(out, 3, 0, "median of one");
    assert_int_equal(tp_stats_median(inf2, 2, NULL, &out, NULL), TP_OK);
    assert_true(isinf(out) && out > 0);
    assert_int_equal(tp_stats_quantile(inf2, 2, 0, NULL, &out, NULL), TP_OK);
    near(out, 1, 0, "min with inf");
    assert_int_equal(tp_stats_median(infs, 2, NULL, &out, NULL), TP_OK);
    assert_true(isnan(out));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_wilcoxon_infinity_exact),
        cmocka_unit_test(test_wilcoxon_infinity_ties),
        cmocka_unit_test(test_wilcoxon_normal_interval),
        cmocka_unit_test(test_mwu_normal_interval),
        cmocka_unit_test(test_kayenta_bimodal),
        cmocka_unit_test(test_fisher_r),
        cmocka_unit_test(test_fisher_edges),
        cmocka_unit_test(test_wilcoxon_empty_and_zeros),
        cmocka_unit_test(test_wilcoxon_zeros_dropped),
        cmocka_unit_test(test_wilcoxon_one_pair),
        cmocka_unit_test(test_all_ties),
        cmocka_unit_test(test_mwu_empty_and_infinity),
        cmocka_unit_test(test_nan_rejected),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_hl_held_or_counted),
        cmocka_unit_test(test_method_choice),
        cmocka_unit_test(test_exact_symmetry),
        cmocka_unit_test(test_small_sample_guard),
        cmocka_unit_test(test_holm),
        cmocka_unit_test(test_normal),
        cmocka_unit_test(test_quantile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
