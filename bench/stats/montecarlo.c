/* bench/stats/montecarlo: the statistical-quality measurement of
 * bench/stats/run.py on src/stats.c and src/verdict.c alone, without HTTP.
 *
 * One trial is one twinprobe run of a STEPS-step journey with ROUNDS paired
 * rounds: every step's baseline and candidate samples are independent draws of
 * lognormal(ln MEDIAN, SIGMA) ms. A/A: the candidate is drawn like the baseline.
 * A/B: step SLOW's candidate is multiplied by EFFECT. Each step is classified by
 *
 *   twinprobe     tp_verdict_step (default opts, paired), then tp_verdict_holm
 *                 across the run's steps, as `twinprobe run` does; HIGH or
 *                 CRITICAL is a flag. Also shown without Holm (one step alone).
 *   median ratio  candidate median / baseline median > 1.1
 *   Kayenta       MannWhitneyClassifier(tolerance 0.25, confLevel 0.98), the
 *                 NetflixACAJudge settings: the Mann-Whitney interval of the
 *                 shift candidate - baseline (normal approximation with continuity
 *                 correction, tp_stats_mwu_hl) is HIGH when its lower end exceeds
 *                 0.25 x abs(HL estimate) and mean(candidate) / mean(baseline) >= 1.0
 *                 (effectSize.allowedIncrease default).
 *   Kayenta-variant  the same interval against 0.25 x the baseline median (another
 *                 reading of "tolerance"; not what Kayenta's code does).
 *
 * Rates: A/A steps flagged / steps; A/B slowed step flagged / trials; A/B other
 * steps flagged / (trials x (STEPS - 1)); each with a Wilson 95 % interval.
 *
 * usage: montecarlo [--trials N] [--rounds R] [--steps K] [--effect E]
 *                   [--sigma S] [--median MS] [--seed X] */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/stats.h"
#include "twinprobe/verdict.h"

#define MAX_STEPS 16

/* xoshiro256** seeded by splitmix64: reproducible whatever the libc. */
static uint64_t rng_s[4];

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(void)
{
    uint64_t r = rotl(rng_s[1] * 5, 7) * 9, t = rng_s[1] << 17;
    rng_s[2] ^= rng_s[0];
    rng_s[3] ^= rng_s[1];
    rng_s[1] ^= rng_s[2];
    rng_s[0] ^= rng_s[3];
    rng_s[2] ^= t;
    rng_s[3] = rotl(rng_s[3], 45);
    return r;
}

static double rng_uniform(void) /* (0, 1) */
{
    return ((double)(rng_next() >> 11) + 0.5) / 9007199254740992.0;
}

static double rng_normal(void) /* Marsaglia's polar method */
{
    static int have;
    static double spare;
    double u, v, s;
    if (have) {
        have = 0;
        return spare;
    }
    do {
        u = 2 * rng_uniform() - 1;
        v = 2 * rng_uniform() - 1;
        s = u * u + v * v;
    } while (s >= 1 || s == 0);
    s = sqrt(-2 * log(s) / s);
    spare = v * s;
    have = 1;
    return u * s;
}

enum rule { R_TP_HOLM, R_TP_SINGLE, R_MEDIAN, R_KAYENTA, R_KAYENTA_VAR, NRULES };

static const char *const rule_names[NRULES] = {
    "twinprobe (Holm across the steps, as `run`)",
    "twinprobe, one step alone (no Holm)",
    "median ratio > 1.1",
    "Kayenta (interval vs 0.25 x abs(HL estimate), 0.98)",
    "variant: interval vs 0.25 x baseline median",
};

struct counts {
    size_t aa, aa_n;       /* A/A flagged steps, steps */
    size_t hit, hit_n;     /* A/B slowed step flagged, trials */
    size_t other, other_n; /* A/B other steps flagged, steps */
};

static void die(const char *what, const struct tp_error *err)
{
    fprintf(stderr, "montecarlo: %s: %s\n", what, err ? err->text : "");
    exit(1);
}

static double mean(const double *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    return s / (double)n;
}

static double median(const double *x, size_t n, double *scratch)
{
    double m;
    struct tp_error err = {0};
    if (tp_stats_median(x, n, scratch, &m, &err) != TP_OK)
        die("median", &err);
    return m;
}

/* Flags of the rules other than twinprobe for one step. */
static void other_rules(const double *base, const double *cand, size_t n, int flags[NRULES])
{
    static const struct tp_stats_opts kopts = {TP_STATS_NORMAL, true, 0.98, 0};
    struct tp_stats_interval iv;
    struct tp_error err = {0};
    double scratch[1024];
    double bmed = median(base, n, scratch), cmed = median(cand, n, scratch);
    double ratio = mean(cand, n) / mean(base, n);

    flags[R_MEDIAN] = cmed / bmed > 1.1;
    if (tp_stats_mwu_hl(cand, n, base, n, &kopts, &iv, &err) != TP_OK)
        die("tp_stats_mwu_hl", &err);
    flags[R_KAYENTA] = iv.low > 0.25 * fabs(iv.estimate) && ratio >= 1.0;
    flags[R_KAYENTA_VAR] = iv.low > 0.25 * fabs(bmed) && ratio >= 1.0;
}

static int flagged(enum tp_verdict v)
{
    return v == TP_V_HIGH || v == TP_V_CRITICAL;
}

/* One run of `steps` steps; slow < 0 for A/A. flags[s][rule]; verdicts after Holm
 * go to final[s]. */
static void one_run(size_t steps, size_t rounds, double med, double sigma, double effect,
                    int slow, int flags[MAX_STEPS][NRULES], enum tp_verdict final[MAX_STEPS])
{
    static const struct tp_verdict_opts vopts = TP_VERDICT_OPTS_INIT;
    struct tp_step_verdict sv[MAX_STEPS];
    double base[1024], cand[1024];
    struct tp_error err = {0};

    for (size_t s = 0; s < steps; s++) {
        double f = (int)s == slow ? effect : 1.0;
        struct tp_latency_input in = {base, rounds, cand, rounds, 1, 0, 0};
        for (size_t i = 0; i < rounds; i++) {
            base[i] = med * exp(sigma * rng_normal());
            cand[i] = f * med * exp(sigma * rng_normal());
        }
        if (tp_verdict_step(&in, &vopts, &sv[s], &err) != TP_OK)
            die("tp_verdict_step", &err);
        flags[s][R_TP_SINGLE] = flagged(sv[s].verdict);
        other_rules(base, cand, rounds, flags[s]);
    }
    if (tp_verdict_holm(sv, steps, &vopts, &err) != TP_OK)
        die("tp_verdict_holm", &err);
    for (size_t s = 0; s < steps; s++) {
        flags[s][R_TP_HOLM] = flagged(sv[s].verdict);
        final[s] = sv[s].verdict;
    }
}

static void wilson(size_t k, size_t n, double *lo, double *hi)
{
    const double z = 1.959963984540054;
    double p = (double)k / (double)n, d = 1 + z * z / (double)n;
    double c = (p + z * z / (2.0 * (double)n)) / d;
    double h = z * sqrt(p * (1 - p) / (double)n + z * z / (4.0 * (double)n * (double)n)) / d;
    *lo = c - h < 0 ? 0 : c - h;
    *hi = c + h > 1 ? 1 : c + h;
}

static const char *rate(size_t k, size_t n, char *buf, size_t size)
{
    double lo, hi;
    wilson(k, n, &lo, &hi);
    snprintf(buf, size, "%.2f %% (%zu/%zu; %.2f-%.2f)", 100.0 * (double)k / (double)n, k, n,
             100 * lo, 100 * hi);
    return buf;
}

static int usage(void)
{
    fprintf(stderr, "usage: montecarlo [--trials N] [--rounds R] [--steps K] [--effect E]\n"
                    "                  [--sigma S] [--median MS] [--seed X]\n");
    return 2;
}

int main(int argc, char **argv)
{
    unsigned long trials = 10000, rounds = 20, steps = 4;
    double effect = 1.25, sigma = 0.15, med = 100;
    uint64_t seed = 20240601, x;
    struct counts c[NRULES];
    size_t vdist[TP_V_CRITICAL + 1] = {0}, vdist_aa[TP_V_CRITICAL + 1] = {0};
    const int slow = 1; /* which step the A/B candidate slows (any one will do) */

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (!val)
            return usage();
        if (strcmp(a, "--trials") == 0)
            trials = strtoul(val, &end, 10);
        else if (strcmp(a, "--rounds") == 0)
            rounds = strtoul(val, &end, 10);
        else if (strcmp(a, "--steps") == 0)
            steps = strtoul(val, &end, 10);
        else if (strcmp(a, "--effect") == 0)
            effect = strtod(val, &end);
        else if (strcmp(a, "--sigma") == 0)
            sigma = strtod(val, &end);
        else if (strcmp(a, "--median") == 0)
            med = strtod(val, &end);
        else if (strcmp(a, "--seed") == 0)
            seed = strtoull(val, &end, 10);
        else
            return usage();
        if (!end || *end)
            return usage();
        i++;
    }
    if (trials < 1 || rounds < 1 || rounds > 1024 || steps < 2 || steps > MAX_STEPS ||
        !(effect > 0) || !(sigma >= 0) || !(med > 0))
        return usage();

    x = seed;
    for (int i = 0; i < 4; i++)
        rng_s[i] = splitmix64(&x);
    memset(c, 0, sizeof c);

    for (unsigned long t = 0; t < trials; t++) {
        int flags[MAX_STEPS][NRULES];
        enum tp_verdict final[MAX_STEPS];

        one_run(steps, rounds, med, sigma, effect, -1, flags, final);
        for (size_t s = 0; s < steps; s++) {
            vdist_aa[final[s]]++;
            for (int r = 0; r < NRULES; r++) {
                c[r].aa += (size_t)flags[s][r];
                c[r].aa_n++;
            }
        }
        one_run(steps, rounds, med, sigma, effect, slow, flags, final);
        vdist[final[slow]]++;
        for (size_t s = 0; s < steps; s++)
            for (int r = 0; r < NRULES; r++) {
                if ((int)s == slow) {
                    c[r].hit += (size_t)flags[s][r];
                    c[r].hit_n++;
                } else {
                    c[r].other += (size_t)flags[s][r];
                    c[r].other_n++;
                }
            }
    }

    printf("Monte Carlo: %lu trials x (A/A run + A/B run), %lu steps, %lu paired rounds,\n"
           "lognormal(ln %g, %g) per side, A/B step %d x %g, seed %llu\n"
           "rates: flagged / total (Wilson 95 %% interval, %%)\n\n",
           trials, steps, rounds, med, sigma, slow, effect, (unsigned long long)seed);
    printf("| rule | A/A false alarms (steps) | A/B detection (slowed step) | "
           "A/B false alarms (other steps) |\n| --- | --- | --- | --- |\n");
    for (int r = 0; r < NRULES; r++) {
        char b1[96], b2[96], b3[96];
        printf("| %s | %s | %s | %s |\n", rule_names[r], rate(c[r].aa, c[r].aa_n, b1, sizeof b1),
               rate(c[r].hit, c[r].hit_n, b2, sizeof b2),
               rate(c[r].other, c[r].other_n, b3, sizeof b3));
    }
    printf("\ntwinprobe verdicts (after Holm), A/A steps:");
    for (int v = 0; v <= TP_V_CRITICAL; v++)
        if (vdist_aa[v])
            printf(" %s %zu", tp_verdict_name((enum tp_verdict)v), vdist_aa[v]);
    printf("\ntwinprobe verdicts (after Holm), A/B slowed step:");
    for (int v = 0; v <= TP_V_CRITICAL; v++)
        if (vdist[v])
            printf(" %s %zu", tp_verdict_name((enum tp_verdict)v), vdist[v]);
    printf("\n");
    return 0;
}
