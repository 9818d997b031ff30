/* Unit tests for src/streams.c: stream IDs (parse, format, order), the tops
 * table, ID assignment (per stream, strictly increasing, above the last known
 * ID even when the clock steps back), and the entries built from hand-made run
 * reports: keys, field order and values of steps and runs entries, the latest
 * hash and the index set, monitoring with one target, the noise run left out,
 * skipped sides, masking and UTF-8 cleaning. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/mask.h"
#include "twinprobe/streams.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))
#define SECRET "hunter2-XYZ"

/* ---- stream IDs ------------------------------------------------------------- */

struct id_case {
    const char *text;
    int ok;
    uint64_t ms, seq;
};

static const struct id_case id_cases[] = {
    {"0-1", 1, 0, 1},
    {"1764150000000-0", 1, 1764150000000ULL, 0},
    {"18446744073709551615-18446744073709551615", 1, UINT64_MAX, UINT64_MAX},
    {"18446744073709551616-0", 0, 0, 0},
    {"12", 0, 0, 0},
    {"-1", 0, 0, 0},
    {"1-", 0, 0, 0},
    {"1-2-3", 0, 0, 0},
    {"a-1", 0, 0, 0},
    {" 1-2", 0, 0, 0},
    {"1-+2", 0, 0, 0},
    {"", 0, 0, 0},
};

static void test_id_parse_format(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT_OF(id_cases); i++) {
        struct tp_stream_id id = {7, 7};
        char buf[TP_STREAM_ID_MAX];
        int rc = tp_stream_id_parse(id_cases[i].text, &id);
        if ((rc == 0) != id_cases[i].ok)
            fail_msg("parse \"%s\": got %d", id_cases[i].text, rc);
        if (!id_cases[i].ok) {
            assert_true(id.ms == 7 && id.seq == 7); /* untouched */
            continue;
        }
        assert_true(id.ms == id_cases[i].ms && id.seq == id_cases[i].seq);
        assert_string_equal(tp_stream_id_format(id, buf), id_cases[i].text);
    }
    assert_int_equal(tp_stream_id_parse(NULL, &(struct tp_stream_id){0, 0}), -1);
}

static void test_id_order_and_tops(void **state)
{
    struct tp_stream_tops tops = {0};
    struct tp_stream_id a = {5, 9}, b = {6, 0}, c = {6, 1};
    (void)state;
    assert_true(tp_stream_id_cmp(a, b) < 0);
    assert_true(tp_stream_id_cmp(c, b) > 0);
    assert_int_equal(tp_stream_id_cmp(b, b), 0);
    assert_null(tp_stream_tops_get(&tops, "k"));
    assert_int_equal(tp_stream_tops_raise(&tops, "k", b), TP_OK);
    assert_int_equal(tp_stream_tops_raise(&tops, "k", a), TP_OK); /* lower: ignored */
    assert_int_equal(tp_stream_id_cmp(*tp_stream_tops_get(&tops, "k"), b), 0);
    assert_int_equal(tp_stream_tops_raise(&tops, "k", c), TP_OK);
    assert_int_equal(tp_stream_id_cmp(*tp_stream_tops_get(&tops, "k"), c), 0);
    for (int i = 0; i < 40; i++) { /* grows */
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        assert_int_equal(tp_stream_tops_raise(&tops, key, a), TP_OK);
    }
    assert_int_equal(tops.count, 41);
    tp_stream_tops_clear(&tops);
    tp_stream_tops_clear(&tops);
    tp_stream_tops_clear(NULL);
}

/* ---- ID assignment (table-driven) ------------------------------------------------ */

struct assign_case {
    const char *name;
    const char *top; /* top of stream "s" before, or NULL */
    int64_t ms[5];   /* entries of stream "s" (0-terminated unless first is 0) */
    size_t n;
    const char *want[5];
};

static const struct assign_case assign_cases[] = {
    {"fresh stream", NULL, {1000, 1000, 2000}, 3, {"1000-0", "1000-1", "2000-0"}},
    {"clock steps back", NULL, {1000, 900, 900, 1500}, 4, {"1000-0", "1000-1", "1000-2", "1500-0"}},
    {"redis top in the future", "5000-3", {4000, 6000}, 2, {"5000-4", "6000-0"}},
    {"top equal ms", "1000-0", {1000}, 1, {"1000-1"}},
    {"top below", "999-99", {1000}, 1, {"1000-0"}},
    {"zero time never 0-0", NULL, {0, 0}, 2, {"0-1", "0-2"}},
    {"negative time", NULL, {-5}, 1, {"0-1"}},
    {"seq overflow", "7-18446744073709551615", {7}, 1, {"8-0"}},
};

static void test_assign_ids(void **state)
{
    (void)state;
    for (size_t c = 0; c < COUNT_OF(assign_cases); c++) {
        const struct assign_case *k = &assign_cases[c];
        struct tp_batch b = {0};
        struct tp_stream_tops tops = {0};
        struct tp_error err;
        struct tp_entry *other;
        if (k->top) {
            struct tp_stream_id id;
            assert_int_equal(tp_stream_id_parse(k->top, &id), 0);
            assert_int_equal(tp_stream_tops_raise(&tops, "s", id), TP_OK);
        }
        for (size_t i = 0; i < k->n; i++) {
            struct tp_entry *e = tp_batch_add(&b, TP_ENTRY_XADD, "s");
            assert_non_null(e);
            e->ms = k->ms[i];
            /* another stream and a hash in between change nothing for "s" */
            other = tp_batch_add(&b, i % 2 ? TP_ENTRY_HSET : TP_ENTRY_XADD, "other");
            assert_non_null(other);
            other->ms = 1;
        }
        assert_int_equal(tp_streams_assign_ids(&b, &tops, &err), TP_OK);
        for (size_t i = 0; i < k->n; i++)
            if (strcmp(b.items[2 * i].id, k->want[i]) != 0)
                fail_msg("%s: entry %zu got %s, want %s", k->name, i, b.items[2 * i].id,
                         k->want[i]);
        for (size_t i = 0, seq = 0; i < k->n; i++) {
            char want[32] = "";
            if (b.items[2 * i + 1].type == TP_ENTRY_XADD)
                snprintf(want, sizeof want, "1-%zu", seq++);
            assert_string_equal(b.items[2 * i + 1].id, want);
        }
        {
            char buf[TP_STREAM_ID_MAX];
            assert_string_equal(tp_stream_id_format(*tp_stream_tops_get(&tops, "s"), buf),
                                k->want[k->n - 1]);
        }
        tp_batch_clear(&b);
        tp_stream_tops_clear(&tops);
    }
}

static void test_assign_keeps_given_ids(void **state)
{
    struct tp_batch b = {0};
    struct tp_stream_tops tops = {0};
    struct tp_error err;
    struct tp_entry *e;
    const char **keys;
    size_t nkeys;
    (void)state;
    e = tp_batch_add(&b, TP_ENTRY_XADD, "s");
    snprintf(e->id, sizeof e->id, "3000-7"); /* a spooled record */
    e = tp_batch_add(&b, TP_ENTRY_XADD, "s");
    e->ms = 2000;
    e = tp_batch_add(&b, TP_ENTRY_XADD, "t");
    e->ms = 2000;
    assert_int_equal(tp_streams_assign_ids(&b, &tops, &err), TP_OK);
    assert_string_equal(b.items[0].id, "3000-7");
    assert_string_equal(b.items[1].id, "3000-8");
    assert_string_equal(b.items[2].id, "2000-0");
    assert_int_equal(tp_streams_keys(&b, &keys, &nkeys), TP_OK);
    assert_int_equal(nkeys, 2);
    assert_string_equal(keys[0], "s");
    assert_string_equal(keys[1], "t");
    free(keys);
    tp_batch_clear(&b);
    tp_stream_tops_clear(&tops);
}

static void test_batch_take_and_types(void **state)
{
    struct tp_batch b = {0};
    struct tp_entry e;
    (void)state;
    memset(&e, 0, sizeof e);
    e.key = strdup("k");
    assert_int_equal(tp_entry_add_field(&e, "f", "v"), TP_OK);
    assert_int_equal(tp_batch_take(&b, &e), TP_OK);
    assert_null(e.key); /* moved */
    assert_string_equal(b.items[0].fields[0].value, "v");
    assert_string_equal(tp_entry_type_name(TP_ENTRY_XADD), "xadd");
    assert_string_equal(tp_entry_type_name(TP_ENTRY_HSET), "hset");
    assert_string_equal(tp_entry_type_name(TP_ENTRY_SADD), "sadd");
    assert_int_equal(tp_entry_type_from_name("sadd"), TP_ENTRY_SADD);
    assert_int_equal(tp_entry_type_from_name("XADD"), -1);
    assert_int_equal(tp_entry_type_from_name(NULL), -1);
    tp_batch_clear(&b);
    tp_batch_clear(NULL);
    tp_entry_clear(NULL);
}

/* ---- building entries from a run ------------------------------------------------------- */

static char s_open[] = "open", s_pay[] = "pay", s_checkout[] = "checkout";
static char s_stable[] = "stable", s_canary[] = "canary", s_noise[] = "stable/noise";

static const char *const step_names[] = {
    "run",
    "round",
    "step",
    "base",
    "cand",
    "base_status",
    "cand_status",
    "base_ok",
    "cand_ok",
    "base_ms",
    "cand_ms",
    "delta_ms",
    "ratio",
    "base_dns_ms",
    "base_connect_ms",
    "base_tls_ms",
    "base_ttfb_ms",
    "base_download_ms",
    "cand_dns_ms",
    "cand_connect_ms",
    "cand_tls_ms",
    "cand_ttfb_ms",
    "cand_download_ms",
    "base_reused",
    "cand_reused",
    "match",
    "diffs",
    "diff",
    "base_error",
    "cand_error",
};

static const char *const run_names[] = {
    "run",   "journey",     "base",        "cand",       "rounds",      "verdict",
    "score", "worst_step",  "delta_pct",   "ci_low_pct", "ci_high_pct", "p",
    "n",     "base_errors", "cand_errors", "mismatches", "reason",      "version",
};

struct fixture {
    struct tp_step steps[2];
    struct tp_journey journey;
    struct tp_target targets[3];
    struct tp_run_report r;
    struct tp_compare_plan plan;
    tp_secrets *secrets;
    struct tp_comparison cmp;
    struct tp_batch out;
};

static void set_step(struct tp_step_result *s, const struct tp_step *step, long status,
                     const char *body, double total, int reused)
{
    memset(s, 0, sizeof *s);
    s->step = step;
    s->ok = status >= 200 && status < 400;
    s->failure = s->ok ? TP_FAIL_NONE : TP_FAIL_HTTP;
    s->attempts = 1;
    s->response.status = status;
    s->response.body = strdup(body);
    s->response.body_len = strlen(body);
    s->response.timings.dns_ms = 0.5;
    s->response.timings.connect_ms = reused ? 0 : 1.25;
    s->response.timings.tls_ms = 0;
    s->response.timings.ttfb_ms = total - 2;
    s->response.timings.download_ms = 0.25;
    s->response.timings.total_ms = total;
    s->response.reused = reused;
}

/* checkout, 2 steps, 2 rounds, stable against canary (and the noise run when
 * `noise`): round 1 open equal, pay's price changed type; round 2 the canary's
 * open fails with a 500 (its message holds the secret), its pay is skipped. */
static struct fixture *make(size_t ntargets, int noise)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->steps[0].name = s_open;
    f->steps[1].name = s_pay;
    f->journey.name = s_checkout;
    f->journey.steps = f->steps;
    f->journey.nsteps = 2;
    f->targets[0].name = s_stable;
    f->targets[1].name = ntargets == 1 ? s_noise : s_canary;
    f->targets[2].name = s_noise;
    f->secrets = tp_secrets_create();
    assert_int_equal(tp_secrets_add(f->secrets, SECRET), TP_OK);
    f->plan = (struct tp_compare_plan){1,
                                       ntargets,
                                       2,
                                       noise ? (long)ntargets - 1 : -1,
                                       1,
                                       TP_VERDICT_OPTS_INIT,
                                       TP_FAIL_ON_HIGH,
                                       f->secrets};
    f->r.njourneys = 2 * ntargets;
    f->r.journeys = calloc(f->r.njourneys, sizeof *f->r.journeys);
    assert_non_null(f->r.journeys);
    snprintf(f->r.run_id, sizeof f->r.run_id, "00000000-0000-4000-8000-000000000001");
    f->r.location = "eu";
    f->r.started_ms = 950;
    for (unsigned k = 0; k < 2; k++)
        for (size_t t = 0; t < ntargets; t++) {
            struct tp_journey_result *jr = &f->r.journeys[tp_compare_index(&f->plan, k, 0, t)];
            int cand = t == 1 && !(noise && ntargets == 2);
            jr->journey = &f->journey;
            jr->target = &f->targets[t];
            jr->round = k + 1;
            jr->started_ms = k == 0 ? 1000 + (int64_t)t : 900 + (int64_t)t;
            jr->steps = calloc(2, sizeof *jr->steps);
            assert_non_null(jr->steps);
            jr->ok = 1;
            set_step(&jr->steps[0], &f->steps[0], cand && k == 1 ? 500 : 200, "{\"a\": 1}",
                     cand ? 12 : 10, 0);
            set_step(&jr->steps[1], &f->steps[1], 201,
                     cand && k == 0 ? "{\"price\": \"12.50\"}" : "{\"price\": 12.5}",
                     cand ? 30 : 20, 1);
            if (cand && k == 1) {
                jr->ok = 0;
                jr->steps[0].error =
                    strdup("status: expected 200-399, got 500 " SECRET " \xff\xfe");
                tp_response_clear(&jr->steps[1].response);
                memset(&jr->steps[1], 0, sizeof jr->steps[1]);
                jr->steps[1].step = &f->steps[1];
                jr->steps[1].skipped = 1;
            }
        }
    /* as cmd_run does: results masked at their source, then compared once */
    for (size_t i = 0; i < f->r.njourneys; i++)
        for (size_t k = 0; k < 2; k++)
            assert_int_equal(tp_step_result_mask(&f->r.journeys[i].steps[k], f->secrets), TP_OK);
    {
        struct tp_error err;
        tp_error_clear(&err);
        if (tp_compare_run(&f->r, &f->plan, &f->cmp, &err) != TP_OK)
            fail_msg("compare: %s", err.text);
    }
    f->r.comparison = &f->cmp;
    return f;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (!f)
        return 0;
    tp_run_report_clear(&f->r);
    tp_comparison_clear(&f->cmp);
    tp_secrets_free(f->secrets);
    tp_batch_clear(&f->out);
    free(f);
    return 0;
}

static const char *field(const struct tp_entry *e, const char *name)
{
    for (size_t i = 0; i < e->nfields; i++)
        if (strcmp(e->fields[i].name, name) == 0)
            return e->fields[i].value;
    fail_msg("entry %s has no field %s", e->key, name);
    return NULL;
}

static void check_names(const struct tp_entry *e, const char *const *names, size_t n)
{
    assert_int_equal(e->nfields, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(e->fields[i].name, names[i]);
}

static void build(struct fixture *f)
{
    struct tp_streams_opts o = {"tp", NULL, 500, "9.9.9"};
    struct tp_error err;
    tp_error_clear(&err);
    if (tp_streams_build(&f->r, &f->plan, &o, &f->out, &err) != TP_OK)
        fail_msg("build: %s", err.text);
}

static void test_field_tables(void **state)
{
    size_t n;
    const char *const *names = tp_streams_step_fields(&n);
    (void)state;
    assert_int_equal(n, COUNT_OF(step_names));
    for (size_t i = 0; i < n; i++)
        assert_string_equal(names[i], step_names[i]);
    names = tp_streams_run_fields(&n);
    assert_int_equal(n, COUNT_OF(run_names));
    for (size_t i = 0; i < n; i++)
        assert_string_equal(names[i], run_names[i]);
}

struct want_step {
    size_t entry;
    const char *name, *value;
};

static const struct want_step want_steps[] = {
    {0, "round", "1"},
    {0, "step", "open"},
    {0, "base", "stable"},
    {0, "cand", "canary"},
    {0, "base_status", "200"},
    {0, "cand_status", "200"},
    {0, "base_ok", "1"},
    {0, "cand_ok", "1"},
    {0, "base_ms", "10.000"},
    {0, "cand_ms", "12.000"},
    {0, "delta_ms", "2.000"},
    {0, "ratio", "1.2000"},
    {0, "base_dns_ms", "0.500"},
    {0, "base_connect_ms", "1.250"},
    {0, "base_tls_ms", "0.000"},
    {0, "base_ttfb_ms", "8.000"},
    {0, "base_download_ms", "0.250"},
    {0, "cand_ttfb_ms", "10.000"},
    {0, "base_reused", "0"},
    {0, "match", "1"},
    {0, "diffs", "0"},
    {0, "diff", ""},
    {0, "base_error", ""},
    {0, "cand_error", ""},
    {1, "step", "pay"},
    {1, "base_reused", "1"},
    {1, "cand_connect_ms", "0.000"},
    {1, "match", "0"},
    {1, "diffs", "1"},
    {1, "diff", "$['price'] type_changed 12.5 -> \"12.50\""},
    {2, "round", "2"},
    {2, "cand_status", "500"},
    {2, "cand_ok", "0"},
    {2, "match", "0"},
    {2, "cand_error", "status: expected 200-399, got 500 *** \xef\xbf\xbd\xef\xbf\xbd"},
    {3, "cand_status", ""},
    {3, "cand_ok", "0"},
    {3, "cand_ms", ""},
    {3, "cand_dns_ms", ""},
    {3, "delta_ms", ""},
    {3, "ratio", ""},
    {3, "cand_error", "skipped"},
    {3, "cand_reused", "0"},
    {3, "match", "1"},
    {3, "diffs", "0"},
    {3, "base_status", "201"},
    {3, "base_ms", "20.000"},
};

static void test_build_compared(void **state)
{
    struct fixture *f = make(2, 0);
    const struct tp_entry *e;
    *state = f;
    build(f);
    assert_int_equal(f->out.count, 4 + 1 + 1 + 1);
    for (size_t i = 0; i < 4; i++) {
        e = &f->out.items[i];
        assert_int_equal(e->type, TP_ENTRY_XADD);
        assert_string_equal(e->key, "tp:steps:eu:checkout");
        assert_int_equal(e->maxlen, 500);
        assert_string_equal(e->id, "");
        assert_int_equal(e->ms, i < 2 ? 1000 : 900); /* the baseline's journey start */
        check_names(e, step_names, COUNT_OF(step_names));
        assert_string_equal(field(e, "run"), f->r.run_id);
    }
    for (size_t i = 0; i < COUNT_OF(want_steps); i++) {
        const char *got = field(&f->out.items[want_steps[i].entry], want_steps[i].name);
        if (strcmp(got, want_steps[i].value) != 0)
            fail_msg("entry %zu %s: got \"%s\", want \"%s\"", want_steps[i].entry,
                     want_steps[i].name, got, want_steps[i].value);
    }
    assert_string_not_equal(field(&f->out.items[2], "diffs"), "0");
    e = &f->out.items[4];
    assert_int_equal(e->type, TP_ENTRY_XADD);
    assert_string_equal(e->key, "tp:runs:eu");
    assert_int_equal(e->ms, 950);
    check_names(e, run_names, COUNT_OF(run_names));
    {
        /* rendered from the comparison, never judged again */
        const struct tp_pair_cmp *pc = &f->cmp.pairs[0];
        char mism[32];
        const char *const want[][2] = {
            {"journey", "checkout"},
            {"base", "stable"},
            {"cand", "canary"},
            {"rounds", "2"},
            {"verdict", tp_verdict_name(pc->verdict.verdict)},
            {"worst_step", pc->steps[pc->verdict.worst_step].name},
            {"n", "2"},
            {"base_errors", "0"},
            {"cand_errors", "1"},
            {"mismatches", mism},
            {"reason", pc->verdict.reason},
            {"version", "9.9.9"},
        };
        snprintf(mism, sizeof mism, "%zu", pc->mismatches);
        assert_true(pc->mismatches >= 2); /* pay's price, open's failure */
        for (size_t i = 0; i < COUNT_OF(want); i++)
            assert_string_equal(field(e, want[i][0]), want[i][1]);
    }
    /* latest: the same fields as a hash */
    assert_int_equal(f->out.items[5].type, TP_ENTRY_HSET);
    assert_string_equal(f->out.items[5].key, "tp:latest:eu:checkout");
    assert_string_equal(f->out.items[5].id, "");
    check_names(&f->out.items[5], run_names, COUNT_OF(run_names));
    for (size_t i = 0; i < e->nfields; i++)
        assert_string_equal(f->out.items[5].fields[i].value, e->fields[i].value);
    /* index */
    e = &f->out.items[6];
    assert_int_equal(e->type, TP_ENTRY_SADD);
    assert_string_equal(e->key, "tp:index");
    assert_int_equal(e->nfields, 2);
    assert_string_equal(e->fields[0].value, "tp:steps:eu:checkout");
    assert_string_equal(e->fields[1].value, "tp:runs:eu");
    /* no secret anywhere */
    for (size_t i = 0; i < f->out.count; i++)
        for (size_t k = 0; k < f->out.items[i].nfields; k++)
            assert_null(strstr(f->out.items[i].fields[k].value, SECRET));
}

static void test_build_then_ids(void **state)
{
    struct fixture *f = make(2, 0);
    struct tp_stream_tops tops = {0};
    struct tp_error err;
    static const char *const want[] = {"1000-0", "1000-1", "1000-2", "1000-3", "950-0"};
    *state = f;
    build(f);
    assert_int_equal(tp_streams_assign_ids(&f->out, &tops, &err), TP_OK);
    for (size_t i = 0; i < COUNT_OF(want); i++)
        assert_string_equal(f->out.items[i].id, want[i]);
    tp_stream_tops_clear(&tops);
}

static void test_build_noise_left_out(void **state)
{
    struct fixture *f = make(3, 1); /* stable, canary, stable/noise */
    *state = f;
    build(f);
    assert_int_equal(f->out.count, 4 + 1 + 1 + 1);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(field(&f->out.items[i], "cand"), "canary");
    assert_string_equal(field(&f->out.items[4], "cand"), "canary");
}

static void test_build_monitoring(void **state)
{
    struct fixture *f = make(1, 0);
    static const char *const empty[] = {
        "cand",
        "cand_status",
        "cand_ok",
        "cand_ms",
        "delta_ms",
        "ratio",
        "cand_dns_ms",
        "cand_connect_ms",
        "cand_tls_ms",
        "cand_ttfb_ms",
        "cand_download_ms",
        "cand_reused",
        "match",
        "diffs",
        "diff",
        "cand_error",
    };
    const struct tp_entry *e;
    *state = f;
    /* round 2 fails at pay */
    f->r.journeys[1].ok = 0;
    f->r.journeys[1].steps[1].ok = 0;
    f->r.journeys[1].steps[1].failure = TP_FAIL_ASSERTION;
    f->r.journeys[1].steps[1].error = strdup("jsonpath $.price: expected 1, got 12.5");
    build(f);
    assert_int_equal(f->out.count, 4 + 1 + 1 + 1);
    for (size_t i = 0; i < 4; i++) {
        e = &f->out.items[i];
        check_names(e, step_names, COUNT_OF(step_names));
        assert_string_equal(field(e, "base"), "stable");
        for (size_t k = 0; k < COUNT_OF(empty); k++)
            assert_string_equal(field(e, empty[k]), "");
        assert_string_equal(field(e, "base_ms"), i % 2 ? "20.000" : "10.000");
    }
    e = &f->out.items[4];
    check_names(e, run_names, COUNT_OF(run_names));
    assert_string_equal(field(e, "cand"), "");
    assert_string_equal(field(e, "verdict"), "FAIL");
    assert_string_equal(field(e, "worst_step"), "pay");
    assert_string_equal(field(e, "rounds"), "2");
    assert_string_equal(field(e, "n"), "2");
    assert_string_equal(field(e, "base_errors"), "1");
    assert_string_equal(field(e, "cand_errors"), "");
    assert_string_equal(field(e, "score"), "");
    assert_string_equal(field(e, "p"), "");
    assert_string_equal(
        field(e, "reason"),
        "1 of 2 rounds failed (first: pay: jsonpath $.price: expected 1, got 12.5)");
}

static void test_build_monitoring_pass(void **state)
{
    struct fixture *f = make(1, 0);
    *state = f;
    build(f);
    assert_string_equal(field(&f->out.items[4], "verdict"), "PASS");
    assert_string_equal(field(&f->out.items[4], "worst_step"), "");
    assert_string_equal(field(&f->out.items[4], "base_errors"), "0");
    assert_string_equal(field(&f->out.items[4], "reason"), "all 2 rounds ok");
}

static void test_build_rejects_mismatched_plan(void **state)
{
    struct fixture *f = make(2, 0);
    struct tp_streams_opts o = {"tp", NULL, 500, "9.9.9"};
    struct tp_error err;
    *state = f;
    f->plan.rounds = 3;
    assert_int_equal(tp_streams_build(&f->r, &f->plan, &o, &f->out, &err), TP_ERR_INTERNAL);
    assert_int_equal(f->out.count, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_parse_format),
        cmocka_unit_test(test_id_order_and_tops),
        cmocka_unit_test(test_assign_ids),
        cmocka_unit_test(test_assign_keeps_given_ids),
        cmocka_unit_test(test_batch_take_and_types),
        cmocka_unit_test(test_field_tables),
        cmocka_unit_test_teardown(test_build_compared, teardown),
        cmocka_unit_test_teardown(test_build_then_ids, teardown),
        cmocka_unit_test_teardown(test_build_noise_left_out, teardown),
        cmocka_unit_test_teardown(test_build_monitoring, teardown),
        cmocka_unit_test_teardown(test_build_monitoring_pass, teardown),
        cmocka_unit_test_teardown(test_build_rejects_mismatched_plan, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
