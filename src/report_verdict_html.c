/* The cross-region verdict as one self-contained HTML page (report_verdict_html.h). */
#include "twinprobe/report_verdict_html.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/report_verdict.h"
#include "twinprobe/strbuf.h"

#define CHART_W 640 /* SVG size in px */
#define CHART_H 180
#define PAD_L 56 /* room for the ms axis labels */
#define PAD_R 12
#define PAD_T 12
#define PAD_B 28        /* room for the time axis labels */
#define MAX_CIRCLES 300 /* series longer than this are drawn as lines only */

static const char STYLE[] =
    "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;background:#fff}"
    "table{border-collapse:collapse;margin:.5em 0}"
    "th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}"
    "th{background:#f4f4f4}"
    ".v{font-weight:600;white-space:nowrap}"
    ".PASS,.LOW{background:#e3f4e3}.HIGH,.CRITICAL{background:#fbe0e0}"
    ".REGIONAL{background:#f1e0f7}.INCONCLUSIVE{background:#fff4d6}.NODATA{background:#eee}"
    ".chart{display:inline-block;margin:0 1em 1em 0;vertical-align:top}"
    ".legend span{margin-right:1em}.base{color:#1f6fb4}.cand{color:#d9661f}"
    "code{font-size:90%;word-break:break-all}";

/* s with & < > " ' as entities. */
static int esc(struct tp_strbuf *b, const char *s)
{
    int fail = 0;
    for (const char *p = s; *p && !fail; p++) {
        switch (*p) {
        case '&':
            fail = tp_strbuf_str(b, "&amp;");
            break;
        case '<':
            fail = tp_strbuf_str(b, "&lt;");
            break;
        case '>':
            fail = tp_strbuf_str(b, "&gt;");
            break;
        case '"':
            fail = tp_strbuf_str(b, "&quot;");
            break;
        case '\'':
            fail = tp_strbuf_str(b, "&#39;");
            break;
        default:
            fail = tp_strbuf_add(b, p, 1);
            break;
        }
    }
    return fail;
}

/* <td class="VERDICT v">VERDICT +1.2%</td> (delta NaN: no delta). */
static int verdict_cell(struct tp_strbuf *b, enum tp_verdict v, int regional, double delta)
{
    const char *name = tp_cross_verdict_name(v, regional);
    if (isfinite(delta))
        return tp_strbuf_addf(b, "<td class=\"%s v\">%s %+.1f%%</td>", name, name, delta);
    return tp_strbuf_addf(b, "<td class=\"%s v\">%s</td>", name, name);
}

static int pct_text(struct tp_strbuf *b, double v)
{
    return isfinite(v) ? tp_strbuf_addf(b, "%+.1f%%", v) : tp_strbuf_str(b, "n/a");
}

/* The interval of one cell as text: "delta +1.2% [-0.5%, +3.0%], margin 5.0%, 40 rounds". */
static int interval_text(struct tp_strbuf *b, const struct tp_cross_cell *c)
{
    int fail = tp_strbuf_str(b, "&#916; ");
    fail |= pct_text(b, c->delta_pct);
    fail |= tp_strbuf_str(b, " [");
    fail |= pct_text(b, c->ci_low_pct);
    fail |= tp_strbuf_str(b, ", ");
    fail |= pct_text(b, c->ci_high_pct);
    fail |= tp_strbuf_str(b, "], margin ");
    fail |= isfinite(c->margin_pct) ? tp_strbuf_addf(b, "%.1f%%", c->margin_pct)
                                    : tp_strbuf_str(b, "n/a");
    fail |= tp_strbuf_addf(b, ", %zu rounds, %zu runs", c->rounds, c->runs);
    return fail;
}

/* One side of a series as a polyline (and circles when short); failed rounds skipped. */
static int series_svg(struct tp_strbuf *b, const struct tp_cross_point *p, size_t n, int cand,
                      int64_t t0, int64_t t1, double ymax)
{
    const char *color = cand ? "#d9661f" : "#1f6fb4";
    double span = t1 > t0 ? (double)(t1 - t0) : 1.0;
    int fail = tp_strbuf_addf(b,
                              "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" "
                              "points=\"",
                              color);
    for (size_t i = 0; i < n && !fail; i++) {
        double v = cand ? p[i].cand_ms : p[i].base_ms;
        if (!isfinite(v))
            continue;
        fail |= tp_strbuf_addf(b, "%.1f,%.1f ",
                               PAD_L + (double)(p[i].at_ms - t0) / span * (CHART_W - PAD_L - PAD_R),
                               PAD_T + (1.0 - v / ymax) * (CHART_H - PAD_T - PAD_B));
    }
    fail |= tp_strbuf_str(b, "\"/>");
    for (size_t i = 0; n <= MAX_CIRCLES && i < n && !fail; i++) {
        double v = cand ? p[i].cand_ms : p[i].base_ms;
        if (!isfinite(v))
            continue;
        fail |= tp_strbuf_addf(b, "<circle r=\"2\" fill=\"%s\" cx=\"%.1f\" cy=\"%.1f\"/>", color,
                               PAD_L + (double)(p[i].at_ms - t0) / span * (CHART_W - PAD_L - PAD_R),
                               PAD_T + (1.0 - v / ymax) * (CHART_H - PAD_T - PAD_B));
    }
    return fail;
}

/* The chart of step st at location loc: axes, both series, the interval below. */
static int chart(struct tp_strbuf *b, const struct tp_cross_result *x,
                 const struct tp_cross_step *st, size_t loc)
{
    const struct tp_cross_point *p;
    size_t n = tp_cross_series(st, loc, &p), failed = 0;
    double ymax = 0;
    int64_t t0, t1;
    char from[32], to[32];
    int fail;

    if (n == 0)
        return 0;
    t0 = p[0].at_ms;
    t1 = p[n - 1].at_ms;
    for (size_t i = 0; i < n; i++) {
        if (isfinite(p[i].base_ms) && p[i].base_ms > ymax)
            ymax = p[i].base_ms;
        if (isfinite(p[i].cand_ms) && p[i].cand_ms > ymax)
            ymax = p[i].cand_ms;
        failed += !isfinite(p[i].base_ms) || !isfinite(p[i].cand_ms);
        t0 = p[i].at_ms < t0 ? p[i].at_ms : t0;
        t1 = p[i].at_ms > t1 ? p[i].at_ms : t1;
    }
    ymax = ymax > 0 ? ymax * 1.1 : 1.0;
    tp_report_verdict_utc(t0, from, sizeof from);
    tp_report_verdict_utc(t1, to, sizeof to);
    fail = tp_strbuf_str(b, "<figure class=\"chart\"><figcaption><b>");
    fail |= esc(b, x->locations[loc]);
    fail |= tp_strbuf_addf(b, "</b> (%zu points)</figcaption>", n);
    fail |= tp_strbuf_addf(b,
                           "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                           "viewBox=\"0 0 %d %d\" role=\"img\"><title>",
                           CHART_W, CHART_H, CHART_W, CHART_H);
    fail |= esc(b, st->name);
    fail |= tp_strbuf_str(b, " at ");
    fail |= esc(b, x->locations[loc]);
    fail |= tp_strbuf_addf(
        b,
        ": baseline and candidate latency</title>"
        "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#fafafa\" stroke=\"#ccc\"/>"
        "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">%.0f ms</text>"
        "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">0 ms</text>"
        "<text x=\"%d\" y=\"%d\" font-size=\"11\">%s</text>"
        "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">%s</text>",
        PAD_L, PAD_T, CHART_W - PAD_L - PAD_R, CHART_H - PAD_T - PAD_B, PAD_L - 4, PAD_T + 10, ymax,
        PAD_L - 4, CHART_H - PAD_B, PAD_L, CHART_H - 8, from, CHART_W - PAD_R, CHART_H - 8, to);
    fail |= series_svg(b, p, n, 0, t0, t1, ymax);
    fail |= series_svg(b, p, n, 1, t0, t1, ymax);
    fail |=
        tp_strbuf_str(b, "</svg><div class=\"legend\"><span class=\"base\">&#9632; baseline</span>"
                         "<span class=\"cand\">&#9632; candidate</span>");
    if (failed)
        fail |= tp_strbuf_addf(b, "<span>%zu failed rounds not drawn</span>", failed);
    fail |= tp_strbuf_str(b, "</div><div>");
    fail |= tp_strbuf_addf(b, "<span class=\"%s v\">%s</span> ",
                           tp_verdict_name(st->cells[loc].verdict),
                           tp_verdict_name(st->cells[loc].verdict));
    fail |= interval_text(b, &st->cells[loc]);
    fail |= tp_strbuf_str(b, "</div></figure>\n");
    return fail;
}

static int journey_html(struct tp_strbuf *b, const struct tp_cross_result *x,
                        const struct tp_cross_journey *jr)
{
    const char *name = tp_cross_verdict_name(jr->verdict, jr->regional);
    size_t ndiffs = 0;
    int fail = tp_strbuf_str(b, "<section><h2>");
    fail |= esc(b, jr->name);
    fail |= tp_strbuf_addf(b, " <span class=\"%s v\">%s</span>", name, name);
    if (isfinite(jr->score))
        fail |= tp_strbuf_addf(b, " score %.1f", jr->score);
    fail |= tp_strbuf_str(b, "</h2>\n<table><thead><tr><th>step</th>");
    for (size_t l = 0; l < x->nlocations; l++) {
        fail |= tp_strbuf_str(b, "<th>");
        fail |= esc(b, x->locations[l]);
        fail |= tp_strbuf_str(b, "</th>");
    }
    fail |= tp_strbuf_str(b, "<th>combined</th></tr></thead><tbody>\n");
    for (size_t s = 0; s < jr->nsteps; s++) {
        const struct tp_cross_step *st = &jr->steps[s];
        fail |= tp_strbuf_str(b, "<tr><th>");
        fail |= esc(b, st->name);
        fail |= tp_strbuf_str(b, "</th>");
        for (size_t l = 0; l < x->nlocations; l++)
            fail |= verdict_cell(b, st->cells[l].verdict, 0, st->cells[l].delta_pct);
        fail |= verdict_cell(b, st->verdict, st->regional, st->delta_pct);
        fail |= tp_strbuf_str(b, "</tr>\n");
        ndiffs += st->ndiffs + st->diffs_dropped;
    }
    fail |= tp_strbuf_str(b, "</tbody></table>\n<ul class=\"reasons\">");
    for (size_t s = 0; s < jr->nsteps; s++)
        if (jr->steps[s].verdict != TP_V_PASS) {
            fail |= tp_strbuf_str(b, "<li><b>");
            fail |= esc(b, jr->steps[s].name);
            fail |= tp_strbuf_str(b, "</b>: ");
            fail |= esc(b, jr->steps[s].reason);
            fail |= tp_strbuf_str(b, "</li>");
        }
    fail |= tp_strbuf_str(b, "</ul>\n");
    for (size_t s = 0; s < jr->nsteps; s++) {
        fail |= tp_strbuf_str(b, "<h3>");
        fail |= esc(b, jr->steps[s].name);
        fail |= tp_strbuf_str(b, "</h3>\n");
        for (size_t l = 0; l < x->nlocations; l++)
            fail |= chart(b, x, &jr->steps[s], l);
    }
    if (ndiffs) {
        fail |= tp_strbuf_str(b, "<h3>Mismatches</h3>\n<table><thead><tr><th>step</th>"
                                 "<th>location</th><th>rounds</th><th>first difference</th>"
                                 "</tr></thead><tbody>\n");
        for (size_t s = 0; s < jr->nsteps; s++) {
            const struct tp_cross_step *st = &jr->steps[s];
            for (size_t d = 0; d < st->ndiffs; d++) {
                fail |= tp_strbuf_str(b, "<tr><td>");
                fail |= esc(b, st->name);
                fail |= tp_strbuf_str(b, "</td><td>");
                fail |= esc(b, x->locations[st->diffs[d].location]);
                fail |= tp_strbuf_addf(b, "</td><td>%zu</td><td><code>", st->diffs[d].count);
                fail |= esc(b, st->diffs[d].diff);
                fail |= tp_strbuf_str(b, "</code></td></tr>\n");
            }
            if (st->diffs_dropped) {
                fail |= tp_strbuf_str(b, "<tr><td>");
                fail |= esc(b, st->name);
                fail |= tp_strbuf_addf(b,
                                       "</td><td></td><td>%zu</td><td>more mismatching "
                                       "rounds, their paths not kept</td></tr>\n",
                                       st->diffs_dropped);
            }
        }
        fail |= tp_strbuf_str(b, "</tbody></table>\n");
    }
    fail |= tp_strbuf_str(b, "</section>\n");
    return fail;
}

char *tp_report_verdict_html(const struct tp_cross_result *x, int64_t since_ms, int64_t until_ms)
{
    struct tp_strbuf b = {0};
    char from[32], to[32];
    int fail;

    tp_report_verdict_utc(since_ms, from, sizeof from);
    tp_report_verdict_utc(until_ms, to, sizeof to);
    fail = tp_strbuf_addf(&b,
                          "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                          "<title>twinprobe verdict %s .. %s</title><style>%s</style></head>\n"
                          "<body><h1>twinprobe verdict</h1><p>window %s .. %s</p>\n",
                          from, to, STYLE, from, to);
    if (x->njourneys == 0)
        fail |= tp_strbuf_str(&b, "<p class=\"NODATA v\">NODATA: no steps entries in the "
                                  "window</p>\n");
    for (size_t j = 0; j < x->njourneys; j++)
        fail |= journey_html(&b, x, &x->journeys[j]);
    fail |= tp_strbuf_str(&b, "</body></html>\n");
    if (fail) {
        tp_strbuf_free(&b);
        return NULL;
    }
    return b.data;
}
