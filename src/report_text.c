/* The terminal report: a header per journey x target x round, a line per step,
 * a summary line. Every string from outside (names, messages) is masked, then
 * cleaned of control characters and invalid UTF-8 so that a hostile response
 * cannot drive the terminal; the whole text is masked once more at the end.
 *
 *   checkout @ canary (round 3): FAILED
 *     ✓ open   200  total 41.4 ms  ttfb 40.1 ms
 *     ✗ login  500  total 12.0 ms  ttfb 11.8 ms  2 attempts
 *         failure: http — status: expected one of [302, 303], got 500
 *     - pay    skipped
 *   3 journeys, 2 passed, 1 failed; 15 steps: 12 ok, 1 failed, 2 skipped
 */
#include "twinprobe/report.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/mask.h"

#define NAME_WIDTH_MAX 40 /* step names are padded to the longest, at most this */

#define C_RED "\033[31m"
#define C_GREEN "\033[32m"
#define C_DIM "\033[2m"
#define C_BOLD "\033[1m"
#define C_RESET "\033[0m"

size_t tp_report_utf8_next(const char *s, size_t n, unsigned long *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    unsigned long c;
    size_t len, i;

    if (n == 0)
        return 0;
    if (u[0] < 0x80) {
        *cp = u[0];
        return 1;
    }
    if (u[0] >= 0xc2 && u[0] <= 0xdf) {
        len = 2;
        c = u[0] & 0x1f;
    } else if (u[0] >= 0xe0 && u[0] <= 0xef) {
        len = 3;
        c = u[0] & 0x0f;
    } else if (u[0] >= 0xf0 && u[0] <= 0xf4) {
        len = 4;
        c = u[0] & 0x07;
    } else {
        return 0; /* a continuation byte, an overlong lead (c0, c1) or past f4 */
    }
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        if ((u[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (u[i] & 0x3f);
    }
    if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
        (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

/* A growing string; after a failed allocation every append is a no-op and
 * failed stays set. */
struct sbuf {
    char *data;
    size_t len, cap;
    int failed;
};

static int sb_reserve(struct sbuf *b, size_t more)
{
    size_t cap;
    char *p;

    if (b->failed)
        return -1;
    if (more < b->cap - b->len)
        return 0;
    if (more > SIZE_MAX / 2 - b->len - 1) {
        b->failed = 1;
        return -1;
    }
    cap = b->cap ? b->cap : 256;
    while (cap - b->len <= more)
        cap *= 2;
    p = realloc(b->data, cap);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
    if (sb_reserve(b, n))
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
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
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if (sb_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Appends text masked, then cleaned for a terminal: tabs and line breaks become
 * spaces, other control characters (C0, DEL, C1) '?', invalid UTF-8 U+FFFD.
 * Returns the number of characters written. */
static size_t put_clean(struct sbuf *b, const tp_secrets *secrets, const char *text)
{
    char *masked;
    size_t i = 0, n, count = 0;

    if (!text)
        return 0;
    masked = tp_secrets_mask(secrets, text);
    if (!masked) {
        b->failed = 1;
        return 0;
    }
    n = strlen(masked);
    while (i < n) {
        unsigned long cp;
        size_t len = tp_report_utf8_next(masked + i, n - i, &cp);
        if (len == 0) {
            sb_puts(b, "\xef\xbf\xbd");
            len = 1;
        } else if (cp == '\t' || cp == '\n' || cp == '\r') {
            sb_puts(b, " ");
        } else if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
            sb_puts(b, "?");
        } else {
            sb_put(b, masked + i, len);
        }
        i += len;
        count++;
    }
    free(masked);
    return count;
}

/* The width put_clean would give name (characters, not bytes). */
static size_t clean_width(const tp_secrets *secrets, const char *name)
{
    struct sbuf tmp = {0};
    size_t w = put_clean(&tmp, secrets, name);
    free(tmp.data);
    return w;
}

static const char *step_name(const struct tp_journey *j, size_t k)
{
    return j && j->steps && j->steps[k].name ? j->steps[k].name : "?";
}

static const char *step_error(const struct tp_step_result *s)
{
    return s->error ? s->error : s->eval.error;
}

static void put_step(struct sbuf *b, const struct tp_run_report *r,
                     const struct tp_journey_result *jr, size_t k, size_t width, int color)
{
    const struct tp_step_result *s = &jr->steps[k];
    const struct tp_timings *t = &s->response.timings;
    const char *err = step_error(s);
    size_t w;

    if (s->skipped) {
        sb_puts(b, color ? "  " C_DIM "- " : "  - ");
        w = put_clean(b, r->secrets, step_name(jr->journey, k));
        while (w++ < width)
            sb_puts(b, " ");
        sb_puts(b, color ? "  skipped" C_RESET "\n" : "  skipped\n");
        return;
    }
    if (s->ok)
        sb_puts(b, color ? "  " C_GREEN "\xe2\x9c\x93" C_RESET " " : "  \xe2\x9c\x93 ");
    else
        sb_puts(b, color ? "  " C_RED "\xe2\x9c\x97" C_RESET " " : "  \xe2\x9c\x97 ");
    w = put_clean(b, r->secrets, step_name(jr->journey, k));
    while (w++ < width)
        sb_puts(b, " ");
    if (s->response.status > 0)
        sb_printf(b, "  %3ld", s->response.status);
    else
        sb_puts(b, "  ---");
    sb_printf(b, "  total %.1f ms  ttfb %.1f ms", t->total_ms, t->ttfb_ms);
    if (s->attempts > 1)
        sb_printf(b, "  %u attempts", s->attempts);
    sb_puts(b, "\n");
    if (s->ok)
        return;

    sb_puts(b, color ? "      " C_RED "failure:" C_RESET " " : "      failure: ");
    sb_puts(b, s->failure != TP_FAIL_NONE && tp_failure_name(s->failure)
                   ? tp_failure_name(s->failure)
                   : "failed");
    if (err) {
        sb_puts(b, " \xe2\x80\x94 ");
        put_clean(b, r->secrets, err);
    }
    sb_puts(b, "\n");
    /* the first failure is above; other failed assertions follow */
    for (size_t i = 0; i < s->eval.nassertions; i++) {
        const struct tp_assertion *a = &s->eval.assertions[i];
        if (a->ok || !a->message || (err && strcmp(a->message, err) == 0))
            continue;
        sb_puts(b, "      also: ");
        put_clean(b, r->secrets, a->message);
        sb_puts(b, "\n");
    }
}

static void put_journey(struct sbuf *b, const struct tp_run_report *r,
                        const struct tp_journey_result *jr, int color)
{
    size_t nsteps = jr->journey && jr->steps ? jr->journey->nsteps : 0;
    size_t width = 0;

    put_clean(b, r->secrets, jr->journey && jr->journey->name ? jr->journey->name : "?");
    sb_puts(b, " @ ");
    put_clean(b, r->secrets, jr->target && jr->target->name ? jr->target->name : "?");
    sb_printf(b, " (round %u): ", jr->round);
    if (jr->ok)
        sb_puts(b, color ? C_GREEN "passed" C_RESET "\n" : "passed\n");
    else
        sb_puts(b, color ? C_BOLD C_RED "FAILED" C_RESET "\n" : "FAILED\n");

    for (size_t k = 0; k < nsteps; k++) {
        size_t w = clean_width(r->secrets, step_name(jr->journey, k));
        if (w > width)
            width = w;
    }
    if (width > NAME_WIDTH_MAX)
        width = NAME_WIDTH_MAX;
    for (size_t k = 0; k < nsteps; k++)
        put_step(b, r, jr, k, width, color);
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

/* A number from the comparisons JSON, or "-" when it is null. */
static void put_num(struct sbuf *b, const json_t *v, enum num_style style, int width)
{
    char cell[48];
    double x = json_number_value(v);
    if (!json_is_number(v))
        snprintf(cell, sizeof cell, "-");
    else if (style == NUM_PCT)
        snprintf(cell, sizeof cell, "%+.1f%%", x);
    else if (style == NUM_P)
        snprintf(cell, sizeof cell, "%.4f", x);
    else
        snprintf(cell, sizeof cell, "%.1f", x);
    sb_printf(b, "%*s", width, cell);
}

static const char *verdict_color(const char *v)
{
    if (strcmp(v, "PASS") == 0 || strcmp(v, "LOW") == 0)
        return "\033[32m";
    if (strcmp(v, "HIGH") == 0 || strcmp(v, "CRITICAL") == 0)
        return "\033[31m";
    return "\033[33m";
}

/* The table of one comparison: a row per step, then the journey's verdict. */
static void put_comparison(struct sbuf *b, const tp_secrets *secrets, const json_t *c,
                           int color, size_t *inconclusive)
{
    const char *verdict = json_string_value(json_object_get(c, "verdict"));
    json_t *steps = json_object_get(c, "steps"), *st;
    size_t i, width = 4;

    verdict = verdict ? verdict : "?";
    sb_puts(b, "\n");
    put_clean(b, secrets, json_string_value(json_object_get(c, "journey")));
    sb_puts(b, ": ");
    put_clean(b, secrets, json_string_value(json_object_get(c, "cand")));
    sb_puts(b, " vs ");
    put_clean(b, secrets, json_string_value(json_object_get(c, "base")));
    sb_printf(b, ", %lld rounds\n", (long long)json_integer_value(json_object_get(c, "rounds")));
    json_array_foreach(steps, i, st) {
        size_t w = clean_width(secrets, json_string_value(json_object_get(st, "step")));
        width = w > width ? w : width;
    }
    width = width > 40 ? 40 : width;
    sb_printf(b, "  %-*s %10s %10s %9s %21s %8s %8s  %-12s %s\n", (int)width, "step", "base ms",
              "cand ms", "delta", "95% CI", "p", "p adj", "verdict", "mismatches");
    json_array_foreach(steps, i, st) {
        const char *v = json_string_value(json_object_get(st, "verdict"));
        size_t w = 0;
        char ci[64];
        json_t *lo = json_object_get(st, "ci_low_pct"), *hi = json_object_get(st, "ci_high_pct");
        v = v ? v : "?";
        sb_puts(b, "  ");
        w = put_clean(b, secrets, json_string_value(json_object_get(st, "step")));
        sb_printf(b, "%*s ", (int)(width > w ? width - w : 0), "");
        put_num(b, json_object_get(st, "base_median_ms"), NUM_MS, 10);
        sb_puts(b, " ");
        put_num(b, json_object_get(st, "cand_median_ms"), NUM_MS, 10);
        sb_puts(b, " ");
        put_num(b, json_object_get(st, "delta_pct"), NUM_PCT, 9);
        if (json_is_number(lo) || json_is_number(hi)) {
            char l[24] = "-inf", h[24] = "+inf";
            if (json_is_number(lo))
                snprintf(l, sizeof l, "%+.1f%%", json_number_value(lo));
            if (json_is_number(hi))
                snprintf(h, sizeof h, "%+.1f%%", json_number_value(hi));
            snprintf(ci, sizeof ci, "[%s, %s]", l, h);
        } else {
            snprintf(ci, sizeof ci, "-");
        }
        sb_printf(b, " %21s ", ci);
        put_num(b, json_object_get(st, "p"), NUM_P, 8);
        sb_puts(b, " ");
        put_num(b, json_object_get(st, "p_adj"), NUM_P, 8);
        sb_printf(b, "  %s%-12s%s %lld\n", color ? verdict_color(v) : "", v, color ? "\033[0m" : "",
                  (long long)json_integer_value(json_object_get(st, "mismatch_count")));
        if (strcmp(v, "INCONCLUSIVE") == 0)
            (*inconclusive)++;
        json_t *mms = json_object_get(st, "mismatches"), *mm;
        size_t k;
        json_array_foreach(mms, k, mm) {
            sb_puts(b, "      mismatch ");
            put_clean(b, secrets, json_string_value(json_object_get(mm, "kind")));
            sb_puts(b, " at ");
            put_clean(b, secrets, json_string_value(json_object_get(mm, "path")));
            sb_puts(b, ": ");
            put_clean(b, secrets, json_is_string(json_object_get(mm, "base"))
                                      ? json_string_value(json_object_get(mm, "base"))
                                      : "(absent)");
            sb_puts(b, " -> ");
            put_clean(b, secrets, json_is_string(json_object_get(mm, "cand"))
                                      ? json_string_value(json_object_get(mm, "cand"))
                                      : "(absent)");
            sb_printf(b, " (%lld of %lld rounds)\n",
                      (long long)json_integer_value(json_object_get(mm, "rounds")),
                      (long long)json_integer_value(json_object_get(c, "rounds")));
        }
        if (strcmp(v, "PASS") != 0) {
            sb_puts(b, "      ");
            put_clean(b, secrets, json_string_value(json_object_get(st, "reason")));
            sb_puts(b, "\n");
        }
    }
    sb_printf(b, "  journey verdict: %s%s%s, score ", color ? verdict_color(verdict) : "", verdict,
              color ? "\033[0m" : "");
    put_num(b, json_object_get(c, "score"), NUM_MS, 0);
    sb_puts(b, " (");
    put_clean(b, secrets, json_string_value(json_object_get(c, "score_class")));
    sb_puts(b, "): ");
    put_clean(b, secrets, json_string_value(json_object_get(c, "reason")));
    sb_puts(b, "\n");
}

char *tp_report_text(const struct tp_run_report *r, int color)
{
    struct sbuf b = {0};
    size_t jpass = 0, sok = 0, sfail = 0, sskip = 0, nsteps_all = 0;
    char *out;

    size_t hidden = 0, inconclusive = 0;
    int compared = r && json_array_size(r->comparisons) > 0;

    sb_put(&b, "", 0); /* an empty report is "", not NULL */
    for (size_t i = 0; r && i < r->njourneys; i++) {
        const struct tp_journey_result *jr = &r->journeys[i];
        size_t nsteps = jr->journey && jr->steps ? jr->journey->nsteps : 0;
        if (jr->ok)
            jpass++;
        for (size_t k = 0; k < nsteps; k++) {
            if (jr->steps[k].skipped)
                sskip++;
            else if (jr->steps[k].ok)
                sok++;
            else
                sfail++;
        }
        nsteps_all += nsteps;
        if (compared && jr->ok)
            hidden++; /* with a comparison, passed runs are in the tables below */
        else
            put_journey(&b, r, jr, color);
    }
    if (hidden)
        sb_printf(&b, "(%zu passed %s not shown step by step; --format json has every step)\n",
                  hidden, plural(hidden, "run", "runs"));
    for (size_t i = 0; compared && i < json_array_size(r->comparisons); i++)
        put_comparison(&b, r->secrets, json_array_get(r->comparisons, i), color, &inconclusive);
    if (inconclusive)
        sb_printf(&b, "\n%zu INCONCLUSIVE %s: not enough evidence either way; they fail the run "
                      "only with --fail-on inconclusive\n",
                  inconclusive, plural(inconclusive, "step", "steps"));
    if (r) {
        sb_printf(&b, "%s%zu %s, %zu passed, %zu failed; %zu %s: %zu ok, %zu failed, %zu skipped\n",
                  compared ? "\n" : "", r->njourneys, plural(r->njourneys, "journey", "journeys"), jpass,
                  r->njourneys - jpass, nsteps_all, plural(nsteps_all, "step", "steps"), sok, sfail,
                  sskip);
    }
    if (b.failed) {
        free(b.data);
        return NULL;
    }
    out = tp_secrets_mask(r ? r->secrets : NULL, b.data);
    free(b.data);
    return out;
}
