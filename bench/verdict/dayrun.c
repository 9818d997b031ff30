/* bench/verdict/dayrun: a simulated day of 5-minute runs from three locations,
 * `twinprobe verdict` asked after every run over everything since the start of
 * the day (src/cross.c, src/cseq.c: the same code the command runs). Reports
 * the false-HIGH rate of A/A days, how soon A/A passes, and how soon a shift
 * everywhere (HIGH) or in one location (REGIONAL) is called. Not a test; see
 * docs/PERFORMANCE.md, "Cross-region verdict". */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/cross.h"

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
};

static const char *const loc_names[LOCATIONS] = {"ap", "eu", "us"};

/* One day: after each run, judge the step and look at its combined verdict. */
static void day(const struct scenario *sc, int rounds, double sigma, double drift,
                enum tp_verdict want, int want_regional, struct outcome *out)
{
    struct tp_cross_result *x = tp_cross_create();
    const char *names[] = {"run", "step", "cand", "base_ok", "cand_ok", "base_ms", "cand_ms",
                           "match"};
    struct tp_error err;
    memset(out, 0, sizeof *out);
    for (int r = 1; r <= RUNS_PER_DAY && x; r++) {
        char run[16];
        snprintf(run, sizeof run, "r%d", r);
        for (int l = 0; l < LOCATIONS; l++) {
            double level = 40.0 * exp(drift * rng_normal()); /* this run's network, both sides */
            for (int k = 0; k < rounds; k++) {
                char b[32], c[32];
                const char *values[] = {run, "search", "canary", "1", "1", b, c, "1"};
                snprintf(b, sizeof b, "%.3f", level * exp(sigma * rng_normal()));
                snprintf(c, sizeof c, "%.3f", level * sc->shift[l] * exp(sigma * rng_normal()));
                tp_cross_add(x, loc_names[l], "shop", names, values, 8, &err);
            }
        }
        if (tp_cross_judge(x, NULL, &err) != TP_OK) {
            fprintf(stderr, "dayrun: %s\n", err.text);
            exit(3);
        }
        {
            const struct tp_cross_step *st = &x->journeys[0].steps[0];
            int alarm = st->verdict == TP_V_HIGH || st->verdict == TP_V_CRITICAL;
            if (st->ci_low_pct > 0 && !out->first_excl)
                out->first_excl = r;
            if (alarm && !out->first_alarm)
                out->first_alarm = r;
            if (st->verdict == TP_V_PASS && !out->first_pass)
                out->first_pass = r;
            if (st->verdict == want && st->regional == want_regional && !out->first_target)
                out->first_target = r;
        }
    }
    tp_cross_free(x);
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
        printf(", median run %d (%d min), 90th pct run %s%d", runs[days / 2], runs[days / 2] * 5,
               runs[days * 9 / 10] > RUNS_PER_DAY ? "never " : "",
               runs[days * 9 / 10] > RUNS_PER_DAY ? 0 : runs[days * 9 / 10]);
    printf("\n");
}

int main(int argc, char **argv)
{
    int days = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 100;
    int rounds = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 12;
    double sigma = argc > 3 ? strtod(argv[3], NULL) : 0.1, drift = 0.2;
    int *c = calloc(days > 0 ? (size_t)days : 1, sizeof *c);
    static const struct scenario aa = {"A/A", {1, 1, 1}}, p25 = {"+25% everywhere", {1.25, 1.25, 1.25}},
                                 p15 = {"+15% everywhere", {1.15, 1.15, 1.15}},
                                 reg = {"+25% in us only", {1, 1, 1.25}};
    int *a = calloc((size_t)days, sizeof *a), *b = calloc((size_t)days, sizeof *b);
    int pass12 = 0;
    struct outcome o;

    if (!a || !b || !c || days < 1 || rounds < 1)
        return 2;
    rng_state = 20261204;
    printf("dayrun: %d days x %d runs x %d locations x %d rounds; per side sigma %.2f "
           "(log), run-to-run drift %.2f (both sides)\n",
           days, RUNS_PER_DAY, LOCATIONS, rounds, sigma, drift);

    printf("%s\n", aa.name);
    for (int d = 0; d < days; d++) {
        day(&aa, rounds, sigma, drift, TP_V_PASS, 0, &o);
        a[d] = o.first_alarm;
        b[d] = o.first_pass;
        c[d] = o.first_excl;
        pass12 += o.first_pass > 0 && o.first_pass <= 12;
    }
    summary("a false HIGH at any of 288 looks", a, days);
    summary("pooled CS above 0 at any look", c, days);
    summary("PASS", b, days);
    printf("  PASS within 12 runs (1 h)           %d/%d days\n", pass12, days);

    {
        const struct scenario *shifted[] = {&p25, &p15};
        for (int s = 0; s < 2; s++) {
            printf("%s\n", shifted[s]->name);
            for (int d = 0; d < days; d++) {
                day(shifted[s], rounds, sigma, drift, TP_V_HIGH, 0, &o);
                a[d] = o.first_target;
            }
            summary("HIGH", a, days);
        }
    }
    printf("%s\n", reg.name);
    for (int d = 0; d < days; d++) {
        day(&reg, rounds, sigma, drift, TP_V_HIGH, 1, &o);
        a[d] = o.first_target;
        b[d] = o.first_alarm;
    }
    summary("REGIONAL", a, days);
    summary("HIGH or REGIONAL", b, days);
    free(a);
    free(b);
    free(c);
    return 0;
}
