/* bench/verdict/dayrun: a simulated day of 5-minute runs from three locations,
 * `twinprobe verdict` asked after every run over everything since the start of
 * the day (src/cross.c, src/cseq.c: the same code the command runs). Reports
 * the false-HIGH rate of A/A days, how soon A/A passes, and how soon a shift
 * everywhere (HIGH) or in one location (REGIONAL) is called. Beside it, on the
 * same draws: each run judged alone, as `twinprobe run` judges its steps
 * (tp_verdict_step + tp_verdict_holm on the run's ROUNDS pairs per location),
 * the three locations combined as the verdict command does. Not a test; see
 * docs/PERFORMANCE.md, "Cross-region verdict". */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/cross.h"
#include "twinprobe/verdict.h"

#define LOCATIONS 3
#define RUNS_PER_DAY 288 /* every 5 minutes */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static double rng_normal(void)
{
    double u1 = ((double)(rng_next() >> 11) + 0.5) / 9007199254740992.0;
    double u2 = ((double)(rng_next() >> 11) + 0.5) / 9007199254740992.0;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

struct scenario {
    const char *name;
    double shift[LOCATIONS]; /* candidate / baseline, per location */
};

struct outcome {
    int first_alarm;  /* run (1-based) of the first HIGH/REGIONAL/CRITICAL, 0: none */
    int first_pass;   /* run of the first PASS, 0: none */
    int first_target; /* run of the first look giving the expected verdict, 0: none */
    int first_excl;   /* run of the first look whose pooled interval lies above 0, 0: none */
    int alarms;       /* looks (runs) whose verdict was HIGH, REGIONAL or CRITICAL */
};

/* The verdict command's combination across locations (tp_cross_combine),
 * without the pooled evidence: a single run has no pooled confidence sequence. */
static enum tp_verdict combine(const enum tp_verdict *v, int n, int *regional)
{
    enum tp_cross_rule rule = tp_cross_combine(v, (size_t)n, TP_V_NODATA);
    *regional = rule == TP_CROSS_REGIONAL;
    return tp_cross_rule_verdict(rule);
}

static void note(struct outcome *out, int r, enum tp_verdict v, int regional, enum tp_verdict want,
                 int want_regional)
{
    int alarm = v == TP_V_HIGH || v == TP_V_CRITICAL;
    out->alarms += alarm;
    if (alarm && !out->first_alarm)
        out->first_alarm = r;
    if (v == TP_V_PASS && !out->first_pass)
        out->first_pass = r;
    if (v == want && regional == want_regional && !out->first_target)
        out->first_target = r;
}

static const char *const loc_names[LOCATIONS] = {"ap", "eu", "us"};

/* One day: after each run, judge the step and look at its combined verdict
 * (out), and judge the run alone (alone). */
static void day(const struct scenario *sc, int rounds, double sigma, double drift,
                enum tp_verdict want, int want_regional, struct outcome *out,
                struct outcome *alone)
{
    struct tp_cross_result *x = tp_cross_create();
    const char *names[] = {"run", "step", "cand", "base_ok", "cand_ok", "base_ms", "cand_ms",
                           "match"};
    struct tp_error err;
    double *base = malloc((size_t)rounds * sizeof *base), *cand = malloc((size_t)rounds * sizeof *cand);
    memset(out, 0, sizeof *out);
    memset(alone, 0, sizeof *alone);
    if (!base || !cand)
        exit(2);
    for (int r = 1; r <= RUNS_PER_DAY && x; r++) {
        char run[16];
        enum tp_verdict lv[LOCATIONS];
        int regional;
        snprintf(run, sizeof run, "r%d", r);
        for (int l = 0; l < LOCATIONS; l++) {
            struct tp_latency_input in = {base, (size_t)rounds, cand, (size_t)rounds, 1, 0, 0};
            struct tp_step_verdict sv;
            double level = 40.0 * exp(drift * rng_normal()); /* this run's network, both sides */
            for (int k = 0; k < rounds; k++) {
                char b[32], c[32];
                const char *values[] = {run, "search", "canary", "1", "1", b, c, "1"};
                snprintf(b, sizeof b, "%.3f", level * exp(sigma * rng_normal()));
                snprintf(c, sizeof c, "%.3f", level * sc->shift[l] * exp(sigma * rng_normal()));
                tp_cross_add(x, loc_names[l], "shop", names, values, 8, &err);
                base[k] = strtod(b, NULL); /* the same values the pool parsed */
                cand[k] = strtod(c, NULL);
            }
            /* the run alone: its one step, Holm over a family of one, as twinprobe run */
            if (tp_verdict_step(&in, NULL, &sv, &err) != TP_OK ||
                tp_verdict_holm(&sv, 1, NULL, &err) != TP_OK) {
                fprintf(stderr, "dayrun: %s\n", err.text);
                exit(3);
            }
            lv[l] = sv.verdict;
        }
        {
            enum tp_verdict v = combine(lv, LOCATIONS, &regional);
            note(alone, r, v, regional, want, want_regional);
        }
        if (tp_cross_judge(x, NULL, &err) != TP_OK) {
            fprintf(stderr, "dayrun: %s\n", err.text);
            exit(3);
        }
        {
            const struct tp_cross_step *st = &x->journeys[0].steps[0];
            if (st->ci_low_pct > 0 && !out->first_excl)
                out->first_excl = r;
            note(out, r, st->verdict, st->regional, want, want_regional);
        }
    }
    tp_cross_free(x);
    free(base);
    free(cand);
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

/* The median of the days' first runs (days that never got there count as never). */
static void summary(const char *what, int *runs, int days)
{
    int hit = 0;
    for (int i = 0; i < days; i++)
        hit += runs[i] > 0;
    for (int i = 0; i < days; i++)
        if (runs[i] == 0)
            runs[i] = RUNS_PER_DAY + 1;
    qsort(runs, (size_t)days, sizeof *runs, cmp_int);
    printf("  %-34s %3d/%d days", what, hit, days);
    if (hit * 2 > days)
    {
        int p90 = runs[days * 9 / 10];
        printf(", median run %d (%d min), 90th pct run ", runs[days / 2], runs[days / 2] * 5);
        if (p90 > RUNS_PER_DAY)
            printf("never");
        else
            printf("%d", p90);
    }
    printf("\n");
}

/* The days of each scenario, both methods. */
struct days {
    int *alarm, *pass, *excl, *target;
    int pass12;
    long alarms;
};

static int days_alloc(struct days *d, int n)
{
    memset(d, 0, sizeof *d);
    d->alarm = calloc((size_t)n, sizeof *d->alarm);
    d->pass = calloc((size_t)n, sizeof *d->pass);
    d->excl = calloc((size_t)n, sizeof *d->excl);
    d->target = calloc((size_t)n, sizeof *d->target);
    return d->alarm && d->pass && d->excl && d->target;
}

static void days_free(struct days *d)
{
    free(d->alarm);
    free(d->pass);
    free(d->excl);
    free(d->target);
}

static void days_note(struct days *d, int i, const struct outcome *o)
{
    d->alarm[i] = o->first_alarm;
    d->pass[i] = o->first_pass;
    d->excl[i] = o->first_excl;
    d->target[i] = o->first_target;
    d->pass12 += o->first_pass > 0 && o->first_pass <= 12;
    d->alarms += o->alarms;
}

int main(int argc, char **argv)
{
    int days = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 100;
    int rounds = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 12;
    double sigma = argc > 3 ? strtod(argv[3], NULL) : 0.1, drift = 0.2;
    static const struct scenario aa = {"A/A", {1, 1, 1}}, p25 = {"+25% everywhere", {1.25, 1.25, 1.25}},
                                 p15 = {"+15% everywhere", {1.15, 1.15, 1.15}},
                                 reg = {"+25% in us only", {1, 1, 1.25}};
    const struct scenario *shifted[] = {&p25, &p15};
    struct days cs[4], run[4]; /* A/A, +25 %, +15 %, regional */
    struct outcome o, ro;
    int ok = days >= 1 && rounds >= 1;

    for (int s = 0; s < 4 && ok; s++)
        ok = days_alloc(&cs[s], days) && days_alloc(&run[s], days);
    if (!ok)
        return 2;
    rng_state = 20261204;
    printf("dayrun: %d days x %d runs x %d locations x %d rounds; per side sigma %.2f "
           "(log), run-to-run drift %.2f (both sides)\n",
           days, RUNS_PER_DAY, LOCATIONS, rounds, sigma, drift);

    for (int d = 0; d < days; d++) {
        day(&aa, rounds, sigma, drift, TP_V_PASS, 0, &o, &ro);
        days_note(&cs[0], d, &o);
        days_note(&run[0], d, &ro);
    }
    for (int s = 0; s < 2; s++)
        for (int d = 0; d < days; d++) {
            day(shifted[s], rounds, sigma, drift, TP_V_HIGH, 0, &o, &ro);
            days_note(&cs[1 + s], d, &o);
            days_note(&run[1 + s], d, &ro);
        }
    for (int d = 0; d < days; d++) {
        day(&reg, rounds, sigma, drift, TP_V_HIGH, 1, &o, &ro);
        days_note(&cs[3], d, &o);
        days_note(&run[3], d, &ro);
    }

    for (int m = 0; m < 2; m++) {
        struct days *t = m == 0 ? cs : run;
        printf("%s\n", m == 0 ? "== twinprobe verdict after every run: everything since the start "
                                "of the day (confidence sequence)"
                              : "== each run judged alone: tp_verdict_step + tp_verdict_holm on "
                                "its own pairs, locations combined");
        printf("%s\n", aa.name);
        summary(m == 0 ? "a false HIGH at any of 288 looks" : "a false HIGH at any of 288 runs",
                t[0].alarm, days);
        if (m == 0)
            summary("pooled CS above 0 at any look", t[0].excl, days);
        summary("PASS", t[0].pass, days);
        printf("  PASS within 12 runs (1 h)           %d/%d days\n", t[0].pass12, days);
        printf("  %-34s %ld/%ld (%.2f %%)\n",
               m == 0 ? "looks called HIGH (any kind)" : "runs called HIGH (any kind)",
               t[0].alarms, (long)days * RUNS_PER_DAY,
               100.0 * (double)t[0].alarms / ((double)days * RUNS_PER_DAY));
        for (int s = 0; s < 2; s++) {
            printf("%s\n", shifted[s]->name);
            summary("HIGH", t[1 + s].target, days);
        }
        printf("%s\n", reg.name);
        summary("REGIONAL", t[3].target, days);
        summary("HIGH or REGIONAL", t[3].alarm, days);
    }
    for (int s = 0; s < 4; s++) {
        days_free(&cs[s]);
        days_free(&run[s]);
    }
    return 0;
}
