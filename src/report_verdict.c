/* The cross-region verdict as text and JSON (report_verdict.h). */
#include "twinprobe/report_verdict.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/strbuf.h"

#define CELL_WIDTH 18

static const char *color_of(enum tp_verdict v, int regional)
{
    if (regional && v == TP_V_HIGH)
        return "\033[35m";
    switch (v) {
    case TP_V_PASS:
    case TP_V_LOW:
        return "\033[32m";
    case TP_V_HIGH:
    case TP_V_CRITICAL:
        return "\033[31m";
    case TP_V_INCONCLUSIVE:
        return "\033[33m";
    default:
        return "";
    }
}

/* One cell: "VERDICT +12.3%", padded to width (colors do not count). */
static int cell(struct tp_strbuf *b, enum tp_verdict v, int regional, double delta, int color,
                int width)
{
    char text[64];
    int n;
    if (isfinite(delta))
        n = snprintf(text, sizeof text, "%s %+.1f%%", tp_cross_verdict_name(v, regional), delta);
    else
        n = snprintf(text, sizeof text, "%s", tp_cross_verdict_name(v, regional));
    if (color && *color_of(v, regional))
        return tp_strbuf_addf(b, "%s%s\033[0m%*s", color_of(v, regional), text,
                              n < width ? width - n : 1, "");
    return tp_strbuf_addf(b, "%-*s", width, text);
}

void tp_report_verdict_utc(int64_t ms, char *buf, size_t size)
{
    int64_t days = ms / 86400000, rem = ms % 86400000;
    /* civil_from_days (H. Hinnant) */
    int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    if (rem < 0)
        rem += 86400000;
    snprintf(buf, size, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ", (long long)(y + (m <= 2)),
             (long long)m, (long long)d, (long long)(rem / 3600000),
             (long long)(rem / 60000 % 60), (long long)(rem / 1000 % 60));
}

char *tp_report_verdict_text(const struct tp_cross_result *x, int64_t since_ms, int64_t until_ms,
                             int color)
{
    struct tp_strbuf b = {0};
    char from[80], to[80];
    int fail = 0, name_w = 4;

    tp_report_verdict_utc(since_ms, from, sizeof from);
    tp_report_verdict_utc(until_ms, to, sizeof to);
    fail |= tp_strbuf_addf(&b, "window %s .. %s\n", from, to);
    if (x->njourneys == 0)
        fail |= tp_strbuf_addf(&b, "\nNODATA: no steps entries in the window\n");
    for (size_t j = 0; j < x->njourneys; j++)
        for (size_t s = 0; s < x->journeys[j].nsteps; s++) {
            int len = (int)strlen(x->journeys[j].steps[s].name);
            name_w = len > name_w ? len : name_w;
        }
    for (size_t j = 0; j < x->njourneys; j++) {
        const struct tp_cross_journey *jr = &x->journeys[j];
        fail |= tp_strbuf_addf(&b, "\n%s  ", jr->name);
        fail |= cell(&b, jr->verdict, jr->regional, NAN, color, 1);
        if (isfinite(jr->score))
            fail |= tp_strbuf_addf(&b, " score %.1f", jr->score);
        fail |= tp_strbuf_addf(&b, "\n  %-*s", name_w, "step");
        for (size_t l = 0; l < x->nlocations; l++) {
            int len = (int)strlen(x->locations[l]);
            fail |= tp_strbuf_addf(&b, "  %-*s", len > CELL_WIDTH ? len : CELL_WIDTH,
                                   x->locations[l]);
        }
        fail |= tp_strbuf_addf(&b, "  combined\n");
        for (size_t s = 0; s < jr->nsteps; s++) {
            const struct tp_cross_step *st = &jr->steps[s];
            fail |= tp_strbuf_addf(&b, "  %-*s", name_w, st->name);
            for (size_t l = 0; l < x->nlocations; l++) {
                int len = (int)strlen(x->locations[l]);
                fail |= tp_strbuf_addf(&b, "  ");
                fail |= cell(&b, st->cells[l].verdict, 0, st->cells[l].delta_pct, color,
                             len > CELL_WIDTH ? len : CELL_WIDTH);
            }
            fail |= tp_strbuf_addf(&b, "  ");
            fail |= cell(&b, st->verdict, st->regional, st->delta_pct, color, 1);
            fail |= tp_strbuf_addf(&b, "\n");
        }
        for (size_t s = 0; s < jr->nsteps; s++)
            if (jr->steps[s].verdict != TP_V_PASS)
                fail |= tp_strbuf_addf(&b, "  %s: %s\n", jr->steps[s].name, jr->steps[s].reason);
    }
    if (fail) {
        tp_strbuf_free(&b);
        return NULL;
    }
    return b.data ? b.data : calloc(1, 1);
}

static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static int put(json_t *obj, const char *key, json_t *v)
{
    return v ? json_object_set_new(obj, key, v) : -1;
}

static int push(json_t *arr, json_t *v)
{
    return v ? json_array_append_new(arr, v) : -1;
}

static json_t *location_json(const struct tp_cross_cell *c)
{
    json_t *o = json_object();
    int fail = !o;
    fail |= put(o, "verdict", json_string(tp_verdict_name(c->verdict)));
    fail |= put(o, "delta_pct", num(c->delta_pct));
    fail |= put(o, "ci_low_pct", num(c->ci_low_pct));
    fail |= put(o, "ci_high_pct", num(c->ci_high_pct));
    fail |= put(o, "runs", json_integer((json_int_t)c->runs));
    fail |= put(o, "rounds", json_integer((json_int_t)c->rounds));
    fail |= put(o, "errors", json_integer((json_int_t)c->errors));
    fail |= put(o, "mismatches", json_integer((json_int_t)c->mismatches));
    fail |= put(o, "base_median_ms", num(c->base_median_ms));
    fail |= put(o, "cand_median_ms", num(c->cand_median_ms));
    if (fail) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *step_json(const struct tp_cross_result *x, const struct tp_cross_step *st)
{
    json_t *o = json_object(), *locs = json_object();
    int fail = !o || !locs;
    fail |= put(o, "step", json_string(st->name));
    fail |= put(o, "verdict", json_string(tp_cross_verdict_name(st->verdict, st->regional)));
    fail |= put(o, "delta_pct", num(st->delta_pct));
    fail |= put(o, "ci_low_pct", num(st->ci_low_pct));
    fail |= put(o, "ci_high_pct", num(st->ci_high_pct));
    fail |= put(o, "reason", json_string(st->reason));
    for (size_t l = 0; !fail && l < x->nlocations; l++)
        fail |= put(locs, x->locations[l], location_json(&st->cells[l]));
    fail |= put(o, "locations", locs);
    locs = NULL;
    if (fail) {
        json_decref(o);
        return NULL;
    }
    return o;
}

char *tp_report_verdict_json(const struct tp_cross_result *x, int64_t since_ms, int64_t until_ms)
{
    json_t *doc = json_object(), *journeys = json_array();
    char *out = NULL;
    int fail = !doc || !journeys;

    fail |= put(doc, "since_ms", json_integer(since_ms));
    fail |= put(doc, "until_ms", json_integer(until_ms));
    for (size_t j = 0; !fail && j < x->njourneys; j++) {
        const struct tp_cross_journey *jr = &x->journeys[j];
        json_t *o = json_object(), *steps = json_array();
        int bad = !o || !steps;
        bad |= put(o, "journey", json_string(jr->name));
        bad |= put(o, "verdict", json_string(tp_cross_verdict_name(jr->verdict, jr->regional)));
        bad |= put(o, "score", num(jr->score));
        for (size_t s = 0; !bad && s < jr->nsteps; s++)
            bad |= push(steps, step_json(x, &jr->steps[s]));
        bad |= put(o, "steps", steps);
        if (bad) {
            json_decref(o);
            fail = 1;
        } else {
            fail |= push(journeys, o);
        }
    }
    fail |= put(doc, "journeys", journeys);
    if (!fail)
        out = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    json_decref(doc);
    return out;
}
