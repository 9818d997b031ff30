/* The JUnit XML report, written with libxml2's xmlTextWriter into memory:
 *
 *   <testsuites name="twinprobe" tests failures errors skipped time>
 *     <testsuite name="JOURNEY @ TARGET #ROUND" tests failures errors skipped
 *                time timestamp>            (timestamp: UTC, when known)
 *       <properties> run, location, trace_id </properties>
 *       <testcase name="STEP" classname="JOURNEY.TARGET" time="SECONDS">
 *         <failure type="CLASS" message="FIRST MESSAGE">details</failure>
 *         or <skipped message="..."/>
 *
 *   <testsuite name="JOURNEY: CAND vs BASE">   (one per comparison)
 *     <testcase name="STEP" classname="JOURNEY.compare.CAND">
 *       <failure type="VERDICT" message="VERDICT: REASON">mismatches</failure>
 *       (only when the comparison says the step fails the run) or
 *       <system-out>VERDICT: REASON</system-out>
 *
 * Every failed step is a <failure> (errors is always 0: a dns or timeout
 * failure is still the journey failing). Times are seconds with 3 decimals.
 * Strings arrive masked from their source (result.h, compare.h); each is
 * cleaned of what XML 1.0 forbids: control characters other than tab, LF, CR;
 * U+FFFE, U+FFFF; invalid UTF-8; each becomes U+FFFD. */
#include "twinprobe/report.h"

#include <libxml/xmlwriter.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "twinprobe/compare.h"
#include "twinprobe/strbuf.h"
#include "twinprobe/utf8.h"

/* text made XML 1.0 clean. New, or NULL on no memory. */
static xmlChar *clean(const char *text)
{
    const char *s = text ? text : "";
    xmlChar *out;
    size_t n, i = 0, o = 0;

    n = strlen(s);
    out = n <= SIZE_MAX / 3 - 1 ? malloc(3 * n + 1) : NULL;
    if (!out)
        return NULL;
    while (i < n) {
        unsigned long cp;
        size_t len = tp_utf8_next(s + i, n - i, &cp);
        int ok = len > 0 && (cp >= 0x20 || cp == '\t' || cp == '\n' || cp == '\r') &&
                 cp != 0xfffe && cp != 0xffff;
        if (ok) {
            memcpy(out + o, s + i, len);
            o += len;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
        }
        i += len ? len : 1;
    }
    out[o] = '\0';
    return out;
}

/* Each returns < 0 on failure (libxml2's convention). */
static int attr(xmlTextWriterPtr w, const char *name, const char *value)
{
    xmlChar *v = clean(value);
    int rc;

    if (!v)
        return -1;
    rc = xmlTextWriterWriteAttribute(w, BAD_CAST name, v);
    free(v);
    return rc;
}

static int text(xmlTextWriterPtr w, const char *value)
{
    xmlChar *v = clean(value);
    int rc;

    if (!v)
        return -1;
    rc = xmlTextWriterWriteString(w, v);
    free(v);
    return rc;
}

/* Attributes made of numbers need neither masking nor cleaning. */
static int attr_size(xmlTextWriterPtr w, const char *name, size_t v)
{
    return xmlTextWriterWriteFormatAttribute(w, BAD_CAST name, "%zu", v);
}

static int attr_seconds(xmlTextWriterPtr w, const char *name, double ms)
{
    return xmlTextWriterWriteFormatAttribute(w, BAD_CAST name, "%.3f", ms > 0 ? ms / 1000.0 : 0);
}

struct counts {
    size_t tests, failures, skipped;
    double ms;
};

static size_t nsteps_of(const struct tp_journey_result *jr)
{
    return tp_journey_result_nsteps(jr);
}

static void count_journey(const struct tp_journey_result *jr, struct counts *c)
{
    for (size_t k = 0; k < nsteps_of(jr); k++) {
        struct tp_step_view v;
        tp_step_view(jr, k, &v);
        c->tests++;
        if (v.skipped) {
            c->skipped++;
            continue;
        }
        if (!v.ok)
            c->failures++;
        c->ms += v.timings.total_ms;
    }
}

static int attr_counts(xmlTextWriterPtr w, const struct counts *c)
{
    if (attr_size(w, "tests", c->tests) < 0 || attr_size(w, "failures", c->failures) < 0 ||
        attr_size(w, "errors", 0) < 0 || attr_size(w, "skipped", c->skipped) < 0 ||
        attr_seconds(w, "time", c->ms) < 0)
        return -1;
    return 0;
}

static int property(xmlTextWriterPtr w, const char *name, const char *value)
{
    if (xmlTextWriterStartElement(w, BAD_CAST "property") < 0 ||
        attr(w, "name", name) < 0 || attr(w, "value", value) < 0 ||
        xmlTextWriterEndElement(w) < 0)
        return -1;
    return 0;
}

/* The failure's body: its first message, the other failed assertions, then
 * what the transfer looked like. */
static int failure_details(xmlTextWriterPtr w, const struct tp_step_view *v)
{
    const char *also;
    char line[256];
    size_t at = 0;

    if (v->error && (text(w, v->error) < 0 || text(w, "\n") < 0))
        return -1;
    while ((also = tp_step_view_also(v, &at)))
        if (text(w, also) < 0 || text(w, "\n") < 0)
            return -1;
    if (v->status > 0)
        snprintf(line, sizeof line, "status %ld, ", v->status);
    else
        snprintf(line, sizeof line, "no response, ");
    if (text(w, line) < 0)
        return -1;
    snprintf(line, sizeof line, "attempts %u, total %.1f ms, ttfb %.1f ms", v->attempts,
             v->timings.total_ms, v->timings.ttfb_ms);
    if (text(w, line) < 0)
        return -1;
    if (v->primary_ip[0] && (text(w, ", ip ") < 0 || text(w, v->primary_ip) < 0))
        return -1;
    if (v->http_version[0] && (text(w, ", HTTP/") < 0 || text(w, v->http_version) < 0))
        return -1;
    return text(w, "\n");
}

static int testcase(xmlTextWriterPtr w, const struct tp_journey_result *jr, size_t k,
                    const char *classname)
{
    struct tp_step_view v;
    const struct tp_journey *j = jr->journey;
    const char *name = j->steps && j->steps[k].name ? j->steps[k].name : "?";
    const char *err, *kind;

    tp_step_view(jr, k, &v);
    err = v.error;
    kind = tp_failure_name(v.failure) ? tp_failure_name(v.failure) : "failed";
    if (xmlTextWriterStartElement(w, BAD_CAST "testcase") < 0 ||
        attr(w, "name", name) < 0 || attr(w, "classname", classname) < 0 ||
        attr_seconds(w, "time", v.skipped ? 0 : v.timings.total_ms) < 0)
        return -1;
    if (v.skipped) {
        if (xmlTextWriterStartElement(w, BAD_CAST "skipped") < 0 ||
            attr(w, "message", err ? err : "not run: an earlier step failed") < 0 ||
            xmlTextWriterEndElement(w) < 0)
            return -1;
    } else if (!v.ok) {
        if (xmlTextWriterStartElement(w, BAD_CAST "failure") < 0 ||
            attr(w, "type", kind) < 0 ||
            attr(w, "message", err ? err : kind) < 0 ||
            failure_details(w, &v) < 0 || xmlTextWriterEndElement(w) < 0)
            return -1;
    }
    return xmlTextWriterEndElement(w);
}

/* "JOURNEY @ TARGET #ROUND" and "JOURNEY.TARGET", new, or -1 on no memory. */
static int suite_names(const struct tp_journey_result *jr, char **suite, char **classname)
{
    const char *jn = jr->journey && jr->journey->name ? jr->journey->name : "?";
    const char *tn = jr->target && jr->target->name ? jr->target->name : "?";
    size_t size = strlen(jn) + strlen(tn) + 32;

    *suite = malloc(size);
    *classname = malloc(size);
    if (!*suite || !*classname)
        return -1;
    snprintf(*suite, size, "%s @ %s #%u", jn, tn, jr->round);
    snprintf(*classname, size, "%s.%s", jn, tn);
    return 0;
}

static int testsuite(xmlTextWriterPtr w, const struct tp_run_report *r,
                     const struct tp_journey_result *jr)
{
    struct counts c = {0};
    char *suite = NULL, *classname = NULL;
    int rc = -1;

    count_journey(jr, &c);
    if (suite_names(jr, &suite, &classname) < 0)
        goto done;
    if (xmlTextWriterStartElement(w, BAD_CAST "testsuite") < 0 ||
        attr(w, "name", suite) < 0 || attr_counts(w, &c) < 0)
        goto done;
    if (jr->started_ms > 0) {
        time_t secs = (time_t)(jr->started_ms / 1000);
        struct tm tm;
        char stamp[32];
        if (gmtime_r(&secs, &tm) && strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm) &&
            attr(w, "timestamp", stamp) < 0)
            goto done;
    }
    if (xmlTextWriterStartElement(w, BAD_CAST "properties") < 0 ||
        property(w, "run", r->run_id) < 0 ||
        (r->location && property(w, "location", r->location) < 0) ||
        property(w, "trace_id", jr->trace_id) < 0 || xmlTextWriterEndElement(w) < 0)
        goto done;
    for (size_t k = 0; k < nsteps_of(jr); k++)
        if (testcase(w, jr, k, classname) < 0)
            goto done;
    rc = xmlTextWriterEndElement(w);

done:
    free(suite);
    free(classname);
    return rc;
}

static void count_comparison(const struct tp_pair_cmp *pc, struct counts *n)
{
    for (size_t s = 0; s < pc->nsteps; s++) {
        n->tests++;
        n->failures += pc->steps[s].fails ? 1 : 0;
    }
}

/* "VERDICT: REASON" of a comparison step (new), or NULL on no memory. */
static char *verdict_line(const struct tp_step_cmp *sc)
{
    struct tp_strbuf b = {0};
    if (tp_strbuf_addf(&b, "%s: %s", tp_verdict_name(sc->verdict.verdict), sc->verdict.reason)) {
        tp_strbuf_free(&b);
        return NULL;
    }
    return b.data;
}

/* One comparison step: a <failure> when the comparison says it fails the run,
 * else its verdict and reason in <system-out>. */
static int comparison_case(xmlTextWriterPtr w, const struct tp_pair_cmp *pc,
                           const struct tp_step_cmp *sc, const char *classname)
{
    char *msg = verdict_line(sc);
    int rc = -1;

    if (!msg || xmlTextWriterStartElement(w, BAD_CAST "testcase") < 0 ||
        attr(w, "name", sc->name) < 0 || attr(w, "classname", classname) < 0)
        goto done;
    if (!sc->fails) {
        if (xmlTextWriterStartElement(w, BAD_CAST "system-out") < 0 || text(w, msg) < 0 ||
            xmlTextWriterEndElement(w) < 0)
            goto done;
    } else {
        if (xmlTextWriterStartElement(w, BAD_CAST "failure") < 0 ||
            attr(w, "type", tp_verdict_name(sc->verdict.verdict)) < 0 ||
            attr(w, "message", msg) < 0)
            goto done;
        for (size_t k = 0; k < sc->mismatches.count; k++) {
            const struct tp_mismatch *mm = &sc->mismatches.items[k];
            struct tp_strbuf line = {0};
            int bad = tp_strbuf_addf(&line, "%s at %s: %s -> %s (%zu of %u rounds)\n",
                                     tp_mismatch_kind_name(mm->kind), mm->path ? mm->path : "?",
                                     mm->base ? mm->base : "(absent)",
                                     mm->cand ? mm->cand : "(absent)", sc->mismatch_rounds[k],
                                     pc->rounds) != 0 ||
                      text(w, line.data) < 0;
            tp_strbuf_free(&line);
            if (bad)
                goto done;
        }
        if (xmlTextWriterEndElement(w) < 0)
            goto done;
    }
    rc = xmlTextWriterEndElement(w);
done:
    free(msg);
    return rc;
}

/* <testsuite name="JOURNEY: CAND vs BASE"> with a testcase per step. */
static int comparison_suite(xmlTextWriterPtr w, const struct tp_pair_cmp *pc)
{
    struct counts n = {0};
    struct tp_strbuf name = {0}, classname = {0};
    int rc = -1;

    if (tp_strbuf_addf(&name, "%s: %s vs %s", pc->journey_name, pc->cand_name, pc->base_name) ||
        tp_strbuf_addf(&classname, "%s.compare.%s", pc->journey_name, pc->cand_name))
        goto done;
    count_comparison(pc, &n);
    if (xmlTextWriterStartElement(w, BAD_CAST "testsuite") < 0 || attr(w, "name", name.data) < 0 ||
        attr_counts(w, &n) < 0)
        goto done;
    for (size_t s = 0; s < pc->nsteps; s++)
        if (comparison_case(w, pc, &pc->steps[s], classname.data) < 0)
            goto done;
    rc = xmlTextWriterEndElement(w);
done:
    tp_strbuf_free(&name);
    tp_strbuf_free(&classname);
    return rc;
}

static int document(xmlTextWriterPtr w, const struct tp_run_report *r)
{
    struct counts all = {0};

    for (size_t i = 0; i < r->njourneys; i++)
        count_journey(&r->journeys[i], &all);
    for (size_t i = 0; r->comparison && i < r->comparison->npairs; i++)
        count_comparison(&r->comparison->pairs[i], &all);
    if (xmlTextWriterSetIndent(w, 1) < 0 || xmlTextWriterSetIndentString(w, BAD_CAST "  ") < 0 ||
        xmlTextWriterStartDocument(w, "1.0", "UTF-8", NULL) < 0 ||
        xmlTextWriterStartElement(w, BAD_CAST "testsuites") < 0 ||
        attr(w, "name", "twinprobe") < 0 || attr_counts(w, &all) < 0)
        return -1;
    for (size_t i = 0; i < r->njourneys; i++)
        if (testsuite(w, r, &r->journeys[i]) < 0)
            return -1;
    for (size_t i = 0; r->comparison && i < r->comparison->npairs; i++)
        if (comparison_suite(w, &r->comparison->pairs[i]) < 0)
            return -1;
    if (xmlTextWriterEndElement(w) < 0 || xmlTextWriterEndDocument(w) < 0)
        return -1;
    return 0;
}

char *tp_report_junit(const struct tp_run_report *r)
{
    xmlBufferPtr buf;
    xmlTextWriterPtr w;
    char *out = NULL;
    int rc;

    if (!r)
        return NULL;
    buf = xmlBufferCreate();
    if (!buf)
        return NULL;
    w = xmlNewTextWriterMemory(buf, 0);
    if (!w) {
        xmlBufferFree(buf);
        return NULL;
    }
    rc = document(w, r);
    xmlFreeTextWriter(w); /* flushes into buf */
    if (rc == 0)
        out = strdup((const char *)xmlBufferContent(buf));
    xmlBufferFree(buf);
    return out;
}
