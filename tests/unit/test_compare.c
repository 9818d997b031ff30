/* Unit tests for src/compare.c, the run's one comparison: per-round pairs and
 * diffs, noise learned once (within a round and across rounds), distinct
 * mismatches with the rounds they were seen in, the one rule for "this step
 * fails the run" under each --fail-on, and mismatches masked where they are
 * made (data masked, twinprobe's labels never). Results are built by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/compare.h"

#define ROUNDS 3

static char s_get[] = "get", s_journey[] = "j";
static char s_stable[] = "stable", s_canary[] = "canary", s_noise[] = "stable/noise";

struct fixture {
    struct tp_step step;
    struct tp_journey journey;
    struct tp_target targets[3];
    struct tp_run_report r;
    struct tp_compare_plan plan;
    tp_secrets *secrets;
    struct tp_comparison cmp;
};

/* A finished step with a JSON body and a total time. */
static void set_step(struct tp_step_result *s, const struct tp_step *step, long status,
                     const char *body, double total)
{
    s->step = step;
    s->ok = status < 400;
    s->failure = s->ok ? TP_FAIL_NONE : TP_FAIL_HTTP;
    s->attempts = 1;
    s->response.status = status;
    s->response.body = strdup(body);
    assert_non_null(s->response.body);
    s->response.body_len = strlen(body);
    s->response.timings.total_ms = total;
}

/* body(round, target) gives each side's body: stable, canary, then (with noise)
 * the baseline's second run. */
typedef const char *(*body_fn)(unsigned round, size_t target, char *buf, size_t size);

static struct fixture *make(int noise, body_fn body, const char *secret)
{
    struct fixture *f = calloc(1, sizeof *f);
    size_t ntargets = noise ? 3 : 2;
    assert_non_null(f);
    f->step.name = s_get;
    f->journey.name = s_journey;
    f->journey.steps = &f->step;
    f->journey.nsteps = 1;
    f->journey.compare.noise = noise ? TP_NOISE_LEARN : TP_NOISE_OFF;
    f->journey.compare.margin_pct = f->journey.compare.margin_ms = -1;
    f->targets[0].name = s_stable;
    f->targets[1].name = s_canary;
    f->targets[2].name = s_noise;
    f->secrets = tp_secrets_create();
    assert_non_null(f->secrets);
    if (secret)
        assert_int_equal(tp_secrets_add(f->secrets, secret), TP_OK);
    f->plan = (struct tp_compare_plan){1,
                                       ntargets,
                                       ROUNDS,
                                       noise ? 2 : -1,
                                       1,
                                       TP_VERDICT_OPTS_INIT,
                                       TP_FAIL_ON_HIGH,
                                       f->secrets};
    f->r.njourneys = ROUNDS * ntargets;
    f->r.journeys = calloc(f->r.njourneys, sizeof *f->r.journeys);
    assert_non_null(f->r.journeys);
    for (unsigned k = 0; k < ROUNDS; k++)
        for (size_t t = 0; t < ntargets; t++) {
            struct tp_journey_result *jr = &f->r.journeys[tp_compare_index(&f->plan, k, 0, t)];
            char buf[256];
            jr->journey = &f->journey;
            jr->target = &f->targets[t];
            jr->round = k + 1;
            jr->ok = 1;
            jr->steps = calloc(1, sizeof *jr->steps);
            assert_non_null(jr->steps);
            set_step(&jr->steps[0], &f->step, 200, body(k, t, buf, sizeof buf),
                     10.0 + (double)t + k);
        }
    return f;
}

static void compare(struct fixture *f, enum tp_fail_on fail_on)
{
    struct tp_error err;
    tp_error_clear(&err);
    tp_comparison_clear(&f->cmp);
    f->plan.fail_on = fail_on;
    if (tp_compare_run(&f->r, &f->plan, &f->cmp, &err) != TP_OK)
        fail_msg("compare: %s", err.text);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (!f)
        return 0;
    tp_comparison_clear(&f->cmp);
    tp_run_report_clear(&f->r);
    tp_secrets_free(f->secrets);
    free(f);
    return 0;
}

/* A build number: the same on every side within a round, new each round. */
static const char *per_round(unsigned round, size_t target, char *buf, size_t size)
{
    (void)target;
    snprintf(buf, size, "{\"v\": %u, \"price\": 12.5}", 100 + round);
    return buf;
}

static void test_noise_across_rounds(void **state)
{
    struct fixture *f = make(1, per_round, NULL);
    const struct tp_step_cmp *sc;
    *state = f;
    compare(f, TP_FAIL_ON_HIGH);
    assert_int_equal(f->cmp.npairs, 1); /* the noise run is no candidate */
    assert_int_equal(f->cmp.pairs[0].cand, 1);
    sc = &f->cmp.pairs[0].steps[0];
    assert_true(sc->nnoise >= 1); /* $['v'] learned across rounds */
    assert_int_equal(sc->mismatches.total, 0);
    for (unsigned k = 0; k < ROUNDS; k++) {
        assert_int_equal(sc->rounds[k].diffs, 0);
        assert_null(sc->rounds[k].first_diff);
    }
}

/* The canary has its own build number, also new each round. */
static const char *own_build(unsigned round, size_t target, char *buf, size_t size)
{
    snprintf(buf, size, "{\"v\": %u, \"price\": 12.5}", 100 + round + (target == 1 ? 1000 : 0));
    return buf;
}

/* "rounds" (the default): learned from the baseline's own rounds, no noise run;
 * the learned paths are listed for the report. "off": every round differs. */
static void test_noise_from_rounds(void **state)
{
    struct fixture *f = make(0, own_build, NULL);
    const struct tp_step_cmp *sc;
    *state = f;
    compare(f, TP_FAIL_ON_HIGH);
    sc = &f->cmp.pairs[0].steps[0];
    assert_int_equal(sc->mismatches.total, 1);
    assert_int_equal(sc->mismatch_rounds[0], ROUNDS);
    assert_int_equal(sc->nnoise, 0);
    assert_int_equal(sc->noise_from, 0);

    f->journey.compare.noise = TP_NOISE_ROUNDS;
    compare(f, TP_FAIL_ON_HIGH);
    sc = &f->cmp.pairs[0].steps[0];
    assert_int_equal(sc->mismatches.total, 0);
    assert_int_equal(sc->nnoise, 1);
    assert_string_equal(sc->noise[0], "$['v']");
    assert_int_equal(sc->noise_from, ROUNDS);
    assert_false(f->cmp.fails);
}

/* A value longer than the cut: masked first, then cut, so no prefix of a long
 * secret survives. */
static const char *long_value(unsigned round, size_t target, char *buf, size_t size)
{
    (void)round;
    snprintf(buf, size, "{\"t\": \"%.*s%s\"}", 190, "................................................................................................................................................................................................................", target == 1 ? "SECRET-0123456789-abcdef" : "x");
    return buf;
}

static void test_cut_after_masking(void **state)
{
    struct fixture *f = make(0, long_value, "SECRET-0123456789-abcdef");
    const char *cand;
    *state = f;
    compare(f, TP_FAIL_ON_HIGH);
    cand = f->cmp.pairs[0].steps[0].mismatches.items[0].cand;
    assert_null(strstr(cand, "SECR")); /* not even a prefix */
    assert_non_null(strstr(cand, "***"));
}

/* Without noise learning the same bodies agree too: both sides change together. */
static void test_equal_sides_no_noise(void **state)
{
    struct fixture *f = make(0, per_round, NULL);
    *state = f;
    compare(f, TP_FAIL_ON_HIGH);
    assert_int_equal(f->cmp.pairs[0].steps[0].mismatches.total, 0);
    assert_int_equal(f->cmp.pairs[0].fails, 0);
}

/* The canary's price is a string in rounds 1 and 3. */
static const char *price_type(unsigned round, size_t target, char *buf, size_t size)
{
    snprintf(buf, size, "{\"price\": %s}",
             target == 1 && round != 1 ? "\"12.50\"" : "12.5");
    return buf;
}

static void test_mismatch_rounds_and_fail_rule(void **state)
{
    struct fixture *f = make(0, price_type, NULL);
    const struct tp_step_cmp *sc;
    *state = f;
    compare(f, TP_FAIL_ON_HIGH);
    sc = &f->cmp.pairs[0].steps[0];
    assert_int_equal(sc->mismatches.total, 1);
    assert_int_equal(sc->mismatches.items[0].kind, TP_MM_TYPE_CHANGED);
    assert_string_equal(sc->mismatches.items[0].path, "$['price']");
    assert_int_equal(sc->mismatch_rounds[0], 2);
    assert_int_equal(sc->rounds[0].diffs, 1);
    assert_string_equal(sc->rounds[0].first_diff, "$['price'] type_changed 12.5 -> \"12.50\"");
    assert_int_equal(sc->rounds[1].diffs, 0);
    assert_null(sc->rounds[1].first_diff);
    assert_int_equal(sc->rounds[2].diffs, 1);
    /* the latency pairs the statistics saw */
    assert_true(sc->rounds[0].base_ms == 10.0 && sc->rounds[0].cand_ms == 11.0);
    assert_true(sc->fails);
    assert_true(f->cmp.pairs[0].fails);
    assert_true(f->cmp.fails);
    assert_int_equal(f->cmp.pairs[0].mismatches, 1);

    compare(f, TP_FAIL_ON_NEVER);
    assert_false(f->cmp.pairs[0].steps[0].fails);
    assert_false(f->cmp.fails);
}

struct fail_case {
    enum tp_verdict verdict;
    size_t mismatches;
    enum tp_fail_on fail_on;
    int fails;
};

static const struct fail_case fail_cases[] = {
    {TP_V_PASS, 0, TP_FAIL_ON_HIGH, 0},
    {TP_V_LOW, 0, TP_FAIL_ON_HIGH, 0},
    {TP_V_INCONCLUSIVE, 0, TP_FAIL_ON_HIGH, 0},
    {TP_V_NODATA, 0, TP_FAIL_ON_HIGH, 0},
    {TP_V_HIGH, 0, TP_FAIL_ON_HIGH, 1},
    {TP_V_CRITICAL, 0, TP_FAIL_ON_HIGH, 1},
    {TP_V_PASS, 1, TP_FAIL_ON_HIGH, 1},
    {TP_V_INCONCLUSIVE, 0, TP_FAIL_ON_INCONCLUSIVE, 1},
    {TP_V_NODATA, 0, TP_FAIL_ON_INCONCLUSIVE, 1},
    {TP_V_PASS, 0, TP_FAIL_ON_INCONCLUSIVE, 0},
    {TP_V_LOW, 0, TP_FAIL_ON_INCONCLUSIVE, 0},
    {TP_V_CRITICAL, 3, TP_FAIL_ON_NEVER, 0},
    {TP_V_HIGH, 0, TP_FAIL_ON_NEVER, 0},
};

static void test_step_fails_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof fail_cases / sizeof fail_cases[0]; i++) {
        struct tp_step_verdict v;
        memset(&v, 0, sizeof v);
        v.verdict = fail_cases[i].verdict;
        if (tp_compare_step_fails(&v, fail_cases[i].mismatches, fail_cases[i].fail_on) !=
            fail_cases[i].fails)
            fail_msg("case %zu: %s with %zu mismatches under fail_on %d", i,
                     tp_verdict_name(v.verdict), fail_cases[i].mismatches,
                     (int)fail_cases[i].fail_on);
    }
}

/* Two rounds agree; an INCONCLUSIVE step (3 rounds cannot reach p < 0.05) fails
 * the run only under --fail-on inconclusive. */
static void test_inconclusive_fails_only_when_asked(void **state)
{
    struct fixture *f = make(0, per_round, NULL);
    *state = f;
    compare(f, TP_FAIL_ON_HIGH);
    assert_int_equal(f->cmp.pairs[0].steps[0].verdict.verdict, TP_V_INCONCLUSIVE);
    assert_false(f->cmp.fails);
    compare(f, TP_FAIL_ON_INCONCLUSIVE);
    assert_true(f->cmp.pairs[0].steps[0].fails);
    assert_true(f->cmp.fails);
}

/* A secret "s" in a member name and a value: the data is masked, the labels and
 * kind names twinprobe makes are not. */
static const char *secret_body(unsigned round, size_t target, char *buf, size_t size)
{
    (void)round;
    snprintf(buf, size, "{\"pass\": \"%s\"}", target == 1 ? "is-s" : "ok");
    return buf;
}

static void test_mismatch_masked_at_source(void **state)
{
    struct fixture *f = make(0, secret_body, "s");
    const struct tp_step_cmp *sc;
    *state = f;
    compare(f, TP_FAIL_ON_HIGH);
    sc = &f->cmp.pairs[0].steps[0];
    assert_int_equal(sc->mismatches.count, 1);
    assert_string_equal(sc->mismatches.items[0].path, "$['pa******']");
    assert_string_equal(sc->mismatches.items[0].base, "\"ok\"");
    assert_string_equal(sc->mismatches.items[0].cand, "\"i***-***\"");
    assert_string_equal(sc->rounds[0].first_diff,
                        "$['pa******'] value_changed \"ok\" -> \"i***-***\"");
}

/* A field the baseline changes only between its last two rounds: learned as
 * noise at the end, it covers the rounds compared before it was learned. */
static const char *late_change(unsigned round, size_t target, char *buf, size_t size)
{
    snprintf(buf, size, "{\"t\": %d, \"price\": 12.5}", target == 1 ? 5 : round < 2 ? 1 : 2);
    return buf;
}

static void test_late_noise_covers_early_rounds(void **state)
{
    struct fixture *f = make(0, late_change, NULL);
    const struct tp_step_cmp *sc;
    *state = f;
    f->journey.compare.noise = TP_NOISE_ROUNDS;
    compare(f, TP_FAIL_ON_HIGH);
    sc = &f->cmp.pairs[0].steps[0];
    assert_int_equal(sc->nnoise, 1);
    assert_string_equal(sc->noise[0], "$['t']");
    assert_int_equal(sc->mismatches.total, 0);
    for (unsigned k = 0; k < ROUNDS; k++) {
        assert_int_equal(sc->rounds[k].diffs, 0);
        assert_null(sc->rounds[k].first_diff);
    }
    assert_false(f->cmp.fails);
}

/* As the runner feeds it: a round at a time, each round reduced to briefs once
 * the next has been fed (its bodies are gone), the last after finish. The
 * result is the one tp_compare_run gives on the full results. */
static void test_feed_round_by_round(void **state)
{
    struct fixture *f = make(0, price_type, NULL);
    struct fixture *g = make(0, price_type, NULL);
    struct tp_compare_state *st = NULL;
    struct tp_comparison inc;
    struct tp_error err;
    const struct tp_step_cmp *a, *b;
    *state = f;
    compare(g, TP_FAIL_ON_HIGH);
    tp_error_clear(&err);
    assert_int_equal(tp_compare_start(&f->plan, &inc, &st, &err), TP_OK);
    for (unsigned k = 0; k < ROUNDS; k++) {
        assert_int_equal(tp_compare_feed(st, &f->r, k, &err), TP_OK);
        for (size_t t = 0; k > 0 && t < f->plan.ntargets; t++)
            assert_int_equal(tp_journey_result_reduce(
                                 &f->r.journeys[tp_compare_index(&f->plan, k - 1, 0, t)]),
                             TP_OK);
    }
    assert_int_equal(tp_compare_feed(st, &f->r, 0, &err), TP_ERR_INVALID); /* out of order */
    assert_int_equal(tp_compare_finish(st, &f->r, &err), TP_OK);
    tp_compare_state_free(st);
    assert_null(f->r.journeys[0].steps); /* reduced */
    assert_non_null(f->r.journeys[0].briefs);
    a = &inc.pairs[0].steps[0];
    b = &g->cmp.pairs[0].steps[0];
    assert_int_equal(a->mismatches.total, b->mismatches.total);
    assert_string_equal(a->mismatches.items[0].path, b->mismatches.items[0].path);
    assert_int_equal(a->mismatch_rounds[0], b->mismatch_rounds[0]);
    for (unsigned k = 0; k < ROUNDS; k++) {
        assert_int_equal(a->rounds[k].diffs, b->rounds[k].diffs);
        assert_true(a->rounds[k].base_ms == b->rounds[k].base_ms);
        if (b->rounds[k].first_diff)
            assert_string_equal(a->rounds[k].first_diff, b->rounds[k].first_diff);
        else
            assert_null(a->rounds[k].first_diff);
    }
    assert_int_equal(a->verdict.verdict, b->verdict.verdict);
    assert_int_equal(inc.fails, g->cmp.fails);
    tp_comparison_clear(&inc);
    teardown((void **)&g);
}

/* One target: nothing to compare. */
static void test_single_target(void **state)
{
    struct fixture *f = make(0, per_round, NULL);
    *state = f;
    f->plan.ntargets = 1;
    f->r.njourneys = ROUNDS; /* the plan only reads the first ROUNDS entries */
    compare(f, TP_FAIL_ON_HIGH);
    assert_int_equal(f->cmp.npairs, 0);
    assert_false(f->cmp.fails);
    f->r.njourneys = ROUNDS * 2;
    tp_comparison_clear(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_noise_across_rounds, teardown),
        cmocka_unit_test_teardown(test_equal_sides_no_noise, teardown),
        cmocka_unit_test_teardown(test_noise_from_rounds, teardown),
        cmocka_unit_test_teardown(test_cut_after_masking, teardown),
        cmocka_unit_test_teardown(test_mismatch_rounds_and_fail_rule, teardown),
        cmocka_unit_test(test_step_fails_table),
        cmocka_unit_test_teardown(test_inconclusive_fails_only_when_asked, teardown),
        cmocka_unit_test_teardown(test_mismatch_masked_at_source, teardown),
        cmocka_unit_test_teardown(test_single_target, teardown),
        cmocka_unit_test_teardown(test_late_noise_covers_early_rounds, teardown),
        cmocka_unit_test_teardown(test_feed_round_by_round, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
