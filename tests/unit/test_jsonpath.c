/* Unit tests for the JSONPath module: every case of the JSONPath Compliance Test
 * Suite (one cmocka test each, named after the case), plus hand-written checks of
 * error reporting, limits, normalized paths and node-list handling.
 * The suite file is TP_SOURCE_DIR/tests/conformance/jsonpath-cts/cts.json, or
 * whatever the environment variable TP_CTS_FILE names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "twinprobe/jsonpath.h"

#ifndef TP_SOURCE_DIR
#define TP_SOURCE_DIR "."
#endif

static json_t *cts_root; /* the loaded suite; test names and states borrow from it */
static char cts_load_error[600];
static size_t cts_total;  /* CTS cases registered */
static size_t cts_passed; /* CTS cases that reached their end */

/* ---- CTS ----------------------------------------------------------------- */

/* 1 if nodes match want (array of values) in order and, when want_paths is an
 * array, the normalized paths too. */
static int nodes_match(const struct tp_jsonpath_nodes *nodes, const json_t *want,
                       const json_t *want_paths)
{
    size_t i;
    if (!json_is_array(want) || json_array_size(want) != nodes->count)
        return 0;
    for (i = 0; i < nodes->count; i++) {
        if (!json_equal(nodes->values[i], json_array_get(want, i)))
            return 0;
        if (want_paths) {
            const char *p = json_string_value(json_array_get(want_paths, i));
            if (!nodes->paths || !nodes->paths[i] || !p || strcmp(p, nodes->paths[i]) != 0)
                return 0;
        }
    }
    return 1;
}

/* Renders nodes as a JSON array of [path, value] pairs for a failure message. */
static char *nodes_dump(const struct tp_jsonpath_nodes *nodes)
{
    json_t *arr = json_array();
    char *s;
    size_t i;
    for (i = 0; i < nodes->count; i++)
        json_array_append_new(
            arr, json_pack("[sO]", nodes->paths ? nodes->paths[i] : "?", nodes->values[i]));
    s = json_dumps(arr, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(arr);
    return s;
}

static void run_cts_case(void **state)
{
    const json_t *tc = *state;
    const json_t *sel = json_object_get(tc, "selector");
    const char *selector = json_string_value(sel);
    json_t *doc = json_object_get(tc, "document");
    struct tp_jsonpath_nodes nodes = {0};
    struct tp_error err;
    tp_jsonpath *q = NULL;
    char msg[2048] = "";
    char *got = NULL;
    tp_err rc;
    size_t i;
    int ok = 0;

    assert_non_null(selector);
    tp_error_clear(&err);
    /* The API takes NUL-terminated text: a selector holding U+0000 (only the two
     * invalid "embedded U+0000" cases) reaches the compiler cut at the NUL, and
     * must be rejected all the same. */
    rc = tp_jsonpath_compile(selector, &q, &err);
    if (json_is_true(json_object_get(tc, "invalid_selector"))) {
        if (rc == TP_OK) {
            tp_jsonpath_free(q);
            fail_msg("accepted invalid selector %s", selector);
        }
        assert_null(q);
        assert_int_equal(rc, TP_ERR_INVALID);
        assert_true(err.text[0] != '\0');
        assert_true(err.column >= 1);
        cts_passed++;
        return;
    }
    if (rc != TP_OK)
        fail_msg("rejected valid selector %s: column %d: %s", selector, err.column, err.text);
    rc = tp_jsonpath_eval(q, doc, 1, &nodes);
    if (rc != TP_OK) {
        tp_jsonpath_free(q);
        tp_jsonpath_nodes_clear(&nodes);
        fail_msg("eval failed: %d", (int)rc);
    }
    if (json_object_get(tc, "result")) {
        ok =
            nodes_match(&nodes, json_object_get(tc, "result"), json_object_get(tc, "result_paths"));
    } else {
        json_t *results = json_object_get(tc, "results");
        json_t *paths = json_object_get(tc, "results_paths");
        for (i = 0; i < json_array_size(results) && !ok; i++)
            ok = nodes_match(&nodes, json_array_get(results, i), json_array_get(paths, i));
    }
    if (!ok) {
        got = nodes_dump(&nodes);
        snprintf(msg, sizeof msg, "selector %s gave %s", selector, got ? got : "?");
        free(got);
    }
    tp_jsonpath_nodes_clear(&nodes);
    tp_jsonpath_free(q);
    if (!ok)
        fail_msg("%s", msg);
    cts_passed++;
}

static void cts_file_loads(void **state)
{
    (void)state;
    if (!cts_root)
        fail_msg("%s", cts_load_error);
    assert_true(cts_total > 0);
}

static int print_cts_count(void **state)
{
    (void)state;
    printf("jsonpath CTS: %zu/%zu passed\n", cts_passed, cts_total);
    return 0;
}

/* ---- hand-written cases ------------------------------------------------------ */

/* Compiles expr expecting failure code at 1-based column col. */
static void expect_error(const char *expr, tp_err code, int col, const char *needle)
{
    struct tp_error err;
    tp_jsonpath *q = (tp_jsonpath *)&err; /* must come back NULL */
    tp_err rc;

    tp_error_clear(&err);
    rc = tp_jsonpath_compile(expr, &q, &err);
    if (rc != code || err.column != col || (needle && !strstr(err.text, needle))) {
        if (rc == TP_OK)
            tp_jsonpath_free(q);
        fail_msg("%s: got rc %d column %d \"%s\", want rc %d column %d \"%s\"", expr, (int)rc,
                 err.column, err.text, (int)code, col, needle ? needle : "");
    }
    assert_null(q);
    assert_string_equal(err.path, expr);
}

static void test_error_columns(void **state)
{
    (void)state;
    expect_error(" $", TP_ERR_INVALID, 1, "'$'");
    expect_error("$ ", TP_ERR_INVALID, 2, "end of the query");
    expect_error("$[?@.a==]", TP_ERR_INVALID, 9, "found ']'");
    expect_error("$.a[0", TP_ERR_INVALID, 6, "end of input");
    expect_error("$[01]", TP_ERR_INVALID, 3, "leading zero");
    expect_error("$[9007199254740992]", TP_ERR_INVALID, 3, "out of range");
    expect_error("$['abc]", TP_ERR_INVALID, 3, "unterminated");
    expect_error("$['\\uD800']", TP_ERR_INVALID, 4, "surrogate");
    /* columns count characters, not bytes: the ☺ is three bytes */
    expect_error("$.☺.&", TP_ERR_INVALID, 5, "member name");
    expect_error("$[?length(@.*)<3]", TP_ERR_INVALID, 11, "argument 1 of length()");
    expect_error("$[?foo(@)]", TP_ERR_INVALID, 4, "unknown function 'foo'");
    expect_error("$[?count(@.*)]", TP_ERR_INVALID, 4, "must be compared");
    expect_error("$[?match(@, 'a')==true]", TP_ERR_INVALID, 4, "cannot be compared");
    expect_error("$[?@.* == 1]", TP_ERR_INVALID, 4, "singular");
    expect_error("$[?true]", TP_ERR_INVALID, 4, "literal");
    expect_error("$[?value(@.a, @.b)==1]", TP_ERR_INVALID, 4, "takes 1 argument");
    expect_error("$[?!@.a == 1]", TP_ERR_INVALID, 8, "!(...)");
    /* a member name with a dash is no shorthand: the message shows the brackets */
    expect_error("$.headers.X-Who", TP_ERR_INVALID, 12,
                 "found '-' (a member name with '-' needs brackets: $.headers['X-Who'])");
    expect_error("$..x-y.z", TP_ERR_INVALID, 5, "needs brackets: $..['x-y'].z)");
    expect_error("$[?@.a-b == 1]", TP_ERR_INVALID, 7, "needs brackets: $[?@['a-b'] == 1])");
    expect_error("$.a -b", TP_ERR_INVALID, 4, "found U+0020");
}

static void test_error_path_truncated(void **state)
{
    char expr[600];
    struct tp_error err;
    tp_jsonpath *q = NULL;

    (void)state;
    memset(expr, 'a', sizeof expr);
    memcpy(expr, "$.", 2);
    expr[sizeof expr - 2] = '&';
    expr[sizeof expr - 1] = '\0';
    tp_error_clear(&err);
    assert_int_equal(tp_jsonpath_compile(expr, &q, &err), TP_ERR_INVALID);
    assert_int_equal(err.column, (int)sizeof expr - 1);
    assert_int_equal(strlen(err.path), sizeof err.path - 1);
    assert_memory_equal(err.path, expr, sizeof err.path - 1);
}

/* "(" * n "@.a" ")" * n inside a filter. */
static tp_err compile_nested(size_t n, struct tp_error *err)
{
    size_t len = 4 + n + 3 + n + 2, i, at = 0;
    char *expr = malloc(len);
    tp_jsonpath *q = NULL;
    tp_err rc;

    assert_non_null(expr);
    memcpy(expr + at, "$[?", 3);
    at += 3;
    for (i = 0; i < n; i++)
        expr[at++] = '(';
    memcpy(expr + at, "@.a", 3);
    at += 3;
    for (i = 0; i < n; i++)
        expr[at++] = ')';
    expr[at++] = ']';
    expr[at] = '\0';
    tp_error_clear(err);
    rc = tp_jsonpath_compile(expr, &q, err);
    tp_jsonpath_free(q);
    free(expr);
    return rc;
}

static void test_depth_limit(void **state)
{
    struct tp_error err;
    (void)state;
    /* the filter itself is one level */
    assert_int_equal(compile_nested(TP_JSONPATH_MAX_DEPTH - 1, &err), TP_OK);
    assert_int_equal(compile_nested(TP_JSONPATH_MAX_DEPTH, &err), TP_ERR_LIMIT);
    assert_non_null(strstr(err.text, "nested"));
    assert_int_equal(compile_nested(100000, &err), TP_ERR_LIMIT);
    /* reported where the first too-deep expression starts, after the 64th "(" */
    assert_int_equal(err.column, 3 + TP_JSONPATH_MAX_DEPTH + 1);
}

static void test_deep_function_nesting(void **state)
{
    struct buf {
        char data[4096];
        size_t len;
    } b = {.len = 0};
    tp_jsonpath *q = NULL;
    struct tp_error err;
    size_t i;

    (void)state;
    b.len = (size_t)snprintf(b.data, sizeof b.data, "$[?");
    for (i = 0; i < 200; i++)
        b.len += (size_t)snprintf(b.data + b.len, sizeof b.data - b.len, "length(");
    b.len += (size_t)snprintf(b.data + b.len, sizeof b.data - b.len, "@");
    for (i = 0; i < 200; i++)
        b.len += (size_t)snprintf(b.data + b.len, sizeof b.data - b.len, ")");
    snprintf(b.data + b.len, sizeof b.data - b.len, "==1]");
    tp_error_clear(&err);
    assert_int_equal(tp_jsonpath_compile(b.data, &q, &err), TP_ERR_LIMIT);
    assert_null(q);
}

/* Evaluates expr against the JSON text doc; returns the compact dump of values. */
static char *eval_dump(const char *expr, const char *doc_text, int want_paths,
                       struct tp_jsonpath_nodes *nodes)
{
    json_error_t jerr;
    json_t *doc = json_loads(doc_text, JSON_DECODE_ANY, &jerr);
    struct tp_error err;
    tp_jsonpath *q = NULL;
    json_t *arr;
    char *s;
    size_t i;

    assert_non_null(doc);
    tp_error_clear(&err);
    if (tp_jsonpath_compile(expr, &q, &err) != TP_OK)
        fail_msg("%s: %s", expr, err.text);
    assert_int_equal(tp_jsonpath_eval(q, doc, want_paths, nodes), TP_OK);
    arr = json_array();
    for (i = 0; i < nodes->count; i++)
        json_array_append(arr, nodes->values[i]);
    s = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    tp_jsonpath_free(q);
    json_decref(doc);
    return s;
}

static void expect_values(const char *expr, const char *doc, const char *want)
{
    struct tp_jsonpath_nodes nodes = {0};
    char *got = eval_dump(expr, doc, 0, &nodes);
    tp_jsonpath_nodes_clear(&nodes);
    if (!got || strcmp(got, want) != 0) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s: got %s, want %s", expr, got ? got : "?", want);
        free(got);
        fail_msg("%s", msg);
    }
    free(got);
}

static void test_semantics(void **state)
{
    (void)state;
    /* numbers compare as numbers across integer and real */
    expect_values("$[?@ == 1]", "[1, 1.0, 1.5, \"1\"]", "[1,1.0]");
    expect_values("$[?@ > 9007199254740991]", "[9007199254740992, 9007199254740991.5, 1e22]",
                  "[9007199254740992,9007199254740992.0,1e22]");
    expect_values("$[?@.a == @.b]", "[{\"a\": [1, {\"x\": 2}], \"b\": [1.0, {\"x\": 2.0}]}]",
                  "[{\"a\":[1,{\"x\":2}],\"b\":[1.0,{\"x\":2.0}]}]");
    /* I-Regexp: "." excludes \n and \r, anything that is not an I-Regexp is false */
    expect_values("$[?match(@, 'a.b')]", "[\"a\\nb\", \"a\\rb\", \"a\\u2028b\", \"axb\"]",
                  "[\"a\u2028b\",\"axb\"]");
    expect_values("$[?search(@, '\\\\d')]", "[\"1\", \"a\"]", "[]");
    expect_values("$[?match(@, 'a**')]", "[\"a\", \"aa\"]", "[]");
    /* "^" and "$" anchor (RFC 9485 §5.4 mapping, as the CTS expects); "$" only at the end */
    expect_values("$[?search(@, 'b$')]", "[\"ab\", \"ab\\n\", \"ba\"]", "[\"ab\"]");
    expect_values("$[?match(@, '[^a-c]+')]", "[\"xx\", \"de\", \"ab\", \"ad\"]", "[\"xx\",\"de\"]");
    expect_values("$[?match(@, 'q|x{2,3}')]", "[\"x\", \"xx\", \"q\", \"xxxx\"]", "[\"xx\",\"q\"]");
    expect_values("$[?match(@.s, @.re)]",
                  "[{\"s\": \"ab\", \"re\": \"a(\"}, {\"s\": \"ab\", "
                  "\"re\": \"a.\"}]",
                  "[{\"s\":\"ab\",\"re\":\"a.\"}]");
    /* length counts characters */
    expect_values("$[?length(@) == 2]", "[\"\\u263a\\u263a\", \"ab\", \"abc\", [1, 2]]",
                  "[\"☺☺\",\"ab\",[1,2]]");
    /* slices, including negative steps */
    expect_values("$[::-2]", "[0, 1, 2, 3, 4]", "[4,2,0]");
    expect_values("$[5:1:-2]", "[0, 1, 2, 3, 4, 5, 6]", "[5,3]");
}

static void test_normalized_paths(void **state)
{
    struct tp_jsonpath_nodes nodes = {0};
    json_t *doc = json_object();
    struct tp_error err;
    tp_jsonpath *q = NULL;

    (void)state;
    json_object_set_new(doc,
                        "a\x0b"
                        "b",
                        json_integer(1));
    json_object_set_new(doc, "'\\", json_integer(2));
    json_object_set_new(doc, "\n\"\x7f", json_integer(3));
    json_object_setn_new(doc, "x\0y", 3, json_pack("[i,i]", 4, 5));
    tp_error_clear(&err);
    assert_int_equal(tp_jsonpath_compile("$..*", &q, &err), TP_OK);
    assert_int_equal(tp_jsonpath_eval(q, doc, 1, &nodes), TP_OK);
    assert_int_equal(nodes.count, 6);
    assert_string_equal(nodes.paths[0], "$['a\\u000bb']");
    assert_string_equal(nodes.paths[1], "$['\\'\\\\']");
    assert_string_equal(nodes.paths[2], "$['\\n\"\x7f']");
    assert_string_equal(nodes.paths[3], "$['x\\u0000y']");
    assert_string_equal(nodes.paths[4], "$['x\\u0000y'][0]");
    assert_string_equal(nodes.paths[5], "$['x\\u0000y'][1]");
    tp_jsonpath_nodes_clear(&nodes);
    tp_jsonpath_free(q);

    /* a name with an escaped NUL selects the key holding one */
    assert_int_equal(tp_jsonpath_compile("$['x\\u0000y'][-1]", &q, &err), TP_OK);
    assert_int_equal(tp_jsonpath_eval(q, doc, 1, &nodes), TP_OK);
    assert_int_equal(nodes.count, 1);
    assert_int_equal(json_integer_value(nodes.values[0]), 5);
    assert_string_equal(nodes.paths[0], "$['x\\u0000y'][1]");
    tp_jsonpath_nodes_clear(&nodes);
    tp_jsonpath_free(q);
    json_decref(doc);
}

static void test_nodes_clear(void **state)
{
    struct tp_jsonpath_nodes nodes = {0};
    json_t *doc = json_pack("{s:[i,i,i]}", "a", 1, 2, 3);
    struct tp_error err;
    tp_jsonpath *q = NULL;
    size_t i;

    (void)state;
    tp_jsonpath_nodes_clear(NULL);   /* no-op */
    tp_jsonpath_nodes_clear(&nodes); /* clearing an empty list is fine */
    tp_error_clear(&err);
    assert_int_equal(tp_jsonpath_compile("$.a[*]", &q, &err), TP_OK);
    assert_string_equal(tp_jsonpath_source(q), "$.a[*]");

    /* without paths: no path array at all */
    assert_int_equal(tp_jsonpath_eval(q, doc, 0, &nodes), TP_OK);
    assert_int_equal(nodes.count, 3);
    assert_null(nodes.paths);
    /* appending with paths keeps the earlier entries, with NULL paths */
    assert_int_equal(tp_jsonpath_eval(q, doc, 1, &nodes), TP_OK);
    assert_int_equal(nodes.count, 6);
    assert_non_null(nodes.paths);
    for (i = 0; i < 3; i++)
        assert_null(nodes.paths[i]);
    assert_string_equal(nodes.paths[3], "$['a'][0]");
    assert_string_equal(nodes.paths[5], "$['a'][2]");
    assert_ptr_equal(nodes.values[4], json_array_get(json_object_get(doc, "a"), 1));

    tp_jsonpath_nodes_clear(&nodes);
    assert_null(nodes.values);
    assert_null(nodes.paths);
    assert_int_equal(nodes.count, 0);
    assert_int_equal(nodes.cap, 0);
    tp_jsonpath_nodes_clear(&nodes); /* twice is fine */

    /* a cleared list is reusable */
    assert_int_equal(tp_jsonpath_eval(q, doc, 1, &nodes), TP_OK);
    assert_int_equal(nodes.count, 3);
    assert_string_equal(nodes.paths[0], "$['a'][0]");
    tp_jsonpath_nodes_clear(&nodes);

    tp_jsonpath_free(q);
    tp_jsonpath_free(NULL);
    json_decref(doc);
}

/* ---- runner --------------------------------------------------------------------- */

static const struct CMUnitTest hand_tests[] = {
    cmocka_unit_test(cts_file_loads),
    cmocka_unit_test(test_error_columns),
    cmocka_unit_test(test_error_path_truncated),
    cmocka_unit_test(test_depth_limit),
    cmocka_unit_test(test_deep_function_nesting),
    cmocka_unit_test(test_semantics),
    cmocka_unit_test(test_normalized_paths),
    cmocka_unit_test(test_nodes_clear),
};

static void load_cts(void)
{
    const char *file = getenv("TP_CTS_FILE");
    json_error_t jerr;
    json_t *tests;

    if (!file || !*file)
        file = TP_SOURCE_DIR "/tests/conformance/jsonpath-cts/cts.json";
    cts_root = json_load_file(file, JSON_ALLOW_NUL, &jerr);
    if (!cts_root) {
        snprintf(cts_load_error, sizeof cts_load_error, "%s:%d: %s", file, jerr.line, jerr.text);
        return;
    }
    tests = json_object_get(cts_root, "tests");
    if (!json_is_array(tests)) {
        snprintf(cts_load_error, sizeof cts_load_error, "%s: no \"tests\" array", file);
        json_decref(cts_root);
        cts_root = NULL;
        return;
    }
    cts_total = json_array_size(tests);
}

int main(void)
{
    size_t nhand = sizeof hand_tests / sizeof hand_tests[0], i;
    struct CMUnitTest *tests;
    json_t *cases;
    int failed;

    load_cts();
    tests = calloc(nhand + cts_total, sizeof *tests);
    if (!tests) {
        json_decref(cts_root);
        return 1;
    }
    memcpy(tests, hand_tests, sizeof hand_tests);
    cases = json_object_get(cts_root, "tests");
    for (i = 0; i < cts_total; i++) {
        json_t *tc = json_array_get(cases, i);
        const char *name = json_string_value(json_object_get(tc, "name"));
        tests[nhand + i].name = name ? name : "(unnamed CTS case)";
        tests[nhand + i].test_func = run_cts_case;
        tests[nhand + i].initial_state = tc;
    }
    failed = _cmocka_run_group_tests("jsonpath", tests, nhand + cts_total, NULL, print_cts_count);
    free(tests);
    json_decref(cts_root);
    return failed;
}
