/* The terminal report: a header per journey x target x round, a line per step,
 * a summary line, then a table per comparison. Strings arrive masked from their
 * source (result.h, compare.h); every one from outside is cleaned of control
 * characters and invalid UTF-8 so that a hostile response cannot drive the
 * terminal.
 *
 *   checkout @ canary (round 3): FAILED
 *     ✓ open   200  total 41.4 ms  ttfb 40.1 ms
 *     ✗ login  500  total 12.0 ms  ttfb 11.8 ms  2 attempts
 *         failure: http — status: expected one of [302, 303], got 500
 *     - pay    skipped
 *   3 journeys, 2 passed, 1 failed; 15 steps: 12 ok, 1 failed, 2 skipped
 */
#include "twinprobe/report.h"

#include <math.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/compare.h"
#include "twinprobe/strbuf.h"
#include "twinprobe/utf8.h"

#define NAME_WIDTH_MAX 40 /* step names are padded to the longest, at most this */

#define C_RED "\033[31m"
#define C_GREEN "\033[32m"
#define C_DIM "\033[2m"
#define C_BOLD "\033[1m"
#define C_RESET "\033[0m"

/* The report being written (a tp_strbuf); after a failed allocation every
 * append is a no-op and failed stays set. */
struct sbuf {
    struct tp_strbuf s;
    int failed;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
    if (!b->failed && tp_strbuf_add(&b->s, s, n) != 0)
        b->failed = 1;
}

static void sb_puts(struct sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_printf(struct sbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;

    if (b->failed)
        return;
    va_start(ap, fmt);
    if (tp_strbuf_vaddf(&b->s, fmt, ap) != 0)
        b->failed = 1;
    va_end(ap);
}

/* Appends text cleaned for a terminal: tabs and line breaks become spaces,
 * other control characters (C0, DEL, C1) '?', invalid UTF-8 U+FFFD. Returns
 * the number of characters written. */
static size_t put_clean(struct sbuf *b, const char *text)
{
    size_t i = 0, n, count = 0;

    if (!text)
        return 0;
    n = strlen(text);
    while (i < n) {
        unsigned long cp;
        size_t len = tp_utf8_next(text + i, n - i, &cp);
        if (len == 0) {
            sb_puts(b, "\xef\xbf\xbd");
            len = 1;
        } else if (cp == '\t' || cp == '\n' || cp == '\r') {
            sb_puts(b, " ");
        } else if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
            sb_puts(b, "?");
        } else {
            sb_put(b, text + i, len);
        }
        i += len;
        count++;
    }
    return count;
}

/* The width put_clean would give name (characters, not bytes). */
static size_t clean_width(const char *name)
{
    struct sbuf tmp = {{0}, 0};
    size_t w = put_clean(&tmp, name);
    tp_strbuf_free(&tmp.s);
    return w;
}

static const char *step_name(const struct tp_journey *j, size_t k)
{
    return j && j->steps && j->steps[k].name ? j->steps[k].name : "?";
}

static void put_step(struct sbuf *b, const struct tp_journey_result *jr, size_t k, size_t width,
                     int color)
{
    struct tp_step_view v;
    const struct tp_timings *t = &v.timings;
    const char *also;
    size_t w, at = 0;

    tp_step_view(jr, k, &v);
    if (v.skipped) {
        sb_puts(b, color ? "  " C_DIM "- " : "  - ");
        w = put_clean(b, step_name(jr->journey, k));
        while (w++ < width)
            sb_puts(b, " ");
        sb_puts(b, color ? "  skipped" C_RESET "\n" : "  skipped\n");
        return;
    }
    if (v.ok)
        sb_puts(b, color ? "  " C_GREEN "\xe2\x9c\x93" C_RESET " " : "  \xe2\x9c\x93 ");
    else
        sb_puts(b, color ? "  " C_RED "\xe2\x9c\x97" C_RESET " " : "  \xe2\x9c\x97 ");
    w = put_clean(b, step_name(jr->journey, k));
    while (w++ < width)
        sb_puts(b, " ");
    if (v.status > 0)
        sb_printf(b, "  %3ld", v.status);
    else
        sb_puts(b, "  ---");
    sb_printf(b, "  total %.1f ms  ttfb %.1f ms", t->total_ms, t->ttfb_ms);
    if (v.attempts > 1)
        sb_printf(b, "  %u attempts", v.attempts);
    sb_puts(b, "\n");
    if (v.ok)
        return;

    sb_puts(b, color ? "      " C_RED "failure:" C_RESET " " : "      failure: ");
    sb_puts(b, v.failure != TP_FAIL_NONE && tp_failure_name(v.failure)
                   ? tp_failure_name(v.failure)
                   : "failed");
    if (v.error) {
        sb_puts(b, " \xe2\x80\x94 ");
        put_clean(b, v.error);
    }
    sb_puts(b, "\n");
    /* the first failure is above; other failed assertions follow */
    while ((also = tp_step_view_also(&v, &at))) {
        sb_puts(b, "      also: ");
        put_clean(b, also);
        sb_puts(b, "\n");
    }
}

static void put_journey(struct sbuf *b, const struct tp_journey_result *jr, int color)
{
    size_t nsteps = tp_journey_result_nsteps(jr);
    size_t width = 0;

    put_clean(b, jr->journey && jr->journey->name ? jr->journey->name : "?");
    sb_puts(b, " @ ");
    put_clean(b, jr->target && jr->target->name ? jr->target->name : "?");
    sb_printf(b, " (round %u): ", jr->round);
    if (jr->ok)
        sb_puts(b, color ? C_GREEN "passed" C_RESET "\n" : "passed\n");
    else
        sb_puts(b, color ? C_BOLD C_RED "FAILED" C_RESET "\n" : "FAILED\n");

    for (size_t k = 0; k < nsteps; k++) {
        size_t w = clean_width(step_name(jr->journey, k));
        if (w > width)
            width = w;
    }
    if (width > NAME_WIDTH_MAX)
        width = NAME_WIDTH_MAX;
    for (size_t k = 0; k < nsteps; k++)
        put_step(b, jr, k, width, color);
}

static const char *plural(size_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

/* How put_num writes a number. */
enum num_style {
    NUM_MS,  /* 41.4 */
    NUM_PCT, /* +19.4% */
    NUM_P    /* 0.0005 */
};

/* A number of the comparison, or "-" when it does not exist. */
static void put_num(struct sbuf *b, double x, enum num_style style, int width)
{
    char cell[48];
    if (!isfinite(x))
        snprintf(cell, sizeof cell, "-");
    else if (style == NUM_PCT)
        snprintf(cell, sizeof cell, "%+.1f%%", x);
    else if (style == NUM_P)
        snprintf(cell, sizeof cell, "%.4f", x);
    else
        snprintf(cell, sizeof cell, "%.1f", x);
    sb_printf(b, "%*s", width, cell);
}

static const char *verdict_color(enum tp_verdict v)
{
    if (v == TP_V_PASS || v == TP_V_LOW)
        return "\033[32m";
    if (v == TP_V_HIGH || v == TP_V_CRITICAL)
        return "\033[31m";
    return "\033[33m";
}

static const char *const score_classes[] = {"pass", "marginal", "fail"};

/* The mismatches of one comparison step, a line each. */
static void put_mismatches(struct sbuf *b, const struct tp_step_cmp *sc, unsigned rounds)
{
    for (size_t k = 0; k < sc->mismatches.count; k++) {
        const struct tp_mismatch *mm = &sc->mismatches.items[k];
        sb_puts(b, "      mismatch ");
        sb_puts(b, tp_mismatch_kind_name(mm->kind));
        sb_puts(b, " at ");
        put_clean(b, mm->path);
        sb_puts(b, ": ");
        put_clean(b, mm->base ? mm->base : "(absent)");
        sb_puts(b, " -> ");
        put_clean(b, mm->cand ? mm->cand : "(absent)");
        sb_printf(b, " (%zu of %u rounds)\n", sc->mismatch_rounds[k], rounds);
    }
    if (sc->mismatches.total > sc->mismatches.count)
        sb_printf(b, "      ... and %zu more\n", sc->mismatches.total - sc->mismatches.count);
}

/* The table of one comparison: a row per step, then the journey's verdict. */
static void put_comparison(struct sbuf *b, const struct tp_pair_cmp *pc, int color,
                           size_t *inconclusive)
{
    enum tp_verdict verdict = pc->verdict.verdict;
    size_t width = 4;

    sb_puts(b, "\n");
    put_clean(b, pc->journey_name);
    sb_puts(b, ": ");
    put_clean(b, pc->cand_name);
    sb_puts(b, " vs ");
    put_clean(b, pc->base_name);
    sb_printf(b, ", %u rounds\n", pc->rounds);
    for (size_t i = 0; i < pc->nsteps; i++) {
        size_t w = clean_width(pc->steps[i].name);
        width = w > width ? w : width;
    }
    width = width > 40 ? 40 : width;
    sb_printf(b, "  %-*s %10s %10s %9s %21s %8s %8s  %-12s %s\n", (int)width, "step", "base ms",
              "cand ms", "delta", "95% CI", "p", "p adj", "verdict", "mismatches");
    for (size_t i = 0; i < pc->nsteps; i++) {
        const struct tp_step_cmp *sc = &pc->steps[i];
        const struct tp_step_verdict *st = &sc->verdict;
        const char *v = tp_verdict_name(st->verdict);
        size_t w;
        char ci[64];
        sb_puts(b, "  ");
        w = put_clean(b, sc->name);
        sb_printf(b, "%*s ", (int)(width > w ? width - w : 0), "");
        put_num(b, st->base_median_ms, NUM_MS, 10);
        sb_puts(b, " ");
        put_num(b, st->cand_median_ms, NUM_MS, 10);
        sb_puts(b, " ");
        put_num(b, st->delta_pct, NUM_PCT, 9);
        if (isnan(st->ci_low_pct) && isnan(st->ci_high_pct)) {
            snprintf(ci, sizeof ci, "-");
        } else {
            char l[24] = "-inf", h[24] = "+inf";
            if (isfinite(st->ci_low_pct))
                snprintf(l, sizeof l, "%+.1f%%", st->ci_low_pct);
            if (isfinite(st->ci_high_pct))
                snprintf(h, sizeof h, "%+.1f%%", st->ci_high_pct);
            snprintf(ci, sizeof ci, "[%s, %s]", l, h);
        }
        sb_printf(b, " %21s ", ci);
        put_num(b, st->p, NUM_P, 8);
        sb_puts(b, " ");
        put_num(b, st->p_adj, NUM_P, 8);
        sb_printf(b, "  %s%-12s%s %zu\n", color ? verdict_color(st->verdict) : "", v,
                  color ? "\033[0m" : "", sc->mismatches.total);
        if (st->verdict == TP_V_INCONCLUSIVE)
            (*inconclusive)++;
        put_mismatches(b, sc, pc->rounds);
        if (sc->nnoise)
            sb_printf(b, "      noise: %zu %s learned from %u baseline runs and ignored "
                         "(the JSON report lists them)\n",
                      sc->nnoise, plural(sc->nnoise, "path", "paths"), sc->noise_from);
        if (st->verdict != TP_V_PASS) {
            sb_puts(b, "      ");
            put_clean(b, st->reason);
            sb_puts(b, "\n");
        }
    }
    sb_printf(b, "  journey verdict: %s%s%s, score ", color ? verdict_color(verdict) : "",
              tp_verdict_name(verdict), color ? "\033[0m" : "");
    put_num(b, pc->verdict.score, NUM_MS, 0);
    sb_printf(b, " (%s): ", score_classes[pc->verdict.score_class]);
    put_clean(b, pc->verdict.reason);
    sb_puts(b, "\n");
}

static const char *const fail_on_names[] = {"high", "inconclusive", "never"};

/* What fails the run, counted once from the comparison's own rule. */
struct reasons {
    size_t mismatches, mismatch_steps; /* distinct mismatches, in failing steps */
    size_t high_steps;                 /* HIGH or CRITICAL */
    size_t undecided_steps;            /* INCONCLUSIVE or NODATA (fail only when asked) */
};

static void count_reasons(const struct tp_comparison *c, struct reasons *n)
{
    memset(n, 0, sizeof *n);
    for (size_t i = 0; c && i < c->npairs; i++)
        for (size_t s = 0; s < c->pairs[i].nsteps; s++) {
            const struct tp_step_cmp *sc = &c->pairs[i].steps[s];
            enum tp_verdict v = sc->verdict.verdict;
            if (!sc->fails)
                continue;
            if (sc->mismatches.total) {
                n->mismatches += sc->mismatches.total;
                n->mismatch_steps++;
            }
            if (v == TP_V_HIGH || v == TP_V_CRITICAL)
                n->high_steps++;
            else if ((v == TP_V_INCONCLUSIVE || v == TP_V_NODATA) &&
                     c->fail_on == TP_FAIL_ON_INCONCLUSIVE)
                n->undecided_steps++;
        }
}

/* The last lines: every reason for the exit status, with its count and the
 * flag or setting that changes it. */
static void put_exit_reasons(struct sbuf *b, const struct tp_run_report *r, size_t failed_runs)
{
    const struct tp_comparison *c = r->comparison;
    int compared = c && c->npairs > 0;
    const char *fail_on = compared ? fail_on_names[c->fail_on] : "high";
    struct reasons n;

    count_reasons(c, &n);
    if (r->exit_status == 0) {
        if (compared)
            sb_printf(b, "exit 0: every journey run passed and no comparison step fails the run "
                         "(--fail-on %s)\n",
                      fail_on);
        return;
    }
    if (failed_runs)
        sb_printf(b, "exit 1: %zu of %zu journey %s failed (see above)\n", failed_runs,
                  r->njourneys, plural(r->njourneys, "run", "runs"));
    if (n.mismatches)
        sb_printf(b, "exit 1: %zu %s in %zu %s (see above; compare.ignore or --fail-on never)\n",
                  n.mismatches, plural(n.mismatches, "mismatch", "mismatches"), n.mismatch_steps,
                  plural(n.mismatch_steps, "step", "steps"));
    if (n.high_steps)
        sb_printf(b, "exit 1: %zu %s HIGH or CRITICAL (see above; --fail-on never)\n",
                  n.high_steps, plural(n.high_steps, "step", "steps"));
    if (n.undecided_steps)
        sb_printf(b, "exit 1: %zu %s INCONCLUSIVE or NODATA under --fail-on inconclusive (more "
                     "--rounds, or --fail-on high)\n",
                  n.undecided_steps, plural(n.undecided_steps, "step", "steps"));
    if (r->exit_status >= 128)
        sb_printf(b, "exit %d: stopped by signal %d after judging what completed\n",
                  r->exit_status, r->exit_status - 128);
    else if (r->exit_status > 1)
        sb_printf(b, "exit %d: a runtime error (see the messages above)\n", r->exit_status);
}

char *tp_report_text(const struct tp_run_report *r, int color)
{
    struct sbuf b = {{0}, 0};
    size_t jpass = 0, sok = 0, sfail = 0, sskip = 0, nsteps_all = 0;
    size_t hidden = 0, inconclusive = 0;
    int compared = r && r->comparison && r->comparison->npairs > 0;

    sb_put(&b, "", 0); /* an empty report is "", not NULL */
    for (size_t i = 0; r && i < r->njourneys; i++) {
        const struct tp_journey_result *jr = &r->journeys[i];
        size_t nsteps = tp_journey_result_nsteps(jr);
        if (jr->ok)
            jpass++;
        for (size_t k = 0; k < nsteps; k++) {
            struct tp_step_view v;
            tp_step_view(jr, k, &v);
            if (v.skipped)
                sskip++;
            else if (v.ok)
                sok++;
            else
                sfail++;
        }
        nsteps_all += nsteps;
        if (compared && jr->ok)
            hidden++; /* with a comparison, passed runs are in the tables below */
        else
            put_journey(&b, jr, color);
    }
    if (hidden)
        sb_printf(&b, "(%zu passed %s not shown step by step; --format json has every step)\n",
                  hidden, plural(hidden, "run", "runs"));
    for (size_t i = 0; compared && i < r->comparison->npairs; i++)
        put_comparison(&b, &r->comparison->pairs[i], color, &inconclusive);
    if (inconclusive)
        sb_printf(&b, "\n%zu INCONCLUSIVE %s: not enough evidence either way; they fail the run "
                      "only with --fail-on inconclusive\n",
                  inconclusive, plural(inconclusive, "step", "steps"));
    if (r) {
        sb_printf(&b, "%s%zu %s, %zu passed, %zu failed; %zu %s: %zu ok, %zu failed, %zu skipped\n",
                  compared ? "\n" : "", r->njourneys, plural(r->njourneys, "journey", "journeys"), jpass,
                  r->njourneys - jpass, nsteps_all, plural(nsteps_all, "step", "steps"), sok, sfail,
                  sskip);
        if (r->stopped != TP_STOP_NONE)
            sb_printf(&b, "stopped (%s): %u of %u %s completed and judged; %s %u-%u not run\n",
                      tp_stop_name(r->stopped), r->rounds_completed, r->rounds_planned,
                      plural(r->rounds_planned, "round", "rounds"),
                      plural(r->rounds_planned - r->rounds_completed, "round", "rounds"),
                      r->rounds_completed + 1, r->rounds_planned);
        put_exit_reasons(&b, r, r->njourneys - jpass);
    }
    if (b.failed) {
        tp_strbuf_free(&b.s);
        return NULL;
    }
    return b.s.data;
}
