/* Unit tests for src/diff.c: structural JSON diffs with normalized paths, path
 * sets and their subtree coverage, ignore paths resolved on documents, line
 * diffs and their bounds, HTML/XML document diffs, whole-step comparisons on
 * hand-built results (status, assertions, captures, headers, every compare.ignore
 * kind, noise, failures) and noise learning per field, node and line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/diff.h"
#include "twinprobe/doctree.h"
#include "twinprobe/extract.h"
#include "twinprobe/journey.h"
#include "twinprobe/jsonpath.h"
#include "twinprobe/utf8.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_WANT 5

/* ---- helpers ----------------------------------------------------------------- */

struct want {
    enum tp_mismatch_kind kind;
    const char *path;
    const char *base; /* NULL: absent */
    const char *cand;
};

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!v)
        print_error("bad test JSON %s: %s\n", text, jerr.text);
    assert_non_null(v);
    return v;
}

static int same_text(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void dump_list(const struct tp_mismatches *m)
{
    for (size_t i = 0; i < m->count; i++)
        print_message("  %s %s base=%s cand=%s\n", tp_mismatch_kind_name(m->items[i].kind),
                      m->items[i].path, m->items[i].base ? m->items[i].base : "(absent)",
                      m->items[i].cand ? m->items[i].cand : "(absent)");
}

/* m holds exactly w[0..n), in order. */
static void check_list(const char *what, const struct tp_mismatches *m, const struct want *w,
                       size_t n)
{
    int ok = m->count == n && m->total == n;
    for (size_t i = 0; ok && i < n; i++)
        ok = m->items[i].kind == w[i].kind && same_text(m->items[i].path, w[i].path) &&
             same_text(m->items[i].base, w[i].base) && same_text(m->items[i].cand, w[i].cand);
    if (!ok) {
        print_error("%s: expected %zu mismatches, got %zu (total %zu):\n", what, n, m->count,
                    m->total);
        dump_list(m);
    }
    assert_true(ok);
}

/* ---- JSON diffs (table) --------------------------------------------------------- */

struct json_case {
    const char *name;
    const char *base, *cand;
    size_t n;
    struct want w[MAX_WANT];
};

/* clang-format off */
static const struct json_case json_cases[] = {
    {"equal, member order differs", "{\"a\":1,\"b\":{\"c\":[1,2],\"d\":null}}",
     "{\"b\":{\"d\":null,\"c\":[1,2]},\"a\":1}", 0, {{0}}},
    {"nested value", "{\"a\":{\"b\":{\"c\":1}}}", "{\"a\":{\"b\":{\"c\":2}}}", 1,
     {{TP_MM_VALUE_CHANGED, "$['a']['b']['c']", "1", "2"}}},
    {"array longer", "{\"xs\":[1,2]}", "{\"xs\":[1,2,{\"k\":3}]}", 1,
     {{TP_MM_ADDED, "$['xs'][2]", NULL, "{\"k\":3}"}}},
    {"array shorter", "[1,2,3]", "[1]", 2,
     {{TP_MM_REMOVED, "$[1]", "2", NULL}, {TP_MM_REMOVED, "$[2]", "3", NULL}}},
    {"array element changes by index", "[\"a\",\"b\"]", "[\"b\",\"a\"]", 2,
     {{TP_MM_VALUE_CHANGED, "$[0]", "\"a\"", "\"b\""},
      {TP_MM_VALUE_CHANGED, "$[1]", "\"b\"", "\"a\""}}},
    {"number to string", "{\"results\":[{\"price\":12.5}]}",
     "{\"results\":[{\"price\":\"12.5\"}]}", 1,
     {{TP_MM_TYPE_CHANGED, "$['results'][0]['price']", "12.5", "\"12.5\""}}},
    {"null vs missing", "{\"a\":null,\"b\":1}", "{\"b\":1}", 1,
     {{TP_MM_REMOVED, "$['a']", "null", NULL}}},
    {"missing vs null", "{}", "{\"a\":null}", 1, {{TP_MM_ADDED, "$['a']", NULL, "null"}}},
    {"null vs zero", "{\"a\":null}", "{\"a\":0}", 1,
     {{TP_MM_TYPE_CHANGED, "$['a']", "null", "0"}}},
    {"1 equals 1.0", "{\"n\":1,\"m\":[-0.0,2.0]}", "{\"n\":1.0,\"m\":[0,2]}", 0, {{0}}},
    {"numbers by value", "[1,0.1,1e300]", "[1.5,0.2,1e300]", 2,
     {{TP_MM_VALUE_CHANGED, "$[0]", "1", "1.5"}, {TP_MM_VALUE_CHANGED, "$[1]", "0.1", "0.2"}}},
    {"big integer vs nearby real", "[9007199254740993]", "[9007199254740992.0]", 1,
     {{TP_MM_VALUE_CHANGED, "$[0]", "9007199254740993", "9007199254740992.0"}}},
    {"booleans", "{\"t\":true,\"f\":false}", "{\"t\":false,\"f\":false}", 1,
     {{TP_MM_VALUE_CHANGED, "$['t']", "true", "false"}}},
    {"root type", "{}", "[]", 1, {{TP_MM_TYPE_CHANGED, "$", "{}", "[]"}}},
    {"object member added", "{}", "{\"n\":{\"x\":[1]}}", 1,
     {{TP_MM_ADDED, "$['n']", NULL, "{\"x\":[1]}"}}},
    {"unicode key", "{\"prix \xe2\x82\xac\":1,\"\xe6\x97\xa5\":\"\xc3\xa9\"}",
     "{\"prix \xe2\x82\xac\":2,\"\xe6\x97\xa5\":\"e\"}", 2,
     {{TP_MM_VALUE_CHANGED, "$['prix \xe2\x82\xac']", "1", "2"},
      {TP_MM_VALUE_CHANGED, "$['\xe6\x97\xa5']", "\"\xc3\xa9\"", "\"e\""}}},
    {"keys needing escapes", "{\"it's\":1,\"back\\\\slash\":1,\"tab\\there\":1,\"c\\u0001\":1}",
     "{\"it's\":2,\"back\\\\slash\":2,\"tab\\there\":2,\"c\\u0001\":2}", 4,
     {{TP_MM_VALUE_CHANGED, "$['it\\'s']", "1", "2"},
      {TP_MM_VALUE_CHANGED, "$['back\\\\slash']", "1", "2"},
      {TP_MM_VALUE_CHANGED, "$['tab\\there']", "1", "2"},
      {TP_MM_VALUE_CHANGED, "$['c\\u0001']", "1", "2"}}},
    {"string with a NUL", "[\"a\\u0000b\"]", "[\"a\\u0000c\"]", 1,
     {{TP_MM_VALUE_CHANGED, "$[0]", "\"a\\u0000b\"", "\"a\\u0000c\""}}},
};
/* clang-format on */

static void test_json_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT_OF(json_cases); i++) {
        const struct json_case *c = &json_cases[i];
        struct tp_mismatches m = {0};
        json_t *a = parse(c->base), *b = parse(c->cand);
        assert_int_equal(tp_diff_json(a, b, NULL, &m), TP_OK);
        check_list(c->name, &m, c->w, c->n);
        tp_mismatches_clear(&m);
        json_decref(a);
        json_decref(b);
    }
}

static void test_json_absent_roots(void **state)
{
    struct tp_mismatches m = {0};
    json_t *v = parse("[1]");
    static const struct want w[] = {{TP_MM_ADDED, "$", NULL, "[1]"},
                                    {TP_MM_REMOVED, "$", "[1]", NULL}};
    (void)state;
    assert_int_equal(tp_diff_json(NULL, v, NULL, &m), TP_OK);
    assert_int_equal(tp_diff_json(v, NULL, NULL, &m), TP_OK); /* appended */
    check_list("absent roots", &m, w, COUNT_OF(w));
    tp_mismatches_clear(&m);
    assert_int_equal(tp_diff_json(NULL, NULL, NULL, &m), TP_OK);
    assert_int_equal(m.total, 0);
    json_decref(v);
}

/* Paths built by diff.c are the ones src/jsonpath.c gives for the same members. */
static void test_paths_match_jsonpath(void **state)
{
    static const char doc[] = "{\"it's\":1,\"back\\\\slash\":1,\"nl\\nff\\f\\b\\r\":1}";
    struct tp_jsonpath_nodes nodes = {0};
    struct tp_mismatches m = {0};
    struct tp_error err;
    tp_jsonpath *q = NULL;
    json_t *a = parse(doc), *b = json_object();
    (void)state;

    assert_non_null(b);
    /* the parser refuses NUL in names; jansson's API takes them */
    assert_int_equal(json_object_setn_new(a, "\x1f\0x", 3, json_integer(1)), 0);
    assert_int_equal(json_object_set_new(a, "\xe2\x82\xac", json_integer(1)), 0);
    assert_int_equal(json_object_set_new(a, "plain", json_integer(1)), 0);
    assert_int_equal(tp_jsonpath_compile("$.*", &q, &err), TP_OK);
    assert_int_equal(tp_jsonpath_eval(q, a, 1, &nodes), TP_OK);
    assert_int_equal(tp_diff_json(a, b, NULL, &m), TP_OK);
    assert_int_equal(nodes.count, 6);
    assert_int_equal(m.count, nodes.count);
    for (size_t i = 0; i < m.count; i++) {
        assert_int_equal(m.items[i].kind, TP_MM_REMOVED);
        assert_string_equal(m.items[i].path, nodes.paths[i]);
    }
    assert_string_equal(m.items[2].path, "$['nl\\nff\\f\\b\\r']");
    assert_string_equal(m.items[3].path, "$['\\u001f\\u0000x']");
    tp_mismatches_clear(&m);
    tp_jsonpath_nodes_clear(&nodes);
    tp_jsonpath_free(q);
    json_decref(a);
    json_decref(b);
}

static void test_kind_names(void **state)
{
    static const struct {
        enum tp_mismatch_kind k;
        const char *name;
    } names[] = {
        {TP_MM_ADDED, "added"},
        {TP_MM_REMOVED, "removed"},
        {TP_MM_TYPE_CHANGED, "type_changed"},
        {TP_MM_VALUE_CHANGED, "value_changed"},
        {TP_MM_STATUS, "status_changed"},
        {TP_MM_ASSERTION, "assertion_changed"},
        {TP_MM_CAPTURE, "capture_changed"},
        {TP_MM_HEADER, "header_changed"},
        {TP_MM_TEXT, "text_changed"},
        {TP_MM_FAILURE, "failure_changed"},
        {TP_MM_NODE_ADDED, "node_added"},
        {TP_MM_NODE_REMOVED, "node_removed"},
        {TP_MM_NODE_CHANGED, "node_changed"},
        {TP_MM_LINE_ADDED, "line_added"},
        {TP_MM_LINE_REMOVED, "line_removed"},
        {TP_MM_LINE_CHANGED, "line_changed"},
    };
    (void)state;
    for (size_t i = 0; i < COUNT_OF(names); i++)
        assert_string_equal(tp_mismatch_kind_name(names[i].k), names[i].name);
}

/* ---- values as text, the KEEP cap ------------------------------------------------ */

/* Values are whole: compare.c masks them first and cuts after. */
static void test_long_value_whole(void **state)
{
    char text[1024];
    size_t n = 0;
    struct tp_mismatches m = {0};
    json_t *a, *b;
    (void)state;

    text[n++] = '"';
    for (int i = 0; i < 300; i++) {
        memcpy(text + n, "\xc3\xa9", 2);
        n += 2;
    }
    text[n++] = '"';
    text[n] = '\0';
    a = parse(text);
    b = parse("\"short\"");
    assert_int_equal(tp_diff_json(a, b, NULL, &m), TP_OK);
    assert_int_equal(m.count, 1);
    assert_string_equal(m.items[0].base, text);
    assert_string_equal(m.items[0].cand, "\"short\"");
    tp_mismatches_clear(&m);
    json_decref(a);
    json_decref(b);
}

static void test_keep_cap_counts_the_rest(void **state)
{
    struct tp_mismatches m = {0};
    json_t *a = json_array(), *b = json_array();
    (void)state;

    for (int i = 0; i < 120; i++) {
        json_array_append_new(a, json_integer(i));
        json_array_append_new(b, json_integer(i + 1));
    }
    json_array_append_new(b, json_integer(0));
    assert_int_equal(tp_diff_json(a, b, NULL, &m), TP_OK);
    assert_int_equal(m.count, TP_MISMATCHES_KEEP);
    assert_int_equal(m.total, 121);
    assert_string_equal(m.items[0].path, "$[0]");
    assert_string_equal(m.items[TP_MISMATCHES_KEEP - 1].path, "$[49]");
    tp_mismatches_clear(&m);
    assert_null(m.items);
    assert_int_equal(m.count + m.total + m.cap, 0);
    tp_mismatches_clear(&m); /* again: harmless */
    tp_mismatches_clear(NULL);
    json_decref(a);
    json_decref(b);
}

/* Hand-built values may nest deeper than jansson parses: refused, not recursed. */
static void test_depth_limit(void **state)
{
    struct tp_mismatches m = {0};
    json_t *a = json_integer(1), *b = json_integer(2);
    (void)state;

    for (int i = 0; i < 5000; i++) {
        json_t *x = json_array(), *y = json_array();
        assert_non_null(x);
        assert_non_null(y);
        json_array_append_new(x, a);
        json_array_append_new(y, b);
        a = x;
        b = y;
    }
    assert_int_equal(tp_diff_json(a, b, NULL, &m), TP_ERR_LIMIT);
    assert_int_equal(m.total, 0);
    tp_mismatches_clear(&m);
    assert_int_equal(tp_diff_json(a, json_array_get(b, 0), NULL, &m), TP_ERR_LIMIT);
    tp_mismatches_clear(&m);
    json_decref(a);
    json_decref(b);
}

/* ---- path sets ----------------------------------------------------------------- */

/* 1 when path is one of s's items (the set keeps the order paths were added). */
static int has_item(const struct tp_pathset *s, const char *path)
{
    for (size_t i = 0; i < s->count; i++)
        if (strcmp(s->items[i], path) == 0)
            return 1;
    return 0;
}

/* Bounded work (STYLE 14): a set of every path of a large body is built and asked
 * in linear time. 400,000 paths in the order a diff finds them (which is not
 * strcmp order): a sorted array with insertion would move ~3 * 10^11 bytes. */
static void test_pathset_scales(void **state)
{
    enum { N = 400000 };
    struct tp_pathset s = {0};
    char path[64];
    (void)state;

    for (size_t i = 0; i < N; i++) {
        snprintf(path, sizeof path, "$[%zu]['ts']", i);
        assert_int_equal(tp_pathset_add(&s, path), TP_OK);
    }
    assert_int_equal(s.count, N);
    for (size_t i = 0; i < N; i++) {
        snprintf(path, sizeof path, "$[%zu]['ts']['x'][3]", i);
        if (!tp_pathset_covers(&s, path))
            fail_msg("%s not covered", path);
        snprintf(path, sizeof path, "$[%zu]['id']", i);
        if (tp_pathset_covers(&s, path))
            fail_msg("%s covered", path);
    }
    tp_pathset_clear(&s);
}

static void test_pathset_covers(void **state)
{
    static const char *const members[] = {"$['a']", "$['list'][1]", "status", "header etag",
                                          "$['a']", "/html/body/div[2]", "line 7",
                                          "/html/head/link[@rel='a/b']"};
    static const struct {
        const char *path;
        int covered;
    } cases[] = {
        {"$['a']", 1},       {"$['a'][0]", 1},     {"$['a']['b']", 1},
        {"$['ab']", 0},      {"$['a\\'']", 0},     {"$", 0},
        {"$['list'][1]", 1}, {"$['list'][10]", 0}, {"$['list'][1]['x']", 1},
        {"$['list'][0]", 0}, {"status", 1},        {"status2", 0},
        {"header etag", 1},  {"header etag2", 0},  {"header", 0},
        {"capture id", 0},   {"body", 0},
        {"/html/body/div[2]", 1}, {"/html/body/div[2]/@class", 1},
        {"/html/body/div[2]/p/text()", 1}, {"/html/body/div[2]0", 0},
        {"/html/body/div", 0}, {"/html/body/div[2][@id='x']", 0}, {"/html/body", 0},
        {"/html/head/link[@rel='a/b']/@href", 1}, {"/html/head/link[@rel='a", 0},
        {"line 7", 1}, {"line 70", 0}, {"line 7+1", 0}, {"line 1", 0},
    };
    struct tp_pathset s = {0};
    (void)state;

    for (size_t i = 0; i < COUNT_OF(members); i++)
        assert_int_equal(tp_pathset_add(&s, members[i]), TP_OK);
    assert_int_equal(s.count, 7); /* the repeated "$['a']" is kept once */
    for (size_t i = 0; i < COUNT_OF(members); i++) /* each member is an item */
        assert_true(has_item(&s, members[i]));
    for (size_t i = 0; i < COUNT_OF(cases); i++) {
        if (tp_pathset_covers(&s, cases[i].path) != cases[i].covered)
            print_error("covers(%s) should be %d\n", cases[i].path, cases[i].covered);
        assert_int_equal(tp_pathset_covers(&s, cases[i].path), cases[i].covered);
    }
    assert_int_equal(tp_pathset_covers(NULL, "status"), 0);
    tp_pathset_clear(&s);
    assert_int_equal(s.count, 0);
    tp_pathset_clear(NULL);

    assert_int_equal(tp_pathset_add(&s, "$"), TP_OK); /* the root covers every JSON path */
    assert_true(tp_pathset_covers(&s, "$['x'][0]"));
    assert_false(tp_pathset_covers(&s, "status"));
    tp_pathset_clear(&s);
}

static void test_json_skip(void **state)
{
    static const struct want w[] = {{TP_MM_VALUE_CHANGED, "$['ab']", "1", "2"},
                                    {TP_MM_REMOVED, "$['items'][2]", "3", NULL}};
    struct tp_pathset skip = {0};
    struct tp_mismatches m = {0};
    json_t *a = parse("{\"a\":{\"x\":1,\"y\":[1]},\"ab\":1,\"items\":[1,2,3]}");
    json_t *b = parse("{\"a\":{\"x\":2},\"ab\":2,\"items\":[1,5]}");
    (void)state;

    assert_int_equal(tp_pathset_add(&skip, "$['a']"), TP_OK);
    assert_int_equal(tp_pathset_add(&skip, "$['items'][1]"), TP_OK);
    assert_int_equal(tp_diff_json(a, b, &skip, &m), TP_OK);
    check_list("skip", &m, w, COUNT_OF(w));
    tp_mismatches_clear(&m);
    tp_pathset_clear(&skip);
    json_decref(a);
    json_decref(b);
}

static void test_resolve(void **state)
{
    static const char *const exprs[] = {"$..request_id", "$.server_time", "$.nothing"};
    static const char *const expected[] = {"$['request_id']", "$['meta']['request_id']",
                                           "$['results'][0]['request_id']", "$['server_time']"};
    tp_jsonpath *qs[COUNT_OF(exprs)];
    struct tp_pathset s = {0};
    struct tp_error err;
    json_t *doc = parse("{\"request_id\":\"r-1\",\"server_time\":\"2025-01-01T00:00:00Z\","
                        "\"meta\":{\"request_id\":\"m-1\"},"
                        "\"results\":[{\"request_id\":\"x\",\"price\":1},{\"price\":2}]}");
    (void)state;

    for (size_t i = 0; i < COUNT_OF(exprs); i++)
        assert_int_equal(tp_jsonpath_compile(exprs[i], &qs[i], &err), TP_OK);
    assert_int_equal(tp_diff_resolve(qs, COUNT_OF(qs), doc, &s), TP_OK);
    assert_int_equal(s.count, COUNT_OF(expected));
    for (size_t i = 0; i < COUNT_OF(expected); i++) {
        if (!tp_pathset_covers(&s, expected[i]))
            print_error("missing %s\n", expected[i]);
        assert_true(tp_pathset_covers(&s, expected[i]));
    }
    assert_false(tp_pathset_covers(&s, "$['results'][1]['price']"));
    assert_int_equal(tp_diff_resolve(qs, COUNT_OF(qs), NULL, &s), TP_OK); /* no document */
    assert_int_equal(s.count, COUNT_OF(expected));
    tp_pathset_clear(&s);
    for (size_t i = 0; i < COUNT_OF(exprs); i++)
        tp_jsonpath_free(qs[i]);
    json_decref(doc);
}

/* ---- text bodies ----------------------------------------------------------------- */

struct text_case {
    const char *name;
    const char *base;
    size_t base_len;
    const char *cand;
    size_t cand_len;
    size_t n;
    struct want w[MAX_WANT];
};

#define T(s) s, sizeof(s) - 1

/* clang-format off */
static const struct text_case text_cases[] = {
    {"equal", T("a\nb\n"), T("a\nb\n"), 0, {{0}}},
    {"both empty", T(""), T(""), 0, {{0}}},
    {"changed line with both lines", T("a\nb\nc\n"), T("a\nB\nc\n"), 1,
     {{TP_MM_LINE_CHANGED, "line 2", "\"b\"", "\"B\""}}},
    {"an insertion shifts nothing", T("a\nb\nc\nd\n"), T("a\nnew\nb\nc\nd\n"), 1,
     {{TP_MM_LINE_ADDED, "line 1+1", NULL, "\"new\""}}},
    {"a removal shifts nothing", T("a\nb\nc\nd\n"), T("a\nc\nd\n"), 1,
     {{TP_MM_LINE_REMOVED, "line 2", "\"b\"", NULL}}},
    {"added first", T("b\n"), T("a\nb\n"), 1, {{TP_MM_LINE_ADDED, "line 0+1", NULL, "\"a\""}}},
    {"added last", T("a\nb\n"), T("a\nb\nc\nd\n"), 2,
     {{TP_MM_LINE_ADDED, "line 2+1", NULL, "\"c\""}, {TP_MM_LINE_ADDED, "line 2+2", NULL, "\"d\""}}},
    {"a run: pairs, then the rest", T("a\nx\ny\nz\n"), T("a\nX\nY\nW\nz\n"), 3,
     {{TP_MM_LINE_CHANGED, "line 2", "\"x\"", "\"X\""},
      {TP_MM_LINE_CHANGED, "line 3", "\"y\"", "\"Y\""},
      {TP_MM_LINE_ADDED, "line 3+1", NULL, "\"W\""}}},
    {"two runs", T("1\n2\n3\n4\n5\n6\n"), T("1\ntwo\n3\n4\n5\n6\nseven\n"), 2,
     {{TP_MM_LINE_CHANGED, "line 2", "\"2\"", "\"two\""},
      {TP_MM_LINE_ADDED, "line 6+1", NULL, "\"seven\""}}},
    {"no final newline", T("a\nb"), T("a\nbc"), 1,
     {{TP_MM_LINE_CHANGED, "line 2", "\"b\"", "\"bc\""}}},
    {"a final newline only", T("a\nb"), T("a\nb\n"), 0, {{0}}},
    {"empty vs one line", T(""), T("x"), 1, {{TP_MM_LINE_ADDED, "line 0+1", NULL, "\"x\""}}},
    {"CR is part of its line", T("a\r\nb\r\n"), T("a\nb\r\n"), 1,
     {{TP_MM_LINE_CHANGED, "line 1", "\"a\\r\"", "\"a\""}}},
    {"bad UTF-8 shown as U+FFFD", T("caf\xe9\n"), T("cafe\n"), 1,
     {{TP_MM_LINE_CHANGED, "line 1", "\"caf\xef\xbf\xbd\"", "\"cafe\""}}},
    {"NUL bytes: the summary", T("a\n\0b\n"), T("a\n\0c\n"), 1,
     {{TP_MM_TEXT, "body", "\"2 lines\"", "\"2 lines, first difference at line 2\""}}},
};
/* clang-format on */

static void test_text_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT_OF(text_cases); i++) {
        const struct text_case *c = &text_cases[i];
        struct tp_mismatches m = {0};
        assert_int_equal(tp_diff_text(c->base, c->base_len, c->cand, c->cand_len, &m), TP_OK);
        check_list(c->name, &m, c->w, c->n);
        tp_mismatches_clear(&m);
    }
}

/* n lines "line K" (K from 1), with line `changed` (0: none) as "CHANGED"; new. */
static char *numbered_lines(size_t n, size_t changed, size_t *len)
{
    char *s = malloc(n * 24 + 1);
    size_t at = 0;
    assert_non_null(s);
    for (size_t k = 1; k <= n; k++)
        at += (size_t)(k == changed ? snprintf(s + at, 24, "CHANGED\n")
                                    : snprintf(s + at, 24, "line %zu\n", k));
    *len = at;
    return s;
}

/* A long body: the differing lines only, each once, however far down. */
static void test_text_long_bodies(void **state)
{
    static const struct want w[] = {{TP_MM_LINE_CHANGED, "line 700", "\"line 700\"", "\"CHANGED\""},
                                    {TP_MM_LINE_ADDED, "line 1200+1", NULL, "\"tail\""}};
    struct tp_mismatches m = {0};
    size_t na, nb;
    char *a = numbered_lines(1200, 0, &na), *b = numbered_lines(1200, 700, &nb);
    (void)state;

    b = realloc(b, nb + 6);
    assert_non_null(b);
    memcpy(b + nb, "tail\n", 5);
    assert_int_equal(tp_diff_text(a, na, b, nb + 5, &m), TP_OK);
    check_list("long", &m, w, COUNT_OF(w));
    tp_mismatches_clear(&m);
    /* one line inserted at the top shifts the 1200 others: still one mismatch */
    b = realloc(b, na + 5);
    assert_non_null(b);
    memcpy(b, "new\n", 4);
    memcpy(b + 4, a, na);
    assert_int_equal(tp_diff_text(a, na, b, na + 4, &m), TP_OK);
    assert_int_equal(m.total, 1);
    assert_string_equal(m.items[0].path, "line 0+1");
    tp_mismatches_clear(&m);
    free(a);
    free(b);
}

/* Past TP_DIFF_MAX_EDITS the middle is paired by position: every line is still
 * found, kept up to TP_MISMATCHES_KEEP and counted beyond. */
static void test_text_bounds(void **state)
{
    struct tp_mismatches m = {0};
    size_t n = 3 * TP_DIFF_MAX_EDITS, na;
    char *a = numbered_lines(n, 0, &na), *b = malloc(na + 1);
    char *big;
    (void)state;

    assert_non_null(b);
    memcpy(b, a, na);
    for (size_t i = 0; i < na; i++) /* "line K" -> "LINE K": every line differs */
        if (b[i] == 'l' && (i == 0 || b[i - 1] == '\n'))
            b[i] = 'L';
    assert_int_equal(tp_diff_text(a, na, b, na, &m), TP_OK);
    assert_int_equal(m.total, n);
    assert_int_equal(m.count, TP_MISMATCHES_KEEP);
    assert_int_equal(m.items[0].kind, TP_MM_LINE_CHANGED);
    assert_string_equal(m.items[0].path, "line 1");
    assert_string_equal(m.items[TP_MISMATCHES_KEEP - 1].path, "line 50");
    tp_mismatches_clear(&m);

    /* more than TP_DIFF_MAX_LINES lines: the summary */
    big = malloc(2 * (TP_DIFF_MAX_LINES + 1));
    assert_non_null(big);
    for (size_t i = 0; i < TP_DIFF_MAX_LINES + 1; i++)
        memcpy(big + 2 * i, "x\n", 2);
    assert_int_equal(tp_diff_text(big, 2 * (TP_DIFF_MAX_LINES + 1), big, 2 * TP_DIFF_MAX_LINES,
                                  &m),
                     TP_OK);
    assert_int_equal(m.total, 1);
    assert_int_equal(m.items[0].kind, TP_MM_TEXT);
    tp_mismatches_clear(&m);
    free(big);
    free(a);
    free(b);
}

/* ---- whole steps -------------------------------------------------------------------- */

static const char journey_text[] =
    "{\"name\": \"search-cart\","
    " \"compare\": {\"ignore\": [\"$.server_time\", \"$..request_id\"],"
    "               \"headers\": [\"Content-Type\", \"ETag\"]},"
    " \"steps\": [{\"name\": \"search\", \"request\": {\"url\": \"/api/search\"}}]}";

static const char journey_learn_text[] =
    "{\"name\": \"learned\", \"compare\": {\"noise\": \"learn\"},"
    " \"steps\": [{\"name\": \"search\", \"request\": {\"url\": \"/api/search\"}}]}";

struct fixture {
    struct tp_journey *journey; /* with compare.ignore and compare.headers */
    struct tp_journey *learn;   /* noise: learn, nothing ignored */
    struct tp_step_result base, cand, base2;
    struct tp_pathset noise;
    struct tp_mismatches out;
};

static struct tp_journey *load(const char *text)
{
    struct tp_diags d = {0};
    struct tp_journey *j = tp_journey_load("j.json", text, strlen(text), &d);
    for (size_t i = 0; i < d.count; i++)
        print_message("journey: %s: %s\n", d.items[i].path, d.items[i].text);
    tp_diags_clear(&d);
    return j;
}

static void result_clear(struct tp_step_result *r)
{
    tp_response_clear(&r->response);
    tp_step_eval_clear(&r->eval);
    free(r->error);
    memset(r, 0, sizeof *r);
}

static char *dup_str(const char *s)
{
    char *d = strdup(s);
    assert_non_null(d);
    return d;
}

/* A completed step: status, body, no headers, no assertions, no captures. */
static void make_result(struct tp_step_result *r, const struct tp_journey *j, long status,
                        const char *body, enum tp_failure failure)
{
    result_clear(r);
    r->step = &j->steps[0];
    r->ok = failure == TP_FAIL_NONE;
    r->failure = failure;
    r->attempts = 1;
    r->response.status = status;
    r->response.body = dup_str(body);
    r->response.body_len = strlen(body);
    r->eval.captures = json_object();
    assert_non_null(r->eval.captures);
}

static void add_header(struct tp_step_result *r, const char *name, const char *value)
{
    struct tp_response *resp = &r->response;
    struct tp_header *h = realloc(resp->headers, (resp->nheaders + 1) * sizeof *h);
    assert_non_null(h);
    resp->headers = h;
    h[resp->nheaders].name = dup_str(name);
    h[resp->nheaders].value = dup_str(value);
    resp->nheaders++;
}

static void add_assertion(struct tp_step_result *r, const char *source, int ok)
{
    struct tp_step_eval *e = &r->eval;
    struct tp_assertion *a = realloc(e->assertions, (e->nassertions + 1) * sizeof *a);
    assert_non_null(a);
    e->assertions = a;
    memset(&a[e->nassertions], 0, sizeof *a);
    a[e->nassertions].source = dup_str(source);
    a[e->nassertions].predicate = "exists";
    a[e->nassertions].ok = ok;
    e->nassertions++;
}

static void add_capture(struct tp_step_result *r, const char *name, const char *json)
{
    assert_int_equal(json_object_set_new(r->eval.captures, name, parse(json)), 0);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->journey = load(journey_text);
    f->learn = load(journey_learn_text);
    *state = f;
    if (!f->journey || !f->learn)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    result_clear(&f->base);
    result_clear(&f->cand);
    result_clear(&f->base2);
    tp_pathset_clear(&f->noise);
    tp_mismatches_clear(&f->out);
    tp_journey_free(f->journey);
    tp_journey_free(f->learn);
    free(f);
    return 0;
}

static void diff(struct fixture *f, const struct tp_compare *cmp, const struct tp_pathset *noise)
{
    tp_mismatches_clear(&f->out);
    assert_int_equal(tp_diff_step(&f->base, &f->cand, cmp, noise, &f->out), TP_OK);
}

static void test_step_equal(void **state)
{
    struct fixture *f = *state;
    const char *body = "{\"results\":[{\"sku\":\"A-1\",\"price\":12.5}]}";

    make_result(&f->base, f->journey, 200, body, TP_FAIL_NONE);
    make_result(&f->cand, f->journey, 200, body, TP_FAIL_NONE);
    add_header(&f->base, "X-Served-By", "stable-7");
    add_header(&f->cand, "X-Served-By", "canary-1"); /* not in compare.headers */
    diff(f, &f->journey->compare, NULL);
    check_list("equal", &f->out, NULL, 0);
}

static void test_step_status_and_failure(void **state)
{
    static const struct want w[] = {
        {TP_MM_FAILURE, "failure", NULL, "\"http\""},
        {TP_MM_STATUS, "status", "200", "500"},
        {TP_MM_LINE_CHANGED, "line 1", "\"{\\\"ok\\\":true}\"",
         "\"<h1>Internal Server Error</h1>\""}};
    struct fixture *f = *state;

    make_result(&f->base, f->journey, 200, "{\"ok\":true}", TP_FAIL_NONE);
    make_result(&f->cand, f->journey, 500, "<h1>Internal Server Error</h1>", TP_FAIL_HTTP);
    diff(f, &f->journey->compare, NULL);
    check_list("status", &f->out, w, COUNT_OF(w));
}

static void test_step_no_response_stops(void **state)
{
    static const struct want w[] = {{TP_MM_FAILURE, "failure", NULL, "\"timeout\""}};
    static const struct want w2[] = {{TP_MM_FAILURE, "failure", "\"connect\"", "\"timeout\""}};
    struct fixture *f = *state;

    make_result(&f->base, f->journey, 200, "{\"a\":1}", TP_FAIL_NONE);
    make_result(&f->cand, f->journey, 0, "", TP_FAIL_TIMEOUT);
    add_assertion(&f->base, "status", 1);
    diff(f, &f->journey->compare, NULL);
    check_list("timeout", &f->out, w, COUNT_OF(w));

    make_result(&f->base, f->journey, 0, "", TP_FAIL_CONNECT);
    diff(f, &f->journey->compare, NULL);
    check_list("connect vs timeout", &f->out, w2, COUNT_OF(w2));

    make_result(&f->base, f->journey, 0, "", TP_FAIL_TIMEOUT);
    diff(f, &f->journey->compare, NULL);
    check_list("both timed out", &f->out, NULL, 0);
}

static void test_step_skipped(void **state)
{
    struct fixture *f = *state;

    make_result(&f->base, f->journey, 200, "{\"a\":1}", TP_FAIL_NONE);
    make_result(&f->cand, f->journey, 0, "", TP_FAIL_NONE);
    f->cand.skipped = 1;
    f->cand.ok = 0;
    diff(f, &f->journey->compare, NULL);
    check_list("cand skipped", &f->out, NULL, 0);
    f->cand.skipped = 0;
    f->base.skipped = 1;
    diff(f, &f->journey->compare, NULL);
    check_list("base skipped", &f->out, NULL, 0);
}

static void test_step_assertions_and_captures(void **state)
{
    static const struct want w[] = {
        {TP_MM_FAILURE, "failure", NULL, "\"assertion\""},
        {TP_MM_ASSERTION, "jsonpath $.results", "true", "false"},
        {TP_MM_CAPTURE, "capture sku", "\"A-1\"", "\"A-2\""},
        {TP_MM_CAPTURE, "capture cart_id", "{\"id\":7}", NULL},
    };
    struct fixture *f = *state;

    make_result(&f->base, f->journey, 200, "{}", TP_FAIL_NONE);
    make_result(&f->cand, f->journey, 200, "{}", TP_FAIL_ASSERTION);
    add_assertion(&f->base, "status", 1);
    add_assertion(&f->cand, "status", 1);
    add_assertion(&f->base, "jsonpath $.results", 1);
    add_assertion(&f->cand, "jsonpath $.results", 0);
    add_assertion(&f->base, "header Location", 0); /* failing on both: no mismatch */
    add_assertion(&f->cand, "header Location", 0);
    add_capture(&f->base, "sku", "\"A-1\"");
    add_capture(&f->cand, "sku", "\"A-2\"");
    add_capture(&f->base, "qty", "1");
    add_capture(&f->cand, "qty", "1.0"); /* equal by value */
    add_capture(&f->base, "cart_id", "{\"id\":7}");
    diff(f, &f->journey->compare, NULL);
    check_list("assertions and captures", &f->out, w, COUNT_OF(w));
}

static void test_step_headers(void **state)
{
    static const struct want w[] = {
        {TP_MM_HEADER, "header content-type", "\"application/json\"",
         "\"application/json; charset=utf-8\""},
        {TP_MM_HEADER, "header etag", "\"\\\"v1\\\"\"", NULL},
    };
    struct fixture *f = *state;

    make_result(&f->base, f->journey, 200, "[]", TP_FAIL_NONE);
    make_result(&f->cand, f->journey, 200, "[]", TP_FAIL_NONE);
    add_header(&f->base, "Content-Type", "application/json");
    add_header(&f->cand, "content-type", "application/json; charset=utf-8");
    add_header(&f->base, "ETag", "\"v1\"");
    add_header(&f->base, "Date", "Mon, 01 Dec 2025 10:00:00 GMT");
    add_header(&f->cand, "Date", "Mon, 01 Dec 2025 10:00:01 GMT"); /* not named: ignored */
    diff(f, &f->journey->compare, NULL);
    check_list("headers", &f->out, w, COUNT_OF(w));
}

static void test_step_ignore_from_journey(void **state)
{
    static const struct want w[] = {
        {TP_MM_VALUE_CHANGED, "$['results'][0]['price']", "12.5", "13"},
        {TP_MM_ADDED, "$['results'][1]", NULL, "{\"sku\":\"B-2\",\"request_id\":\"z\"}"},
    };
    struct fixture *f = *state;

    assert_int_equal(f->journey->compare.nignore, 2);
    make_result(&f->base, f->journey, 200,
                "{\"request_id\":\"r-1\",\"server_time\":\"10:00:00\","
                "\"results\":[{\"sku\":\"A-1\",\"price\":12.5,\"request_id\":\"x\"}]}",
                TP_FAIL_NONE);
    /* server_time only on the base side, request_id only on the candidate's item */
    make_result(&f->cand, f->journey, 200,
                "{\"request_id\":\"r-2\",\"results\":[{\"sku\":\"A-1\",\"price\":13},"
                "{\"sku\":\"B-2\",\"request_id\":\"z\"}]}",
                TP_FAIL_NONE);
    diff(f, &f->journey->compare, NULL);
    check_list("ignore", &f->out, w, COUNT_OF(w));

    /* without the journey's compare section everything shows */
    diff(f, NULL, NULL);
    assert_int_equal(f->out.total, 5);
}

static void test_step_noise_drops(void **state)
{
    static const struct want w[] = {{TP_MM_VALUE_CHANGED, "$['b']", "2", "3"}};
    struct fixture *f = *state;
    struct tp_pathset noise = {0};

    make_result(&f->base, f->journey, 200, "{\"a\":{\"x\":1},\"b\":2,\"c\":[1]}", TP_FAIL_NONE);
    make_result(&f->cand, f->journey, 201, "{\"a\":{\"x\":9},\"b\":3,\"c\":[1,2]}", TP_FAIL_NONE);
    add_capture(&f->base, "id", "1");
    add_capture(&f->cand, "id", "2");
    add_header(&f->base, "ETag", "e1");
    add_header(&f->cand, "ETag", "e2");
    assert_int_equal(tp_pathset_add(&noise, "$['a']"), TP_OK);
    assert_int_equal(tp_pathset_add(&noise, "$['c']"), TP_OK);
    assert_int_equal(tp_pathset_add(&noise, "status"), TP_OK);
    assert_int_equal(tp_pathset_add(&noise, "capture id"), TP_OK);
    assert_int_equal(tp_pathset_add(&noise, "header etag"), TP_OK);
    diff(f, &f->journey->compare, &noise);
    check_list("noise", &f->out, w, COUNT_OF(w)); /* dropped ones are not counted either */

    make_result(&f->base, f->journey, 200, "plain text\n", TP_FAIL_NONE);
    make_result(&f->cand, f->journey, 200, "other text\n", TP_FAIL_NONE);
    diff(f, &f->journey->compare, &noise);
    assert_int_equal(f->out.total, 1);
    assert_int_equal(tp_pathset_add(&noise, "line 1"), TP_OK);
    diff(f, &f->journey->compare, &noise);
    assert_int_equal(f->out.total, 0);
    tp_pathset_clear(&noise);
}

static void test_step_keep_cap(void **state)
{
    struct fixture *f = *state;
    char a[2048], b[2048];
    size_t na = 0, nb = 0;

    a[na++] = '[';
    b[nb++] = '[';
    for (int i = 0; i < 80; i++) {
        na += (size_t)snprintf(a + na, sizeof a - na, "%s%d", i ? "," : "", i);
        nb += (size_t)snprintf(b + nb, sizeof b - nb, "%s\"%d\"", i ? "," : "", i);
    }
    memcpy(a + na, "]", 2);
    memcpy(b + nb, "]", 2);
    make_result(&f->base, f->journey, 200, a, TP_FAIL_NONE);
    make_result(&f->cand, f->journey, 500, b, TP_FAIL_HTTP);
    diff(f, &f->journey->compare, NULL);
    assert_int_equal(f->out.count, TP_MISMATCHES_KEEP);
    assert_int_equal(f->out.total, 2 + 80);
    assert_string_equal(f->out.items[0].path, "failure");
    assert_string_equal(f->out.items[1].path, "status");
    assert_int_equal(f->out.items[2].kind, TP_MM_TYPE_CHANGED);
    assert_string_equal(f->out.items[2].cand, "\"0\"");
}

static void test_learn_then_compare(void **state)
{
    static const char *const learned[] = {"$['request_id']", "$['results'][0]['request_id']",
                                          "$['server_time']", "capture cart_id"}; /* sorted */
    static const struct want w[] = {
        {TP_MM_TYPE_CHANGED, "$['results'][0]['price']", "12.5", "\"12.5\""},
    };
    struct fixture *f = *state;
    const struct tp_compare *cmp = &f->learn->compare;

    assert_int_equal(cmp->noise, TP_NOISE_LEARN);
    make_result(&f->base, f->learn, 200,
                "{\"request_id\":\"r-1\",\"server_time\":\"2025-12-01T10:00:00.120Z\","
                "\"results\":[{\"sku\":\"A-1\",\"price\":12.5,\"request_id\":\"q-1\"}],"
                "\"total\":1}",
                TP_FAIL_NONE);
    make_result(&f->base2, f->learn, 200,
                "{\"request_id\":\"r-2\",\"server_time\":\"2025-12-01T10:00:00.480Z\","
                "\"results\":[{\"sku\":\"A-1\",\"price\":12.5,\"request_id\":\"q-2\"}],"
                "\"total\":1}",
                TP_FAIL_NONE);
    add_capture(&f->base, "cart_id", "\"c-1\"");
    add_capture(&f->base2, "cart_id", "\"c-2\"");
    add_capture(&f->base, "sku", "\"A-1\"");
    add_capture(&f->base2, "sku", "\"A-1\"");
    assert_int_equal(tp_diff_learn(&f->base, &f->base2, cmp, &f->noise), TP_OK);
    assert_int_equal(f->noise.count, COUNT_OF(learned));
    for (size_t i = 0; i < COUNT_OF(learned); i++)
        assert_true(has_item(&f->noise, learned[i]));
    /* learning again from the same pair adds nothing */
    assert_int_equal(tp_diff_learn(&f->base, &f->base2, cmp, &f->noise), TP_OK);
    assert_int_equal(f->noise.count, COUNT_OF(learned));

    make_result(&f->cand, f->learn, 200,
                "{\"request_id\":\"r-9\",\"server_time\":\"2025-12-01T10:00:01.002Z\","
                "\"results\":[{\"sku\":\"A-1\",\"price\":\"12.5\",\"request_id\":\"q-9\"}],"
                "\"total\":1}",
                TP_FAIL_NONE);
    add_capture(&f->cand, "cart_id", "\"c-9\"");
    add_capture(&f->cand, "sku", "\"A-1\"");
    diff(f, cmp, &f->noise);
    check_list("after learning", &f->out, w, COUNT_OF(w));

    /* without the noise the volatile fields show too */
    diff(f, cmp, NULL);
    assert_int_equal(f->out.total, 5);
}

static void test_learn_text_and_flaky(void **state)
{
    struct fixture *f = *state;
    const struct tp_compare *cmp = &f->learn->compare;

    make_result(&f->base, f->learn, 200, "total 3\ngenerated at 10:00:00\n", TP_FAIL_NONE);
    make_result(&f->base2, f->learn, 200, "total 3\ngenerated at 10:00:01\n", TP_FAIL_NONE);
    assert_int_equal(tp_diff_learn(&f->base, &f->base2, cmp, &f->noise), TP_OK);
    assert_int_equal(f->noise.count, 1);
    assert_string_equal(f->noise.items[0], "line 2");
    make_result(&f->cand, f->learn, 200, "total 4\ngenerated at 10:00:02\n", TP_FAIL_NONE);
    diff(f, cmp, &f->noise);
    check_list("line noise", &f->out,
               (const struct want[]){{TP_MM_LINE_CHANGED, "line 1", "\"total 3\"", "\"total 4\""}},
               1);
    tp_pathset_clear(&f->noise);

    /* a second baseline that failed teaches nothing */
    make_result(&f->base2, f->learn, 503, "busy\n", TP_FAIL_HTTP);
    assert_int_equal(tp_diff_learn(&f->base, &f->base2, cmp, &f->noise), TP_OK);
    make_result(&f->base2, f->learn, 0, "", TP_FAIL_TIMEOUT);
    assert_int_equal(tp_diff_learn(&f->base, &f->base2, cmp, &f->noise), TP_OK);
    f->base2.skipped = 1;
    assert_int_equal(tp_diff_learn(&f->base, &f->base2, cmp, &f->noise), TP_OK);
    assert_int_equal(f->noise.count, 0);
}

/* ---- documents ------------------------------------------------------------------ */

struct doc_case {
    const char *name;
    const char *type; /* Content-Type of both, or NULL */
    const char *base, *cand;
    size_t n;
    struct want w[MAX_WANT];
};

#define HTML(head, body) \
    "<!DOCTYPE html><html><head>" head "</head><body>" body "</body></html>"

/* clang-format off */
static const struct doc_case doc_cases[] = {
    {"equal", "text/html", HTML("<title>Shop</title>", "<h1>Hi</h1>"),
     HTML("<title>Shop</title>", "<h1>Hi</h1>"), 0, {{0}}},
    {"changed title", "text/html", HTML("<title>Shop</title>", "<h1>Hi</h1>"),
     HTML("<title>Shop!</title>", "<h1>Hi</h1>"), 1,
     {{TP_MM_NODE_CHANGED, "/html/head/title/text()", "\"Shop\"", "\"Shop!\""}}},
    {"changed canonical href", "text/html",
     HTML("<link rel=\"stylesheet\" href=\"/a.css\"><link rel=\"canonical\" href=\"https://shop/a\">", ""),
     HTML("<link rel=\"stylesheet\" href=\"/a.css\"><link rel=\"canonical\" href=\"https://shop/b\">", ""), 1,
     {{TP_MM_NODE_CHANGED, "/html/head/link[@rel='canonical']/@href", "\"https://shop/a\"",
       "\"https://shop/b\""}}},
    {"added element shifts nothing", "text/html",
     HTML("", "<div><h1>A</h1></div><div><p>x</p></div>"),
     HTML("", "<div><h1>A</h1></div><div class=\"promo\">Sale</div><div><p>x</p></div>"), 1,
     {{TP_MM_NODE_ADDED, "/html/body/div[2]", NULL, "\"<div class=\\\"promo\\\">Sale</div>\""}}},
    {"removed element", "text/html",
     HTML("", "<div><h1>A</h1></div><div class=\"promo\">Sale</div><div><p>x</p></div>"),
     HTML("", "<div><h1>A</h1></div><div><p>x</p></div>"), 1,
     {{TP_MM_NODE_REMOVED, "/html/body/div[2]", "\"<div class=\\\"promo\\\">Sale</div>\"", NULL}}},
    {"changed inside the second of three", "text/html",
     HTML("", "<div>a</div><div><h1>B</h1></div><div>c</div>"),
     HTML("", "<div>a</div><div><h1>B!</h1></div><div>c</div>"), 1,
     {{TP_MM_NODE_CHANGED, "/html/body/div[2]/h1/text()", "\"B\"", "\"B!\""}}},
    {"whitespace alone is no difference", "text/html",
     HTML("<title>Shop</title>", "<p>Hello   world</p><ul><li>a</li><li>b</li></ul>"),
     "<!DOCTYPE html>\n<html>\n  <head>\n    <title> Shop </title>\n  </head>\n  <body>\n"
     "    <p>\n      Hello\n      world\n    </p>\n    <ul>\n      <li>a</li>\n      <li>b</li>\n"
     "    </ul>\n  </body>\n</html>\n", 0, {{0}}},
    {"an id names the element", "text/html",
     HTML("", "<div id=\"menu\"><span>3</span></div><div id=\"cart\"><span>1</span></div>"),
     HTML("", "<div id=\"menu\"><span>3</span></div><div id=\"cart\"><span>2</span></div>"), 1,
     {{TP_MM_NODE_CHANGED, "/html/body/div[@id='cart']/span/text()", "\"1\"", "\"2\""}}},
    {"a unique name names the element", "text/html",
     HTML("", "<form><input name=\"csrf\" value=\"a1\"><input name=\"q\" value=\"\"></form>"),
     HTML("", "<form><input name=\"csrf\" value=\"b2\"><input name=\"q\" value=\"\"></form>"), 1,
     {{TP_MM_NODE_CHANGED, "/html/body/form/input[@name='csrf']/@value", "\"a1\"", "\"b2\""}}},
    {"a shared name does not: the position does", "text/html",
     HTML("", "<form><input type=\"radio\" name=\"size\" value=\"S\"><input type=\"radio\" name=\"size\" value=\"M\"></form>"),
     HTML("", "<form><input type=\"radio\" name=\"size\" value=\"S\"><input type=\"radio\" name=\"size\" value=\"L\"></form>"), 1,
     {{TP_MM_NODE_CHANGED, "/html/body/form/input[2]/@value", "\"M\"", "\"L\""}}},
    {"a quote in the value", "text/html",
     HTML("", "<p id=\"it's\">a</p><p>b</p>"), HTML("", "<p id=\"it's\">A</p><p>b</p>"), 1,
     {{TP_MM_NODE_CHANGED, "/html/body/p[@id=\"it's\"]/text()", "\"a\"", "\"A\""}}},
    {"attributes added and removed", "text/html",
     HTML("", "<a href=\"/x\" target=\"_blank\">x</a>"), HTML("", "<a href=\"/x\" rel=\"nofollow\">x</a>"), 2,
     {{TP_MM_NODE_REMOVED, "/html/body/a/@target", "\"_blank\"", NULL},
      {TP_MM_NODE_ADDED, "/html/body/a/@rel", NULL, "\"nofollow\""}}},
    {"the second text of an element", "text/html",
     HTML("", "<p>one<br>two</p>"), HTML("", "<p>one<br>three</p>"), 1,
     {{TP_MM_NODE_CHANGED, "/html/body/p/text()[2]", "\"two\"", "\"three\""}}},
    {"an item inserted at the top of a list", "text/html",
     HTML("", "<ul><li>a</li><li>b</li><li>c</li><li>d</li></ul>"),
     HTML("", "<ul><li>new</li><li>a</li><li>b</li><li>c</li><li>d</li></ul>"), 1,
     {{TP_MM_NODE_ADDED, "/html/body/ul/li[1]", NULL, "\"<li>new</li>\""}}},
    {"an element renamed", "text/html", HTML("", "<h1>T</h1>"), HTML("", "<h2>T</h2>"), 2,
     {{TP_MM_NODE_REMOVED, "/html/body/h1", "\"<h1>T</h1>\"", NULL},
      {TP_MM_NODE_ADDED, "/html/body/h2", NULL, "\"<h2>T</h2>\""}}},
    {"comments are not compared", "text/html", HTML("", "<!-- built 10:00 --><p>x</p>"),
     HTML("", "<!-- built 10:01 --><p>x</p>"), 0, {{0}}},
    {"HTML by its start, no Content-Type", NULL, "<html><body><p>a</p></body></html>",
     "<html><body><p>b</p></body></html>", 1,
     {{TP_MM_NODE_CHANGED, "/html/body/p/text()", "\"a\"", "\"b\""}}},
    {"XML", "application/xml",
     "<?xml version=\"1.0\"?><feed><entry id=\"1\"><title>a</title></entry><entry id=\"2\"/></feed>",
     "<?xml version=\"1.0\"?><feed><entry id=\"1\"><title>b</title></entry><entry id=\"2\"/></feed>", 1,
     {{TP_MM_NODE_CHANGED, "/feed/entry[@id='1']/title/text()", "\"a\"", "\"b\""}}},
    {"a document and a text: by line", NULL, "<p>a</p>", "plain", 1,
     {{TP_MM_LINE_CHANGED, "line 1", "\"<p>a</p>\"", "\"plain\""}}},
};
/* clang-format on */

static void make_doc(struct tp_step_result *r, const struct tp_journey *j, const char *body,
                     const char *type)
{
    make_result(r, j, 200, body, TP_FAIL_NONE);
    if (type)
        add_header(r, "Content-Type", type);
}

static void test_doc_cases(void **state)
{
    struct fixture *f = *state;

    for (size_t i = 0; i < COUNT_OF(doc_cases); i++) {
        const struct doc_case *c = &doc_cases[i];
        make_doc(&f->base, f->learn, c->base, c->type);
        make_doc(&f->cand, f->learn, c->cand, c->type);
        diff(f, NULL, NULL);
        check_list(c->name, &f->out, c->w, c->n);
        /* the documents parsed for the comparison are not kept */
        assert_null(f->base.response.xml_doc);
        assert_null(f->cand.response.xml_doc);
    }
}

/* A document parsed already (by an XPath capture) is used and kept. */
static void test_doc_cache_kept(void **state)
{
    struct fixture *f = *state;
    struct tp_source src;
    struct tp_value v = {0};
    struct tp_error err;

    make_doc(&f->base, f->learn, HTML("", "<p>a</p>"), "text/html");
    make_doc(&f->cand, f->learn, HTML("", "<p>b</p>"), "text/html");
    memset(&src, 0, sizeof src);
    assert_int_equal(tp_source_compile(&src, TP_SRC_XPATH, "string(//p)", &err), TP_OK);
    assert_int_equal(tp_source_eval(&src, &f->base.response, &v, &err), TP_OK);
    tp_value_clear(&v);
    tp_source_clear(&src);
    assert_non_null(f->base.response.xml_doc);
    diff(f, NULL, NULL);
    assert_int_equal(f->out.total, 1);
    assert_non_null(f->base.response.xml_doc);
    assert_null(f->cand.response.xml_doc);
}

/* A document past TP_DOCTREE_MAX_NODES is compared by line. */
static void test_doc_bound(void **state)
{
    struct fixture *f = *state;
    size_t n = TP_DOCTREE_MAX_NODES + 10, len = 0;
    char *a = malloc(n * 8 + 64), *b;

    assert_non_null(a);
    len += (size_t)sprintf(a, "<html><body>\n");
    for (size_t i = 0; i < n; i++) {
        memcpy(a + len, "<i></i>\n", 8);
        len += 8;
    }
    memcpy(a + len, "</body></html>\n", 16);
    b = strdup(a);
    assert_non_null(b);
    b[13 + 8 * 5 + 1] = 'b'; /* line 7: "<b></i>" */
    make_doc(&f->base, f->learn, a, "text/html");
    make_doc(&f->cand, f->learn, b, "text/html");
    diff(f, NULL, NULL);
    assert_int_equal(f->out.total, 1);
    assert_int_equal(f->out.items[0].kind, TP_MM_LINE_CHANGED);
    assert_string_equal(f->out.items[0].path, "line 7");
    free(a);
    free(b);
}

/* Every compare.ignore kind at once: a JSONPath (not used here), XPaths for an
 * attribute and a subtree, a /regex/ for texts and lines, capture: and header:. */
static const char journey_ignore_text[] =
    "{\"name\": \"pages\","
    " \"compare\": {\"headers\": [\"ETag\", \"X-Build\"],"
    "   \"ignore\": [\"$.server_time\", \"//meta[@name='csrf-token']/@content\","
    "                \"/html/body/footer\", \"/^Generated at /\", \"capture:csrf\","
    "                \"header:ETag\"]},"
    " \"steps\": [{\"name\": \"home\", \"request\": {\"url\": \"/\"},"
    "   \"capture\": {\"csrf\": {\"xpath\": \"string(//meta/@content)\"}}}]}";

static void test_ignore_every_kind(void **state)
{
    static const struct want w[] = {
        {TP_MM_CAPTURE, "capture sku", "\"A-1\"", "\"A-2\""},
        {TP_MM_HEADER, "header x-build", "\"7\"", "\"8\""},
        {TP_MM_NODE_CHANGED, "/html/body/h1/text()", "\"Welcome\"", "\"Welcome!\""},
    };
    static const struct want w_text[] = {
        {TP_MM_LINE_CHANGED, "line 1", "\"total 3\"", "\"total 4\""},
    };
    struct fixture *f = *state;
    struct tp_journey *j = load(journey_ignore_text);
    const struct tp_compare *cmp;

    assert_non_null(j);
    cmp = &j->compare;
    make_doc(&f->base, j,
             HTML("<meta name=\"csrf-token\" content=\"t-1\">",
                  "<h1>Welcome</h1><p>Generated at 10:00:00</p>"
                  "<footer><p>build 7</p><a href=\"/v7\">v7</a></footer>"),
             "text/html");
    make_doc(&f->cand, j,
             HTML("<meta name=\"csrf-token\" content=\"t-2\">",
                  "<h1>Welcome!</h1><p>Generated at 10:00:01</p>"
                  "<footer><p>build 8</p><a href=\"/v8\">v8</a><b>new</b></footer>"),
             "text/html");
    add_capture(&f->base, "csrf", "\"t-1\"");
    add_capture(&f->cand, "csrf", "\"t-2\"");
    add_capture(&f->base, "sku", "\"A-1\"");
    add_capture(&f->cand, "sku", "\"A-2\"");
    add_header(&f->base, "ETag", "\"v1\"");
    add_header(&f->cand, "ETag", "\"v2\"");
    add_header(&f->base, "X-Build", "7");
    add_header(&f->cand, "X-Build", "8");
    diff(f, cmp, NULL);
    check_list("ignore, document", &f->out, w, COUNT_OF(w));

    /* without the journey's ignore entries every one of them shows */
    diff(f, NULL, NULL);
    assert_int_equal(f->out.total, 2 + 3 + 4); /* captures; meta, h1, p; in the footer 4 */

    make_doc(&f->base, j, "total 3\nGenerated at 10:00:00\nend\n", "text/plain");
    make_doc(&f->cand, j, "total 4\nGenerated at 10:00:01\nend\n", "text/plain");
    diff(f, cmp, NULL);
    check_list("ignore, text", &f->out, w_text, COUNT_OF(w_text));
    tp_journey_free(j);
}

/* Learning from two baseline results: nodes, attributes and texts that differ
 * become noise, and cover what lies below them. */
static void test_learn_nodes(void **state)
{
    static const char *const learned[] = {
        "/html/body/div[@id='ads']/a/text()", "/html/body/div[@id='ads']/a[2]",
        "/html/body/p/text()", "/html/head/meta[@name='nonce']/@content", "header etag"};
    static const struct want w[] = {
        {TP_MM_NODE_CHANGED, "/html/body/h1/text()", "\"Cart\"", "\"Basket\""},
    };
    struct fixture *f = *state;
    struct tp_journey *j = load("{\"name\": \"p\", \"compare\": {\"headers\": [\"ETag\"]},"
                                " \"steps\": [{\"name\": \"a\", \"request\": {\"url\": \"/\"}}]}");
    const struct tp_compare *cmp;

    assert_non_null(j);
    cmp = &j->compare;
    assert_int_equal(cmp->noise, TP_NOISE_ROUNDS);
    make_doc(&f->base, j,
             HTML("<meta name=\"nonce\" content=\"n1\">",
                  "<h1>Cart</h1><p>at 10:00</p><div id=\"ads\"><a>x</a></div>"),
             "text/html");
    make_doc(&f->base2, j,
             HTML("<meta name=\"nonce\" content=\"n2\">",
                  "<h1>Cart</h1><p>at 10:01</p><div id=\"ads\"><a>y</a><a>z</a></div>"),
             "text/html");
    add_header(&f->base, "ETag", "e1");
    add_header(&f->base2, "ETag", "e2");
    assert_int_equal(tp_diff_learn(&f->base, &f->base2, cmp, &f->noise), TP_OK);
    assert_int_equal(f->noise.count, COUNT_OF(learned));
    for (size_t i = 0; i < COUNT_OF(learned); i++)
        assert_true(has_item(&f->noise, learned[i]));

    make_doc(&f->cand, j,
             HTML("<meta name=\"nonce\" content=\"n3\">",
                  "<h1>Basket</h1><p>at 10:02</p><div id=\"ads\"><a>q</a></div>"),
             "text/html");
    add_header(&f->cand, "ETag", "e3");
    diff(f, cmp, &f->noise);
    check_list("after learning nodes", &f->out, w, COUNT_OF(w));

    /* a learned node covers everything below it */
    tp_pathset_clear(&f->noise);
    assert_int_equal(tp_pathset_add(&f->noise, "/html/body/div[@id='ads']"), TP_OK);
    assert_int_equal(tp_pathset_add(&f->noise, "/html/head"), TP_OK);
    assert_int_equal(tp_pathset_add(&f->noise, "/html/body/p"), TP_OK);
    assert_int_equal(tp_pathset_add(&f->noise, "header etag"), TP_OK);
    make_doc(&f->cand, j,
             HTML("<meta name=\"nonce\" content=\"n3\"><title>new</title>",
                  "<h1>Basket</h1><p>at <b>10:02</b></p><div id=\"ads\" class=\"x\">"
                  "<a>q</a><img src=\"/a.png\"></div>"),
             "text/html");
    add_header(&f->cand, "ETag", "e3");
    diff(f, cmp, &f->noise);
    check_list("noise covers subtrees", &f->out, w, COUNT_OF(w));
    tp_journey_free(j);
}

/* The body cache: parsed once, shared with the sources; NULL for other bodies. */
static void test_response_json_cache(void **state)
{
    struct tp_response r;
    json_t *v;
    (void)state;

    memset(&r, 0, sizeof r);
    r.body = dup_str("{\"a\":[1]}");
    r.body_len = strlen(r.body);
    v = tp_response_json(&r);
    assert_non_null(v);
    assert_int_equal(r.json_state, 1);
    assert_ptr_equal(tp_response_json(&r), v);
    tp_response_clear(&r);

    r.body = dup_str("<html></html>");
    r.body_len = strlen(r.body);
    assert_null(tp_response_json(&r));
    assert_int_equal(r.json_state, -1);
    tp_response_clear(&r);
    assert_null(tp_response_json(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_cases),
        cmocka_unit_test(test_json_absent_roots),
        cmocka_unit_test(test_paths_match_jsonpath),
        cmocka_unit_test(test_kind_names),
        cmocka_unit_test(test_long_value_whole),
        cmocka_unit_test(test_keep_cap_counts_the_rest),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_pathset_covers),
        cmocka_unit_test(test_pathset_scales),
        cmocka_unit_test(test_json_skip),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_text_cases),
        cmocka_unit_test(test_text_long_bodies),
        cmocka_unit_test(test_text_bounds),
        cmocka_unit_test_setup_teardown(test_step_equal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step_status_and_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step_no_response_stops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step_assertions_and_captures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step_ignore_from_journey, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step_noise_drops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step_keep_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_learn_then_compare, setup, teardown),
        cmocka_unit_test_setup_teardown(test_learn_text_and_flaky, setup, teardown),
        cmocka_unit_test_setup_teardown(test_doc_cases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_doc_cache_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_doc_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ignore_every_kind, setup, teardown),
        cmocka_unit_test_setup_teardown(test_learn_nodes, setup, teardown),
        cmocka_unit_test(test_response_json_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
