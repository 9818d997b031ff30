/* Reports (src/report_text.c, report_json.c, report_junit.c) and the run report's
 * masking and destructor (src/result.c), over run reports built by hand and
 * masked at the source as the runner does: the JSON has every documented key
 * with its type, the JUnit is well-formed and counts right even with hostile
 * strings, the text reads as documented, and no secret survives in any of them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>

#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "twinprobe/compare.h"
#include "twinprobe/report.h"
#include "twinprobe/result.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

#define SECRET "s3cr3t-Pa$$"
#define SECRET_XML "p&ss<w>\"rd'" /* XML escaping would change every special byte */
#define HOSTILE "<&\"'\x01\x1b[31m \xff\xc3( \xed\xa0\x80 \xef\xbf\xbf]]>"

/* ---- fixture: two journey results over borrowed journeys and targets */

static char s_open[] = "open", s_login[] = "login", s_pay[] = "pay";
static char s_find[] = "find", s_list[] = "list";
static struct tp_step checkout_steps[] = {{.name = s_open}, {.name = s_login}, {.name = s_pay}};
static struct tp_step search_steps[] = {{.name = s_find}, {.name = s_list}};
static char s_checkout[] = "checkout", s_search[] = "search";
static struct tp_journey checkout = {.name = s_checkout, .steps = checkout_steps, .nsteps = 3};
static struct tp_journey search = {.name = s_search, .steps = search_steps, .nsteps = 2};
static char s_canary[] = "canary", s_stable[] = "stable";
static struct tp_target canary = {.name = s_canary};
static struct tp_target stable = {.name = s_stable};

/* hostile names */
static char h_step[] = "st" HOSTILE "ep";
static struct tp_step hostile_steps[] = {{.name = h_step}, {.name = s_pay}};
static char h_journey[] = "jour" HOSTILE "ney";
static struct tp_journey hostile = {.name = h_journey, .steps = hostile_steps, .nsteps = 2};
static char h_target[] = "tar" HOSTILE "get";
static struct tp_target hostile_target = {.name = h_target};

static char *dup(const char *s)
{
    char *p = strdup(s);
    assert_non_null(p);
    return p;
}

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (!v)
        print_message("bad JSON at %d:%d: %s\n%s\n", e.line, e.column, e.text, text);
    assert_non_null(v);
    return v;
}

static void set_timings(struct tp_response *resp, double dns, double connect, double ttfb,
                        double total)
{
    resp->timings.dns_ms = dns;
    resp->timings.connect_ms = connect;
    resp->timings.tls_ms = 0;
    resp->timings.ttfb_ms = ttfb;
    resp->timings.download_ms = total - ttfb - connect - dns;
    resp->timings.total_ms = total;
}

static void ok_step(struct tp_step_result *s, long status, double total)
{
    s->ok = 1;
    s->attempts = 1;
    s->response.status = status;
    s->response.body = dup("{}");
    s->response.body_len = 2;
    snprintf(s->response.http_version, sizeof s->response.http_version, "1.1");
    snprintf(s->response.primary_ip, sizeof s->response.primary_ip, "127.0.0.1");
    set_timings(&s->response, 0.012, 0.2, total - 1.3, total);
    s->eval.captures = json_object();
}

static void add_assertion(struct tp_step_eval *ev, const char *source, const char *pred,
                          json_t *expected, json_t *actual, const char *message)
{
    struct tp_assertion *a = realloc(ev->assertions, (ev->nassertions + 1) * sizeof *a);
    assert_non_null(a);
    ev->assertions = a;
    a = &a[ev->nassertions++];
    memset(a, 0, sizeof *a);
    a->source = dup(source);
    a->predicate = pred;
    a->expected = expected;
    a->actual = actual;
    a->ok = message == NULL;
    a->message = message ? dup(message) : NULL;
}

struct fixture {
    struct tp_run_report r;
    tp_secrets *secrets;
};

static tp_secrets *make_secrets(void)
{
    tp_secrets *s = tp_secrets_create();
    assert_non_null(s);
    assert_int_equal(tp_secrets_add(s, SECRET), TP_OK);
    assert_int_equal(tp_secrets_add(s, SECRET_XML), TP_OK);
    return s;
}

/* What the runner does when a step's result is final. */
static void mask_results(struct fixture *f)
{
    for (size_t i = 0; i < f->r.njourneys; i++)
        for (size_t k = 0; k < f->r.journeys[i].journey->nsteps; k++)
            assert_int_equal(tp_step_result_mask(&f->r.journeys[i].steps[k], f->secrets), TP_OK);
}

/* checkout @ canary (round 3): open ok, login failed (http, two failed
 * assertions), pay skipped. search @ stable (round 1): find, list ok. */
static int setup_normal(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    struct tp_journey_result *jr;
    struct tp_step_result *s;

    assert_non_null(f);
    f->secrets = make_secrets();
    snprintf(f->r.run_id, sizeof f->r.run_id, "0b7c6a4e-2f51-4c2a-9d36-0c6b1f9e8a11");
    f->r.location = "eu-west-1";
    f->r.started_ms = 1764150000000;
    f->r.exit_status = 1;
    f->r.njourneys = 2;
    f->r.journeys = calloc(2, sizeof *f->r.journeys);
    assert_non_null(f->r.journeys);

    jr = &f->r.journeys[0];
    jr->journey = &checkout;
    jr->target = &canary;
    jr->round = 3;
    jr->ok = 0;
    snprintf(jr->trace_id, sizeof jr->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    jr->started_ms = 1764150000123;
    jr->steps = calloc(3, sizeof *jr->steps);
    assert_non_null(jr->steps);
    s = &jr->steps[0];
    jr->steps[0].step = &checkout_steps[0];
    ok_step(s, 200, 41.4);
    json_object_set_new(s->eval.captures, "csrf", json_string("f1a9" SECRET));
    add_assertion(&s->eval, "status", "equals", json_integer(200), json_integer(200), NULL);

    s = &jr->steps[1];
    s->step = &checkout_steps[1];
    ok_step(s, 500, 12.0);
    s->ok = 0;
    s->attempts = 2;
    s->response.reused = 1;
    s->response.timings.connect_ms = 0;
    s->failure = TP_FAIL_HTTP;
    s->error = dup("status: expected one of [302, 303], got 500 (password=" SECRET ")");
    s->eval.failure = TP_FAIL_HTTP;
    s->eval.error = dup("status: expected one of [302, 303], got 500 (password=" SECRET ")");
    add_assertion(&s->eval, "status", "in", json_pack("[ii]", 302, 303), json_integer(500),
                  "status: expected one of [302, 303], got 500 (password=" SECRET ")");
    add_assertion(&s->eval, "jsonpath $.msg", "equals", json_string("welcome"),
                  json_string("bad password " SECRET_XML),
                  "jsonpath $.msg: expected \"welcome\", got \"bad password " SECRET_XML
                  "\" " HOSTILE);

    s = &jr->steps[2];
    s->step = &checkout_steps[2];
    s->skipped = 1;

    jr = &f->r.journeys[1];
    jr->journey = &search;
    jr->target = &stable;
    jr->round = 1;
    jr->ok = 1;
    snprintf(jr->trace_id, sizeof jr->trace_id, "00f067aa0ba902b700f067aa0ba902b7");
    jr->steps = calloc(2, sizeof *jr->steps);
    assert_non_null(jr->steps);
    s = &jr->steps[0];
    s->step = &search_steps[0];
    ok_step(s, 200, 7.25);
    /* a captured string with an embedded NUL before the secret */
    json_object_set_new(s->eval.captures, "token", json_stringn("Bearer\0" SECRET, 18));
    json_object_set_new(s->eval.captures, "n", json_integer(3));
    add_assertion(&s->eval, "jsonpath $.token", "contains", json_string("Bearer"),
                  json_stringn("Bearer\0" SECRET, 18), NULL);
    s = &jr->steps[1];
    s->step = &search_steps[1];
    ok_step(s, 204, 3.0004);
    s->attempts = 3;

    mask_results(f);
    *state = f;
    return 0;
}

/* one journey result whose every name and message is hostile */
static int setup_hostile(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    struct tp_journey_result *jr;
    struct tp_step_result *s;

    assert_non_null(f);
    f->secrets = make_secrets();
    snprintf(f->r.run_id, sizeof f->r.run_id, "run");
    f->r.location = "loc" HOSTILE;
    f->r.njourneys = 1;
    f->r.journeys = calloc(1, sizeof *f->r.journeys);
    assert_non_null(f->r.journeys);
    jr = &f->r.journeys[0];
    jr->journey = &hostile;
    jr->target = &hostile_target;
    jr->round = 1;
    jr->steps = calloc(2, sizeof *jr->steps);
    assert_non_null(jr->steps);
    s = &jr->steps[0];
    ok_step(s, 200, 2.0);
    s->ok = 0;
    s->failure = TP_FAIL_ASSERTION;
    s->error = dup("error " HOSTILE " " SECRET);
    snprintf(s->response.primary_ip, sizeof s->response.primary_ip, "ip" HOSTILE);
    json_object_set_new(s->eval.captures, "key" HOSTILE, json_string("v"));
    add_assertion(&s->eval, "header " HOSTILE, "equals", json_string("x"), NULL,
                  "message " HOSTILE);
    s = &jr->steps[1];
    s->skipped = 1;
    s->error = dup("skipped because " HOSTILE);
    mask_results(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    tp_run_report_clear(&f->r);
    tp_secrets_free(f->secrets);
    free(f);
    return 0;
}

/* ---- JSON */

static void assert_type(const json_t *obj, const char *key, json_type type)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        print_message("missing key \"%s\"\n", key);
    assert_non_null(v);
    if (json_typeof(v) != type)
        print_message("key \"%s\": type %d, want %d\n", key, (int)json_typeof(v), (int)type);
    assert_int_equal(json_typeof(v), type);
}

static void assert_bool(const json_t *obj, const char *key, int value)
{
    json_t *v = json_object_get(obj, key);
    assert_true(json_is_boolean(v));
    assert_int_equal(json_is_true(v), value);
}

static void assert_keys(const json_t *obj, const char *const *keys, size_t n)
{
    size_t i = 0;
    const char *key;
    json_t *v;
    assert_int_equal(json_object_size(obj), n);
    json_object_foreach ((json_t *)obj, key, v) {
        (void)v;
        assert_string_equal(key, keys[i]); /* documented order too */
        i++;
    }
}

static void test_json_keys_and_types(void **state)
{
    struct fixture *f = *state;
    /* streamed: what is known only at the end (the exit status, the rounds
     * completed, why it stopped) comes after the journeys and comparisons */
    static const char *const top[] = {"tool",        "version",          "run",
                                      "location",    "started_ms",       "rounds_planned",
                                      "journeys",    "comparisons",      "exit_status",
                                      "rounds_completed", "stopped"};
    static const char *const jkeys[] = {"journey", "target", "round", "ok", "trace_id", "steps"};
    static const char *const skeys[] = {
        "name",   "ok",           "skipped",    "status",     "failure",  "error",     "attempts",
        "reused", "http_version", "primary_ip", "timings_ms", "captures", "assertions"};
    static const char *const tkeys[] = {"dns", "connect", "tls", "ttfb", "download", "total"};
    static const char *const akeys[] = {"source", "predicate", "expected", "actual", "ok"};
    char *text = tp_report_json(&f->r);
    json_t *doc, *j0, *steps, *login, *a, *t;

    assert_non_null(text);
    assert_true(strlen(text) > 2 && text[strlen(text) - 1] == '\n');
    assert_non_null(strstr(text, "\n  \"tool\": \"twinprobe\"")); /* indented */
    assert_non_null(strstr(text, "\"total\": 41.4}"));            /* not 41.399999... */
    assert_non_null(strstr(text, "\"total\": 3.0}"));             /* 3.0004 rounded */
    doc = parse(text);
    assert_keys(doc, top, COUNT_OF(top));
    assert_string_equal(json_string_value(json_object_get(doc, "tool")), "twinprobe");
    assert_string_equal(json_string_value(json_object_get(doc, "version")), "0.1.0");
    assert_string_equal(json_string_value(json_object_get(doc, "run")),
                        "0b7c6a4e-2f51-4c2a-9d36-0c6b1f9e8a11");
    assert_string_equal(json_string_value(json_object_get(doc, "location")), "eu-west-1");
    assert_type(doc, "started_ms", JSON_INTEGER);
    assert_true(json_integer_value(json_object_get(doc, "started_ms")) == 1764150000000);
    assert_int_equal(json_integer_value(json_object_get(doc, "exit_status")), 1);
    assert_type(doc, "comparisons", JSON_ARRAY);
    assert_int_equal(json_array_size(json_object_get(doc, "comparisons")), 0);
    assert_type(doc, "rounds_completed", JSON_INTEGER);
    assert_type(doc, "stopped", JSON_NULL); /* every round ran */
    assert_int_equal(json_array_size(json_object_get(doc, "journeys")), 2);

    j0 = json_array_get(json_object_get(doc, "journeys"), 0);
    assert_keys(j0, jkeys, COUNT_OF(jkeys));
    assert_string_equal(json_string_value(json_object_get(j0, "journey")), "checkout");
    assert_string_equal(json_string_value(json_object_get(j0, "target")), "canary");
    assert_int_equal(json_integer_value(json_object_get(j0, "round")), 3);
    assert_bool(j0, "ok", 0);
    assert_string_equal(json_string_value(json_object_get(j0, "trace_id")),
                        "4bf92f3577b34da6a3ce929d0e0e4736");
    steps = json_object_get(j0, "steps");
    assert_int_equal(json_array_size(steps), 3);
    for (size_t i = 0; i < 3; i++)
        assert_keys(json_array_get(steps, i), skeys, COUNT_OF(skeys));

    login = json_array_get(steps, 1);
    assert_string_equal(json_string_value(json_object_get(login, "name")), "login");
    assert_bool(login, "ok", 0);
    assert_bool(login, "skipped", 0);
    assert_int_equal(json_integer_value(json_object_get(login, "status")), 500);
    assert_string_equal(json_string_value(json_object_get(login, "failure")), "http");
    assert_string_equal(json_string_value(json_object_get(login, "error")),
                        "status: expected one of [302, 303], got 500 (password=***)");
    assert_int_equal(json_integer_value(json_object_get(login, "attempts")), 2);
    assert_bool(login, "reused", 1);
    assert_string_equal(json_string_value(json_object_get(login, "http_version")), "1.1");
    assert_string_equal(json_string_value(json_object_get(login, "primary_ip")), "127.0.0.1");
    t = json_object_get(login, "timings_ms");
    assert_keys(t, tkeys, COUNT_OF(tkeys));
    for (size_t i = 0; i < COUNT_OF(tkeys); i++)
        assert_true(json_is_number(json_object_get(t, tkeys[i])));
    assert_true(json_number_value(json_object_get(t, "total")) == 12.0);
    assert_true(json_number_value(json_object_get(t, "connect")) == 0);
    /* every phase under its own name (the first step's are all different) */
    t = json_object_get(json_array_get(steps, 0), "timings_ms");
    assert_true(json_number_value(json_object_get(t, "dns")) == 0.012);
    assert_true(json_number_value(json_object_get(t, "connect")) == 0.2);
    assert_true(json_number_value(json_object_get(t, "ttfb")) == 40.1);
    assert_true(json_number_value(json_object_get(t, "download")) == 1.088);
    assert_true(json_number_value(json_object_get(t, "total")) == 41.4);
    assert_type(login, "captures", JSON_OBJECT);
    assert_type(login, "assertions", JSON_ARRAY);
    assert_int_equal(json_array_size(json_object_get(login, "assertions")), 2);
    a = json_array_get(json_object_get(login, "assertions"), 0);
    assert_keys(a, akeys, COUNT_OF(akeys));
    assert_string_equal(json_string_value(json_object_get(a, "source")), "status");
    assert_string_equal(json_string_value(json_object_get(a, "predicate")), "in");
    assert_type(a, "expected", JSON_ARRAY);
    assert_type(a, "actual", JSON_INTEGER);
    assert_type(a, "ok", JSON_FALSE);
    json_decref(doc);
    free(text);
}

static void test_json_values(void **state)
{
    struct fixture *f = *state;
    char *text = tp_report_json(&f->r);
    json_t *doc, *steps, *open, *skipped, *a, *expected, *find;

    assert_non_null(text);
    doc = parse(text);
    steps = json_object_get(json_array_get(json_object_get(doc, "journeys"), 0), "steps");
    open = json_array_get(steps, 0);
    assert_bool(open, "ok", 1);
    assert_true(json_is_null(json_object_get(open, "failure")));
    assert_true(json_is_null(json_object_get(open, "error")));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(open, "captures"), "csrf")), "f1a9***");
    assert_true(json_number_value(json_object_get(json_object_get(open, "timings_ms"), "dns")) ==
                0.012);

    a = json_array_get(json_object_get(json_array_get(steps, 1), "assertions"), 0);
    expected = json_pack("[ii]", 302, 303);
    assert_true(json_equal(json_object_get(a, "expected"), expected));
    json_decref(expected);
    assert_int_equal(json_integer_value(json_object_get(a, "actual")), 500);
    assert_bool(a, "ok", 0);
    a = json_array_get(json_object_get(json_array_get(steps, 1), "assertions"), 1);
    assert_string_equal(json_string_value(json_object_get(a, "actual")), "bad password ***");

    /* the documented choice for a skipped step */
    skipped = json_array_get(steps, 2);
    assert_bool(skipped, "ok", 0);
    assert_bool(skipped, "skipped", 1);
    assert_true(json_is_null(json_object_get(skipped, "status")));
    assert_true(json_is_null(json_object_get(skipped, "failure")));
    assert_true(json_is_null(json_object_get(skipped, "error")));
    assert_int_equal(json_integer_value(json_object_get(skipped, "attempts")), 0);
    assert_bool(skipped, "reused", 0);
    assert_true(json_is_null(json_object_get(skipped, "http_version")));
    assert_true(json_is_null(json_object_get(skipped, "primary_ip")));
    assert_true(json_is_null(json_object_get(skipped, "timings_ms")));
    assert_int_equal(json_object_size(json_object_get(skipped, "captures")), 0);
    assert_int_equal(json_array_size(json_object_get(skipped, "assertions")), 0);

    /* the NUL inside a captured string survives, the secret after it does not */
    find = json_array_get(
        json_object_get(json_array_get(json_object_get(doc, "journeys"), 1), "steps"), 0);
    {
        json_t *tok = json_object_get(json_object_get(find, "captures"), "token");
        assert_int_equal(json_string_length(tok), 10);
        assert_memory_equal(json_string_value(tok), "Bearer\0***", 10);
        assert_int_equal(
            json_integer_value(json_object_get(json_object_get(find, "captures"), "n")), 3);
    }
    json_decref(doc);
    free(text);
}

/* A comparison of one journey against one candidate, one step, built by hand. */
static void test_json_comparisons_and_empty(void **state)
{
    struct fixture *f = *state;
    struct tp_run_report empty = {0};
    size_t rounds_seen = 2;
    struct tp_mismatch mm = {TP_MM_VALUE_CHANGED, dup("$['price']"), dup("1"), dup("2")};
    struct tp_step_cmp step = {0};
    struct tp_pair_cmp pair = {0};
    struct tp_comparison cmp = {0};
    json_t *doc, *c, *st;
    char *text;

    step.name = "open";
    step.verdict.verdict = TP_V_INCONCLUSIVE;
    step.verdict.method = "none";
    step.verdict.base_median_ms = 40.1;
    step.verdict.cand_median_ms = NAN;
    step.verdict.delta_pct = NAN;
    step.verdict.ci_low_pct = -INFINITY;
    step.verdict.ci_high_pct = INFINITY;
    step.verdict.p = step.verdict.p_adj = 1;
    snprintf(step.verdict.reason, sizeof step.verdict.reason, "too few pairs");
    step.mismatches.items = &mm;
    step.mismatches.count = step.mismatches.total = 1;
    step.mismatch_rounds = &rounds_seen;
    step.fails = 1;
    pair.cand = 1;
    pair.journey_name = "checkout";
    pair.base_name = "stable";
    pair.cand_name = "canary";
    pair.rounds = 3;
    pair.steps = &step;
    pair.nsteps = 1;
    pair.verdict.verdict = TP_V_INCONCLUSIVE;
    pair.verdict.score = 66.67;
    pair.verdict.score_class = TP_SCORE_FAIL;
    snprintf(pair.verdict.reason, sizeof pair.verdict.reason, "open is INCONCLUSIVE");
    pair.total = step.verdict;
    pair.mismatches = 1;
    pair.fails = 1;
    cmp.pairs = &pair;
    cmp.npairs = 1;
    cmp.fails = 1;
    f->r.comparison = &cmp;

    text = tp_report_json(&f->r);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"score\": 66.67"));
    doc = parse(text);
    c = json_array_get(json_object_get(doc, "comparisons"), 0);
    assert_string_equal(json_string_value(json_object_get(c, "reason")), "open is INCONCLUSIVE");
    assert_string_equal(json_string_value(json_object_get(c, "verdict")), "INCONCLUSIVE");
    assert_bool(c, "fails", 1);
    st = json_array_get(json_object_get(c, "steps"), 0);
    assert_string_equal(json_string_value(json_object_get(st, "step")), "open");
    assert_true(json_is_null(json_object_get(st, "cand_median_ms")));
    assert_true(json_is_null(json_object_get(st, "ci_low_pct")));
    assert_int_equal(json_integer_value(json_object_get(st, "mismatch_count")), 1);
    assert_int_equal(json_integer_value(json_object_get(
                         json_array_get(json_object_get(st, "mismatches"), 0), "rounds")),
                     2);
    json_decref(doc);
    free(text);
    f->r.comparison = NULL;
    free(mm.path);
    free(mm.base);
    free(mm.cand);

    /* nothing ran: still a whole document; no location gives null */
    text = tp_report_json(&empty);
    assert_non_null(text);
    doc = parse(text);
    assert_int_equal(json_array_size(json_object_get(doc, "journeys")), 0);
    assert_int_equal(json_array_size(json_object_get(doc, "comparisons")), 0);
    assert_true(json_is_null(json_object_get(doc, "location")));
    json_decref(doc);
    free(text);
    assert_null(tp_report_json(NULL));
}

/* ---- secrets */

static void assert_no_secret(const char *what, const char *text)
{
    static const char *const forms[] = {
        SECRET,     "p&ss<w>", "p&amp;ss", "ss&lt;w", "w&gt;",
        "&quot;rd", "\\\"rd'", "rd&apos;", "s3cr3t",
    };
    assert_non_null(text);
    for (size_t i = 0; i < COUNT_OF(forms); i++) {
        if (strstr(text, forms[i]))
            print_message("%s report holds \"%s\":\n%s\n", what, forms[i], text);
        assert_null(strstr(text, forms[i]));
    }
    assert_non_null(strstr(text, "***"));
}

static void test_secrets_masked_everywhere(void **state)
{
    struct fixture *f = *state;
    char *out[4];
    const char *names[] = {"text", "color text", "json", "junit"};

    out[0] = tp_report_text(&f->r, 0);
    out[1] = tp_report_text(&f->r, 1);
    out[2] = tp_report_json(&f->r);
    out[3] = tp_report_junit(&f->r);
    for (size_t i = 0; i < COUNT_OF(out); i++) {
        assert_no_secret(names[i], out[i]);
        free(out[i]);
    }
}

/* ---- JUnit */

static int xml_errors;

static void count_xml_error(void *ctx, xmlErrorPtr e)
{
    (void)ctx;
    print_message("libxml2: %s", e && e->message ? e->message : "?\n");
    xml_errors++;
}

static xmlDocPtr parse_xml(const char *text)
{
    xmlDocPtr doc;
    xml_errors = 0;
    xmlSetStructuredErrorFunc(NULL, count_xml_error);
    doc = xmlReadMemory(text, (int)strlen(text), "junit.xml", NULL, XML_PARSE_NONET);
    xmlSetStructuredErrorFunc(NULL, NULL);
    if (!doc || xml_errors)
        print_message("%s\n", text);
    assert_non_null(doc);
    assert_int_equal(xml_errors, 0);
    return doc;
}

static xmlNodePtr child(xmlNodePtr parent, const char *name, size_t index)
{
    for (xmlNodePtr n = parent->children; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0 && index-- == 0)
            return n;
    return NULL;
}

static void assert_prop(xmlNodePtr n, const char *name, const char *want)
{
    xmlChar *v = xmlGetProp(n, BAD_CAST name);
    assert_non_null(v);
    assert_string_equal((const char *)v, want);
    xmlFree(v);
}

static void test_junit_counts(void **state)
{
    struct fixture *f = *state;
    char *text = tp_report_junit(&f->r);
    xmlDocPtr doc;
    xmlNodePtr root, suite, tc, fail;

    assert_non_null(text);
    assert_true(strncmp(text, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", 39) == 0);
    doc = parse_xml(text);
    root = xmlDocGetRootElement(doc);
    assert_string_equal((const char *)root->name, "testsuites");
    assert_prop(root, "name", "twinprobe");
    assert_prop(root, "tests", "5");
    assert_prop(root, "failures", "1");
    assert_prop(root, "skipped", "1");
    assert_prop(root, "time", "0.064"); /* 41.4 + 12.0 + 7.25 + 3.0004 ms */

    suite = child(root, "testsuite", 0);
    assert_non_null(suite);
    assert_prop(suite, "name", "checkout @ canary #3");
    assert_prop(suite, "tests", "3");
    assert_prop(suite, "failures", "1");
    assert_prop(suite, "skipped", "1");
    assert_prop(suite, "time", "0.053");
    assert_prop(suite, "timestamp", "2025-11-26T09:40:00");
    tc = child(suite, "testcase", 1);
    assert_non_null(tc);
    assert_prop(tc, "name", "login");
    assert_prop(tc, "classname", "checkout.canary");
    assert_prop(tc, "time", "0.012");
    fail = child(tc, "failure", 0);
    assert_non_null(fail);
    assert_prop(fail, "type", "http");
    assert_prop(fail, "message", "status: expected one of [302, 303], got 500 (password=***)");
    {
        xmlChar *body = xmlNodeGetContent(fail);
        assert_non_null(strstr((const char *)body, "got \"bad password ***\""));
        assert_non_null(strstr((const char *)body, "status 500, attempts 2"));
        xmlFree(body);
    }
    assert_null(child(child(suite, "testcase", 0), "failure", 0));
    assert_non_null(child(child(suite, "testcase", 2), "skipped", 0));

    suite = child(root, "testsuite", 1);
    assert_non_null(suite);
    assert_prop(suite, "name", "search @ stable #1");
    assert_prop(suite, "tests", "2");
    assert_prop(suite, "failures", "0");
    assert_prop(suite, "skipped", "0");
    assert_null(xmlHasProp(suite, BAD_CAST "timestamp")); /* start unknown */
    assert_null(child(suite, "testsuite", 2));
    xmlFreeDoc(doc);
    free(text);
}

static void test_junit_hostile(void **state)
{
    struct fixture *f = *state;
    char *text = tp_report_junit(&f->r);
    xmlDocPtr doc;
    xmlNodePtr root, tc;

    assert_non_null(text);
    assert_null(strchr(text, '\x01'));
    assert_null(strchr(text, '\x1b'));
    doc = parse_xml(text);
    root = xmlDocGetRootElement(doc);
    assert_prop(root, "tests", "2");
    assert_prop(root, "failures", "1");
    assert_prop(root, "skipped", "1");
    tc = child(child(root, "testsuite", 0), "testcase", 0);
    assert_non_null(tc);
    {
        xmlChar *name = xmlGetProp(tc, BAD_CAST "name");
        assert_non_null(strstr((const char *)name, "st<&\"'"));
        xmlFree(name);
    }
    assert_prop(child(tc, "failure", 0), "type", "assertion");
    xmlFreeDoc(doc);
    free(text);
    assert_null(tp_report_junit(NULL));
}

static void test_json_and_text_hostile(void **state)
{
    struct fixture *f = *state;
    char *json = tp_report_json(&f->r), *text = tp_report_text(&f->r, 0);
    json_t *doc;

    assert_non_null(json);
    doc = parse(json); /* invalid UTF-8 replaced, control characters escaped */
    assert_non_null(strstr(json_string_value(json_object_get(
                               json_array_get(json_object_get(doc, "journeys"), 0), "journey")),
                           "jour<&\"'\x01\x1b"));
    json_decref(doc);
    assert_non_null(text);
    assert_null(strchr(text, '\x01'));
    assert_null(strchr(text, '\x1b'));
    assert_null(strstr(text, "\xff"));
    assert_non_null(strstr(text, "\xef\xbf\xbd"));
    assert_non_null(strstr(text, "skipped"));
    free(json);
    free(text);
}

/* ---- text */

/* line n (0-based) of text, in buf */
static const char *line_of(const char *text, size_t n, char *buf, size_t size)
{
    const char *end;
    while (n-- > 0) {
        text = strchr(text, '\n');
        assert_non_null(text);
        text++;
    }
    end = strchr(text, '\n');
    assert_non_null(end);
    assert_true((size_t)(end - text) < size);
    memcpy(buf, text, (size_t)(end - text));
    buf[end - text] = '\0';
    return buf;
}

static void test_text_report(void **state)
{
    struct fixture *f = *state;
    char *text = tp_report_text(&f->r, 0), *color;
    char line[512];

    assert_non_null(text);
    assert_null(strchr(text, '\033'));
    assert_string_equal(line_of(text, 0, line, sizeof line), "checkout @ canary (round 3): FAILED");
    assert_string_equal(line_of(text, 1, line, sizeof line),
                        "  \xe2\x9c\x93 open   200  total 41.4 ms  ttfb 40.1 ms");
    assert_string_equal(line_of(text, 2, line, sizeof line),
                        "  \xe2\x9c\x97 login  500  total 12.0 ms  ttfb 10.7 ms  2 attempts");
    assert_string_equal(line_of(text, 3, line, sizeof line),
                        "      failure: http \xe2\x80\x94 status: expected one of [302, 303], "
                        "got 500 (password=***)");
    assert_true(
        strncmp(line_of(text, 4, line, sizeof line),
                "      also: jsonpath $.msg: expected \"welcome\", got \"bad password ***\" "
                "<&\"'??[31m",
                78) == 0);
    assert_string_equal(line_of(text, 5, line, sizeof line), "  - pay    skipped");
    assert_string_equal(line_of(text, 6, line, sizeof line), "search @ stable (round 1): passed");
    assert_string_equal(line_of(text, 7, line, sizeof line),
                        "  \xe2\x9c\x93 find  200  total 7.2 ms  ttfb 6.0 ms");
    assert_string_equal(line_of(text, 8, line, sizeof line),
                        "  \xe2\x9c\x93 list  204  total 3.0 ms  ttfb 1.7 ms  3 attempts");
    assert_string_equal(line_of(text, 9, line, sizeof line),
                        "2 journeys, 1 passed, 1 failed; 5 steps: 3 ok, 1 failed, 1 skipped");
    assert_int_equal(text[strlen(text) - 1], '\n');
    assert_null(strchr(strchr(line_of(text, 9, line, sizeof line), ';'), '\n'));

    color = tp_report_text(&f->r, 1);
    assert_non_null(color);
    assert_non_null(strstr(color, "\033[32m\xe2\x9c\x93\033[0m open"));
    assert_non_null(strstr(color, "\033[31m\xe2\x9c\x97\033[0m login"));
    assert_non_null(strstr(color, "\033[2m- pay"));
    assert_non_null(
        strstr(color, "2 journeys, 1 passed, 1 failed; 5 steps: 3 ok, 1 failed, 1 skipped\n"));
    free(color);
    free(text);
}

static void test_text_empty(void **state)
{
    struct tp_run_report empty = {0};
    char *text = tp_report_text(&empty, 1);
    (void)state;
    assert_non_null(text);
    assert_string_equal(text,
                        "0 journeys, 0 passed, 0 failed; 0 steps: 0 ok, 0 failed, 0 skipped\n");
    free(text);
}

/* ---- the destructor */

static void test_clear(void **state)
{
    struct fixture *f = *state;
    tp_run_report_clear(&f->r);
    assert_null(f->r.journeys);
    assert_int_equal(f->r.njourneys, 0);
    tp_run_report_clear(&f->r); /* twice: nothing left */
    tp_run_report_clear(NULL);
}

/* Judging as the run goes reduces each round's results to briefs (result.h):
 * the text and JUnit reports read from them are the same, byte for byte; the
 * JSON report keeps every key, without the captures and assertions (written
 * before the round was reduced). */
static void test_reduced_results_render_the_same(void **state)
{
    struct fixture *f = *state;
    char *text = tp_report_text(&f->r, 0), *junit = tp_report_junit(&f->r), *text2, *junit2;
    char *json = tp_report_json(&f->r), *json2;
    json_t *full, *reduced, *fj, *rj;
    size_t i, k;

    assert_non_null(text);
    assert_non_null(junit);
    assert_non_null(json);
    for (i = 0; i < f->r.njourneys; i++) {
        assert_int_equal(tp_journey_result_reduce(&f->r.journeys[i]), TP_OK);
        assert_null(f->r.journeys[i].steps);
        assert_int_equal(tp_journey_result_reduce(&f->r.journeys[i]), TP_OK); /* again: nothing */
    }
    text2 = tp_report_text(&f->r, 0);
    junit2 = tp_report_junit(&f->r);
    json2 = tp_report_json(&f->r);
    assert_non_null(text2);
    assert_non_null(junit2);
    assert_string_equal(text2, text);
    assert_string_equal(junit2, junit);
    full = parse(json);
    reduced = parse(json2);
    fj = json_object_get(full, "journeys");
    rj = json_object_get(reduced, "journeys");
    assert_int_equal(json_array_size(rj), json_array_size(fj));
    for (i = 0; i < json_array_size(fj); i++) {
        json_t *fs = json_object_get(json_array_get(fj, i), "steps");
        json_t *rs = json_object_get(json_array_get(rj, i), "steps");
        assert_int_equal(json_array_size(rs), json_array_size(fs));
        for (k = 0; k < json_array_size(fs); k++) {
            json_t *a = json_array_get(fs, k), *b = json_array_get(rs, k);
            json_object_del(a, "captures");
            json_object_del(a, "assertions");
            assert_int_equal(json_array_size(json_object_get(b, "assertions")), 0);
            json_object_del(b, "captures");
            json_object_del(b, "assertions");
            if (json_is_true(json_object_get(a, "ok"))) { /* a failed step keeps them */
                json_object_del(a, "http_version");
                json_object_del(a, "primary_ip");
                json_object_del(b, "http_version");
                json_object_del(b, "primary_ip");
            }
            if (!json_equal(a, b)) {
                char *x = json_dumps(a, JSON_SORT_KEYS), *y = json_dumps(b, JSON_SORT_KEYS);
                fail_msg("step %zu of %zu differs:\n%s\n%s", k, i, x, y);
            }
        }
    }
    json_decref(full);
    json_decref(reduced);
    free(text);
    free(junit);
    free(json);
    free(text2);
    free(junit2);
    free(json2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_json_keys_and_types, setup_normal, teardown),
        cmocka_unit_test_setup_teardown(test_json_values, setup_normal, teardown),
        cmocka_unit_test_setup_teardown(test_json_comparisons_and_empty, setup_normal, teardown),
        cmocka_unit_test_setup_teardown(test_secrets_masked_everywhere, setup_normal, teardown),
        cmocka_unit_test_setup_teardown(test_junit_counts, setup_normal, teardown),
        cmocka_unit_test_setup_teardown(test_junit_hostile, setup_hostile, teardown),
        cmocka_unit_test_setup_teardown(test_json_and_text_hostile, setup_hostile, teardown),
        cmocka_unit_test_setup_teardown(test_text_report, setup_normal, teardown),
        cmocka_unit_test(test_text_empty),
        cmocka_unit_test_setup_teardown(test_clear, setup_normal, teardown),
        cmocka_unit_test_setup_teardown(test_reduced_results_render_the_same, setup_normal,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reduced_results_render_the_same, setup_hostile,
                                        teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    xmlCleanupParser();
    return failed;
}
