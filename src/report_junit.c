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
 * Every failed step is a <failure> (errors is always 0: a dns or timeout
 * failure is still the journey failing). Times are seconds with 3 decimals.
 * Each string is masked before it is written (the writer's escaping could
 * otherwise split a secret), then cleaned of what XML 1.0 forbids: control
 * characters other than tab, LF, CR; U+FFFE, U+FFFF; invalid UTF-8; each
 * becomes U+FFFD. The finished document is masked once more. */
#include "twinprobe/report.h"

#include <libxml/xmlwriter.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "twinprobe/mask.h"

/* text masked and made XML 1.0 clean. New, or NULL on no memory. */
static xmlChar *clean(const tp_secrets *secrets, const char *text)
{
    char *masked = tp_secrets_mask(secrets, text ? text : "");
    xmlChar *out;
    size_t n, i = 0, o = 0;

    if (!masked)
        return NULL;
    n = strlen(masked);
    out = n <= SIZE_MAX / 3 - 1 ? malloc(3 * n + 1) : NULL;
    if (!out) {
        free(masked);
        return NULL;
    }
    while (i < n) {
        unsigned long cp;
        size_t len = tp_report_utf8_next(masked + i, n - i, &cp);
        int ok = len > 0 && (cp >= 0x20 || cp == '\t' || cp == '\n' || cp == '\r') &&
                 cp != 0xfffe && cp != 0xffff;
        if (ok) {
            memcpy(out + o, masked + i, len);
            o += len;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
        }
        i += len ? len : 1;
    }
    out[o] = '\0';
    free(masked);
    return out;
}

/* Each returns < 0 on failure (libxml2's convention). */
static int attr(xmlTextWriterPtr w, const tp_secrets *secrets, const char *name, const char *value)
{
    xmlChar *v = clean(secrets, value);
    int rc;

    if (!v)
        return -1;
    rc = xmlTextWriterWriteAttribute(w, BAD_CAST name, v);
    free(v);
    return rc;
}

static int text(xmlTextWriterPtr w, const tp_secrets *secrets, const char *value)
{
    xmlChar *v = clean(secrets, value);
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
    return jr->journey && jr->steps ? jr->journey->nsteps : 0;
}

static void count_journey(const struct tp_journey_result *jr, struct counts *c)
{
    for (size_t k = 0; k < nsteps_of(jr); k++) {
        const struct tp_step_result *s = &jr->steps[k];
        c->tests++;
        if (s->skipped) {
            c->skipped++;
            continue;
        }
        if (!s->ok)
            c->failures++;
        c->ms += s->response.timings.total_ms;
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

static int property(xmlTextWriterPtr w, const tp_secrets *secrets, const char *name,
                    const char *value)
{
    if (xmlTextWriterStartElement(w, BAD_CAST "property") < 0 ||
        attr(w, secrets, "name", name) < 0 || attr(w, secrets, "value", value) < 0 ||
        xmlTextWriterEndElement(w) < 0)
        return -1;
    return 0;
}

/* The failure's body: its first message, the other failed assertions, then
 * what the transfer looked like. */
static int failure_details(xmlTextWriterPtr w, const tp_secrets *secrets,
                           const struct tp_step_result *s, const char *err)
{
    const struct tp_response *resp = &s->response;
    char line[256];

    if (err && (text(w, secrets, err) < 0 || text(w, secrets, "\n") < 0))
        return -1;
    for (size_t i = 0; i < s->eval.nassertions; i++) {
        const struct tp_assertion *a = &s->eval.assertions[i];
        if (a->ok || !a->message || (err && strcmp(a->message, err) == 0))
            continue;
        if (text(w, secrets, a->message) < 0 || text(w, secrets, "\n") < 0)
            return -1;
    }
    if (resp->status > 0)
        snprintf(line, sizeof line, "status %ld, ", resp->status);
    else
        snprintf(line, sizeof line, "no response, ");
    if (text(w, secrets, line) < 0)
        return -1;
    snprintf(line, sizeof line, "attempts %u, total %.1f ms, ttfb %.1f ms", s->attempts,
             resp->timings.total_ms, resp->timings.ttfb_ms);
    if (text(w, secrets, line) < 0)
        return -1;
    if (resp->primary_ip[0] &&
        (text(w, secrets, ", ip ") < 0 || text(w, secrets, resp->primary_ip) < 0))
        return -1;
    if (resp->http_version[0] &&
        (text(w, secrets, ", HTTP/") < 0 || text(w, secrets, resp->http_version) < 0))
        return -1;
    return text(w, secrets, "\n");
}

static int testcase(xmlTextWriterPtr w, const tp_secrets *secrets,
                    const struct tp_journey_result *jr, size_t k, const char *classname)
{
    const struct tp_step_result *s = &jr->steps[k];
    const struct tp_journey *j = jr->journey;
    const char *name = j->steps && j->steps[k].name ? j->steps[k].name : "?";
    const char *err = s->error ? s->error : s->eval.error;
    const char *kind = tp_failure_name(s->failure) ? tp_failure_name(s->failure) : "failed";

    if (xmlTextWriterStartElement(w, BAD_CAST "testcase") < 0 ||
        attr(w, secrets, "name", name) < 0 || attr(w, secrets, "classname", classname) < 0 ||
        attr_seconds(w, "time", s->skipped ? 0 : s->response.timings.total_ms) < 0)
        return -1;
    if (s->skipped) {
        if (xmlTextWriterStartElement(w, BAD_CAST "skipped") < 0 ||
            attr(w, secrets, "message", err ? err : "not run: an earlier step failed") < 0 ||
            xmlTextWriterEndElement(w) < 0)
            return -1;
    } else if (!s->ok) {
        if (xmlTextWriterStartElement(w, BAD_CAST "failure") < 0 ||
            attr(w, secrets, "type", kind) < 0 ||
            attr(w, secrets, "message", err ? err : kind) < 0 ||
            failure_details(w, secrets, s, err) < 0 || xmlTextWriterEndElement(w) < 0)
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
        attr(w, r->secrets, "name", suite) < 0 || attr_counts(w, &c) < 0)
        goto done;
    if (jr->started_ms > 0) {
        time_t secs = (time_t)(jr->started_ms / 1000);
        struct tm tm;
        char stamp[32];
        if (gmtime_r(&secs, &tm) && strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm) &&
            attr(w, r->secrets, "timestamp", stamp) < 0)
            goto done;
    }
    if (xmlTextWriterStartElement(w, BAD_CAST "properties") < 0 ||
        property(w, r->secrets, "run", r->run_id) < 0 ||
        (r->location && property(w, r->secrets, "location", r->location) < 0) ||
        property(w, r->secrets, "trace_id", jr->trace_id) < 0 || xmlTextWriterEndElement(w) < 0)
        goto done;
    for (size_t k = 0; k < nsteps_of(jr); k++)
        if (testcase(w, r->secrets, jr, k, classname) < 0)
            goto done;
    rc = xmlTextWriterEndElement(w);

done:
    free(suite);
    free(classname);
    return rc;
}

/* A comparison step fails the build unless it is PASS or LOW (faster) without
 * functional mismatches. */
static int comparison_failed(const json_t *st)
{
    const char *v = json_string_value(json_object_get(st, "verdict"));
    return !v || (strcmp(v, "PASS") != 0 && strcmp(v, "LOW") != 0) ||
           json_integer_value(json_object_get(st, "mismatch_count")) > 0;
}

static void count_comparison(const json_t *c, struct counts *n)
{
    size_t i;
    json_t *st;
    json_array_foreach(json_object_get(c, "steps"), i, st) {
        n->tests++;
        n->failures += comparison_failed(st) ? 1 : 0;
    }
}

/* <testsuite name="JOURNEY: CAND vs BASE"> with a testcase per step; a step that
 * is not PASS (or LOW) is a <failure type="VERDICT"> with the verdict's reason. */
static int comparison_suite(xmlTextWriterPtr w, const struct tp_run_report *r, const json_t *c)
{
    struct counts n = {0};
    char name[512], classname[512];
    size_t i;
    json_t *st;
    const char *journey = json_string_value(json_object_get(c, "journey"));
    const char *base = json_string_value(json_object_get(c, "base"));
    const char *cand = json_string_value(json_object_get(c, "cand"));

    snprintf(name, sizeof name, "%s: %s vs %s", journey ? journey : "?", cand ? cand : "?",
             base ? base : "?");
    snprintf(classname, sizeof classname, "%s.compare.%s", journey ? journey : "?",
             cand ? cand : "?");
    count_comparison(c, &n);
    if (xmlTextWriterStartElement(w, BAD_CAST "testsuite") < 0 ||
        attr(w, r->secrets, "name", name) < 0 || attr_counts(w, &n) < 0)
        return -1;
    json_array_foreach(json_object_get(c, "steps"), i, st) {
        const char *v = json_string_value(json_object_get(st, "verdict"));
        if (xmlTextWriterStartElement(w, BAD_CAST "testcase") < 0 ||
            attr(w, r->secrets, "name", json_string_value(json_object_get(st, "step"))) < 0 ||
            attr(w, r->secrets, "classname", classname) < 0)
            return -1;
        if (comparison_failed(st)) {
            char msg[480];
            const char *reason = json_string_value(json_object_get(st, "reason"));
            snprintf(msg, sizeof msg, "%s: %s", v ? v : "?", reason ? reason : "");
            if (xmlTextWriterStartElement(w, BAD_CAST "failure") < 0 ||
                attr(w, NULL, "type", v ? v : "?") < 0 || attr(w, r->secrets, "message", msg) < 0)
                return -1;
            json_t *mm;
            size_t k;
            json_array_foreach(json_object_get(st, "mismatches"), k, mm) {
                char line[600];
                const char *b = json_string_value(json_object_get(mm, "base"));
                const char *cv = json_string_value(json_object_get(mm, "cand"));
                const char *kind = json_string_value(json_object_get(mm, "kind"));
                const char *path = json_string_value(json_object_get(mm, "path"));
                snprintf(line, sizeof line, "%s at %s: %s -> %s\n", kind ? kind : "?",
                         path ? path : "?", b ? b : "(absent)", cv ? cv : "(absent)");
                if (text(w, r->secrets, line) < 0)
                    return -1;
            }
            if (xmlTextWriterEndElement(w) < 0)
                return -1;
        }
        if (xmlTextWriterEndElement(w) < 0)
            return -1;
    }
    return xmlTextWriterEndElement(w);
}

static int document(xmlTextWriterPtr w, const struct tp_run_report *r)
{
    struct counts all = {0};

    for (size_t i = 0; i < r->njourneys; i++)
        count_journey(&r->journeys[i], &all);
    for (size_t i = 0; i < json_array_size(r->comparisons); i++)
        count_comparison(json_array_get(r->comparisons, i), &all);
    if (xmlTextWriterSetIndent(w, 1) < 0 || xmlTextWriterSetIndentString(w, BAD_CAST "  ") < 0 ||
        xmlTextWriterStartDocument(w, "1.0", "UTF-8", NULL) < 0 ||
        xmlTextWriterStartElement(w, BAD_CAST "testsuites") < 0 ||
        attr(w, NULL, "name", "twinprobe") < 0 || attr_counts(w, &all) < 0)
        return -1;
    for (size_t i = 0; i < r->njourneys; i++)
        if (testsuite(w, r, &r->journeys[i]) < 0)
            return -1;
    for (size_t i = 0; i < json_array_size(r->comparisons); i++)
        if (comparison_suite(w, r, json_array_get(r->comparisons, i)) < 0)
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
        out = tp_secrets_mask(r->secrets, (const char *)xmlBufferContent(buf));
    xmlBufferFree(buf);
    return out;
}
