/* Unit tests for src/check.c: every predicate passing and failing, the messages a
 * person reads, nothing-found values, and expected values expanded from templates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fake_env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/check.h"
#include "twinprobe/vars.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

static enum tp_pred_kind pred_kind(const char *name)
{
    for (int k = TP_PRED_EQUALS; k <= TP_PRED_TYPE; k++)
        if (strcmp(tp_pred_name((enum tp_pred_kind)k), name) == 0)
            return (enum tp_pred_kind)k;
    fail_msg("no predicate %s", name);
    return TP_PRED_EQUALS;
}

/* A predicate as the loader would build it for a literal expected value. */
static void make_pred(struct tp_predicate *p, const char *name, const char *expected_json)
{
    struct tp_error err;
    memset(p, 0, sizeof *p);
    p->kind = pred_kind(name);
    p->expected = json_loads(expected_json, JSON_DECODE_ANY, NULL);
    assert_non_null(p->expected);
    if (p->kind == TP_PRED_MATCHES) {
        tp_error_clear(&err);
        assert_int_equal(tp_regex_compile(json_string_value(p->expected), &p->regex, &err), TP_OK);
    }
}

static void free_pred(struct tp_predicate *p)
{
    if (p->items_tpl) {
        for (size_t i = 0; i < json_array_size(p->expected) + 1; i++)
            tp_template_free(p->items_tpl[i]);
        free(p->items_tpl);
    }
    json_decref(p->expected);
    tp_template_free(p->tpl);
    tp_regex_free(p->regex);
}

/* ---- the table ---------------------------------------------------------- */

struct check_case {
    const char *pred;
    const char *expected; /* JSON text */
    int from_template;
    const char *actual; /* JSON text; NULL: nothing found */
    size_t count;       /* nodes the source found (1 for a single value) */
    int ok;
    const char *msg; /* on failure, exactly */
};

static const struct check_case cases[] = {
    /* equals: JSON equality, numbers by value */
    {"equals", "\"A-100\"", 0, "\"A-100\"", 1, 1, ""},
    {"equals", "\"A-100\"", 0, "\"A-101\"", 1, 0, "expected \"A-100\", got \"A-101\""},
    {"equals", "1", 0, "1.0", 1, 1, ""},
    {"equals", "200", 0, NULL, 0, 0, "expected 200, found nothing"},
    {"equals", "{\"a\": [1, 2]}", 0, "{\"a\": [1, 2.0]}", 1, 1, ""},
    {"equals", "{\"a\": 1}", 0, "{\"a\": 1, \"b\": 2}", 1, 0,
     "expected {\"a\": 1}, got {\"a\": 1, \"b\": 2}"},
    {"equals", "null", 0, "null", 1, 1, ""},
    {"equals", "true", 0, "false", 1, 0, "expected true, got false"},
    {"equals", "2", 0, "\"2\"", 1, 0, "expected 2, got \"2\""},
    {"equals", "9007199254740993", 0, "9007199254740992", 1, 0,
     "expected 9007199254740993, got 9007199254740992"},
    /* not_equals */
    {"not_equals", "\"x\"", 0, "\"y\"", 1, 1, ""},
    {"not_equals", "\"x\"", 0, "\"x\"", 1, 0, "expected not \"x\", got \"x\""},
    {"not_equals", "\"x\"", 0, NULL, 0, 1, ""},
    /* lt le gt ge: numbers, numeric strings read as numbers */
    {"lt", "800", 0, "912.4", 1, 0, "expected < 800, got 912.4"},
    {"lt", "800", 0, "41.5", 1, 1, ""},
    {"le", "800", 0, "800.0", 1, 1, ""},
    {"le", "800", 0, "800.5", 1, 0, "expected <= 800, got 800.5"},
    {"gt", "0", 0, "0", 1, 0, "expected > 0, got 0"},
    {"gt", "10", 0, "\"12.5\"", 1, 1, ""},
    {"gt", "9007199254740992", 0, "9007199254740993", 1, 1, ""},
    {"ge", "0", 0, "0", 1, 1, ""},
    {"ge", "1", 0, "-3", 1, 0, "expected >= 1, got -3"},
    {"lt", "5", 0, "\"abc\"", 1, 0, "expected < 5, got \"abc\""},
    {"lt", "5", 0, "\"0x1\"", 1, 0, "expected < 5, got \"0x1\""},
    {"lt", "5", 0, "true", 1, 0, "expected < 5, got true"},
    {"lt", "800", 0, NULL, 0, 0, "expected < 800, found nothing"},
    {"le", "1", 0, NULL, 0, 0, "expected <= 1, found nothing"},
    {"gt", "1", 0, NULL, 0, 0, "expected > 1, found nothing"},
    {"ge", "1", 0, NULL, 0, 0, "expected >= 1, found nothing"},
    /* contains: substring; array element; object key */
    {"contains", "\"Sign in\"", 0, "\"<h1>Sign in</h1>\"", 1, 1, ""},
    {"contains", "\"Sign up\"", 0, "\"<h1>Sign in</h1>\"", 1, 0,
     "expected to contain \"Sign up\", got \"<h1>Sign in</h1>\""},
    {"contains", "\"\"", 0, "\"\"", 1, 1, ""},
    {"contains", "\"b\"", 0, "[\"a\", \"b\"]", 1, 1, ""},
    {"contains", "\"c\"", 0, "[\"a\", \"b\"]", 1, 0,
     "expected to contain \"c\", got [\"a\", \"b\"]"},
    {"contains", "\"k\"", 0, "{\"k\": 1}", 1, 1, ""},
    {"contains", "\"5\"", 0, "5", 1, 0, "expected to contain \"5\", got 5"},
    {"contains", "\"x\"", 0, NULL, 0, 0, "expected to contain \"x\", found nothing"},
    /* not_contains */
    {"not_contains", "\"error\"", 0, "\"all good\"", 1, 1, ""},
    {"not_contains", "\"error\"", 0, "\"an error\"", 1, 0,
     "expected not to contain \"error\", got \"an error\""},
    {"not_contains", "\"error\"", 0, NULL, 0, 1, ""},
    {"not_contains", "\"5\"", 0, "5", 1, 0, "expected not to contain \"5\", got 5"},
    /* matches: PCRE2 on a string (a number by its text) */
    {"matches", "\"^A-\\\\d+$\"", 0, "\"A-100\"", 1, 1, ""},
    {"matches", "\"^A-\\\\d+$\"", 0, "\"B-1\"", 1, 0, "expected to match /^A-\\d+$/, got \"B-1\""},
    {"matches", "\"^2\"", 0, "204", 1, 1, ""},
    {"matches", "\"x\"", 0, "[\"x\"]", 1, 0, "expected to match /x/, got [\"x\"]"},
    {"matches", "\"x\"", 0, NULL, 0, 0, "expected to match /x/, found nothing"},
    /* exists */
    {"exists", "true", 0, "\"x\"", 1, 1, ""},
    {"exists", "true", 0, "null", 1, 1, ""},
    {"exists", "true", 0, NULL, 0, 0, "expected to exist, found nothing"},
    {"exists", "false", 0, NULL, 0, 1, ""},
    {"exists", "false", 0, "\"x\"", 1, 0, "expected not to exist, got \"x\""},
    /* in */
    {"in", "[302, 303]", 0, "303", 1, 1, ""},
    {"in", "[302, 303]", 0, "500", 1, 0, "expected one of [302, 303], got 500"},
    {"in", "[302, 303]", 0, NULL, 0, 0, "expected one of [302, 303], found nothing"},
    {"in", "[\"a\", 1]", 0, "1.0", 1, 1, ""},
    /* count: nodes, or the size of a single array or object */
    {"count", "2", 0, "\"A-100\"", 2, 1, ""},
    {"count", "3", 0, "[1, 2, 3]", 1, 1, ""},
    {"count", "2", 0, "[1, 2, 3]", 1, 0, "expected count 2, got 3"},
    {"count", "2", 0, "{\"a\": 1, \"b\": 2}", 1, 1, ""},
    {"count", "1", 0, "\"x\"", 1, 1, ""},
    {"count", "0", 0, NULL, 0, 1, ""},
    {"count", "1", 0, NULL, 0, 0, "expected count 1, got 0"},
    /* type */
    {"type", "\"integer\"", 0, "5", 1, 1, ""},
    {"type", "\"integer\"", 0, "5.0", 1, 1, ""},
    {"type", "\"integer\"", 0, "5.5", 1, 0, "expected type integer, got number 5.5"},
    {"type", "\"number\"", 0, "1", 1, 1, ""},
    {"type", "\"string\"", 0, "12", 1, 0, "expected type string, got integer 12"},
    {"type", "\"null\"", 0, "null", 1, 1, ""},
    {"type", "\"array\"", 0, "[]", 1, 1, ""},
    {"type", "\"object\"", 0, "{}", 1, 1, ""},
    {"type", "\"boolean\"", 0, "true", 1, 1, ""},
    {"type", "\"boolean\"", 0, "\"true\"", 1, 0, "expected type boolean, got string \"true\""},
    {"type", "\"string\"", 0, NULL, 0, 0, "expected type string, found nothing"},
    /* expected strings that came from templates meet numbers and booleans */
    {"equals", "\"2\"", 1, "2", 1, 1, ""},
    {"equals", "\"2.50\"", 1, "2.5", 1, 1, ""},
    {"equals", "\"3\"", 1, "2", 1, 0, "expected \"3\", got 2"},
    {"equals", "\"true\"", 1, "true", 1, 1, ""},
    {"equals", "\"2\"", 0, "2", 1, 0, "expected \"2\", got 2"},
    {"not_equals", "\"2\"", 1, "2", 1, 0, "expected not \"2\", got 2"},
    {"in", "[301, \"302\"]", 1, "302", 1, 1, ""},
    {"contains", "\"7\"", 1, "[5, 7]", 1, 1, ""},
};

static int run_case(const struct check_case *c)
{
    struct tp_predicate p;
    struct tp_value actual = {NULL, 0};
    char msg[512];
    int ok;

    make_pred(&p, c->pred, c->expected);
    if (c->actual) {
        actual.value = json_loads(c->actual, JSON_DECODE_ANY, NULL);
        assert_non_null(actual.value);
    }
    actual.count = c->count;
    ok = tp_check(&p, p.expected, c->from_template, &actual, msg, sizeof msg);
    tp_value_clear(&actual);
    free_pred(&p);
    if (ok != c->ok || strcmp(msg, c->msg) != 0) {
        print_message("%s %s on %s: want %d \"%s\", got %d \"%s\"\n", c->pred, c->expected,
                      c->actual ? c->actual : "nothing", c->ok, c->msg, ok, msg);
        return 0;
    }
    return 1;
}

static void test_predicate_table(void **state)
{
    (void)state;
    size_t failed = 0;
    for (size_t i = 0; i < COUNT_OF(cases); i++)
        failed += !run_case(&cases[i]);
    assert_int_equal(failed, 0);
}

/* Every predicate the loader knows has at least one passing and one failing row. */
static void test_every_predicate_covered(void **state)
{
    (void)state;
    for (int k = TP_PRED_EQUALS; k <= TP_PRED_TYPE; k++) {
        const char *name = tp_pred_name((enum tp_pred_kind)k);
        int pass = 0, fail = 0, nothing = 0;
        for (size_t i = 0; i < COUNT_OF(cases); i++) {
            if (strcmp(cases[i].pred, name) != 0)
                continue;
            pass |= cases[i].ok;
            fail |= !cases[i].ok;
            nothing |= cases[i].actual == NULL;
        }
        if (!pass || !fail || !nothing)
            print_message("predicate %s lacks a case\n", name);
        assert_true(pass && fail && nothing);
    }
}

/* ---- long values, small buffers ----------------------------------------- */

/* Values are shown whole up to TP_CHECK_SHOW_MAX bytes (far past any secret:
 * tp_step_result_mask masks, then cuts the message). */
static void test_long_values_are_cut(void **state)
{
    (void)state;
    enum { CUT = TP_CHECK_SHOW_MAX };
    struct tp_predicate p;
    struct tp_value actual = {NULL, 1};
    char *msg = malloc(2 * CUT), *big = malloc(CUT + 800);

    assert_non_null(msg);
    assert_non_null(big);
    memset(big, 'a', CUT + 799);
    big[CUT + 799] = '\0';
    big[CUT - 1] = '\xc3'; /* "é" across the cut: left out whole */
    big[CUT] = '\xa9';
    actual.value = json_string(big);
    assert_non_null(actual.value);
    make_pred(&p, "equals", "\"short\"");
    assert_int_equal(tp_check(&p, p.expected, 0, &actual, msg, 2 * CUT), 0);
    size_t len = strlen(msg);
    assert_true(len > CUT - 10 && len < CUT + 100);
    assert_non_null(strstr(msg, "expected \"short\", got \"aaa"));
    assert_string_equal(msg + len - 5, "a\xe2\x80\xa6\""); /* ends a…" */
    assert_null(strchr(msg, '\xc3'));
    json_t *utf8 = json_stringn(msg, len); /* still UTF-8 */
    assert_non_null(utf8);
    json_decref(utf8);
    /* a 200-byte value is shown whole */
    big[200] = '\0';
    json_decref(actual.value);
    actual.value = json_string(big);
    assert_int_equal(tp_check(&p, p.expected, 0, &actual, msg, 2 * CUT), 0);
    assert_int_equal(strlen(msg), strlen("expected \"short\", got \"\"") + 200);

    /* a long array is cut the same way */
    json_t *arr = json_array();
    for (int i = 0; i < 20000; i++)
        json_array_append_new(arr, json_integer(i));
    json_decref(actual.value);
    actual.value = arr;
    assert_int_equal(tp_check(&p, p.expected, 0, &actual, msg, 2 * CUT), 0);
    len = strlen(msg);
    assert_true(len < CUT + 100);
    assert_string_equal(msg + len - 3, "\xe2\x80\xa6");
    free(msg);
    free(big);

    /* a tiny buffer: truncated, terminated, never inside a character */
    json_decref(actual.value);
    actual.value = json_string("\xc3\xa9\xc3\xa9\xc3\xa9");
    char tiny[17];
    assert_int_equal(tp_check(&p, p.expected, 0, &actual, tiny, sizeof tiny), 0);
    assert_string_equal(tiny, "expected \"short\"");
    char tiny2[27]; /* "expected \"short\", got \"é" + half of the next "é" */
    assert_int_equal(tp_check(&p, p.expected, 0, &actual, tiny2, sizeof tiny2), 0);
    assert_string_equal(tiny2, "expected \"short\", got \"\xc3\xa9");
    assert_int_equal(tp_check(&p, p.expected, 0, &actual, NULL, 0), 0);

    tp_value_clear(&actual);
    free_pred(&p);
}

/* ---- expected values through templates ---------------------------------- */

static void test_expected_from_templates(void **state)
{
    (void)state;
    tp_vars *vars = tp_vars_create();
    struct tp_template_env env = {var_lookup, no_env, four, epoch, vars};
    struct tp_predicate p;
    struct tp_error err;
    struct tp_value actual = {NULL, 1};
    json_t *out;
    char msg[256];
    int from_template;

    assert_int_equal(tp_vars_set(vars, "sku", "A-100"), TP_OK);
    assert_int_equal(tp_vars_set(vars, "qty", "2"), TP_OK);
    assert_int_equal(tp_vars_set(vars, "code", "302"), TP_OK);

    /* "{{sku}}" expands; a string source compares as a string */
    make_pred(&p, "equals", "\"{{sku}}\"");
    assert_int_equal(tp_template_parse("{{sku}}", &p.tpl, &err), TP_OK);
    assert_int_equal(tp_check_expected(&p, &env, &out, &from_template, &err), TP_OK);
    assert_string_equal(json_string_value(out), "A-100");
    assert_int_equal(from_template, 1);
    actual.value = json_string("A-101");
    assert_int_equal(tp_check(&p, out, from_template, &actual, msg, sizeof msg), 0);
    assert_string_equal(msg, "expected \"A-100\", got \"A-101\"");
    tp_value_clear(&actual);
    json_decref(out);
    free_pred(&p);

    /* "{{qty}}" equals the number 2 */
    make_pred(&p, "equals", "\"{{qty}}\"");
    assert_int_equal(tp_template_parse("{{qty}}", &p.tpl, &err), TP_OK);
    assert_int_equal(tp_check_expected(&p, &env, &out, &from_template, &err), TP_OK);
    actual.value = json_integer(2);
    actual.count = 1;
    assert_int_equal(tp_check(&p, out, from_template, &actual, msg, sizeof msg), 1);
    assert_string_equal(msg, "");
    tp_value_clear(&actual);
    json_decref(out);
    free_pred(&p);

    /* a literal string (parsed, no placeholders) is not a template */
    make_pred(&p, "equals", "\"2\"");
    assert_int_equal(tp_template_parse("2", &p.tpl, &err), TP_OK);
    assert_int_equal(tp_check_expected(&p, &env, &out, &from_template, &err), TP_OK);
    assert_int_equal(from_template, 0);
    assert_ptr_equal(out, p.expected);
    json_decref(out);
    free_pred(&p);

    /* in: each element its own template */
    make_pred(&p, "in", "[301, \"{{code}}\"]");
    p.items_tpl = calloc(3, sizeof *p.items_tpl);
    assert_non_null(p.items_tpl);
    assert_int_equal(tp_template_parse("{{code}}", &p.items_tpl[1], &err), TP_OK);
    assert_int_equal(tp_check_expected(&p, &env, &out, &from_template, &err), TP_OK);
    assert_int_equal(from_template, 1);
    json_t *want = json_loads("[301, \"302\"]", 0, NULL);
    assert_true(json_equal(out, want));
    json_decref(want);
    actual.value = json_integer(302);
    assert_int_equal(tp_check(&p, out, from_template, &actual, msg, sizeof msg), 1);
    tp_value_clear(&actual);
    json_decref(out);
    free_pred(&p);

    /* a name that is not defined at run time */
    make_pred(&p, "equals", "\"{{csrf}}\"");
    assert_int_equal(tp_template_parse("{{csrf}}", &p.tpl, &err), TP_OK);
    tp_error_clear(&err);
    out = json_true();
    assert_int_equal(tp_check_expected(&p, &env, &out, &from_template, &err), TP_ERR_INVALID);
    assert_null(out);
    assert_int_equal(from_template, 0);
    assert_non_null(strstr(err.text, "csrf"));
    free_pred(&p);

    /* values without templates come back as they are */
    make_pred(&p, "lt", "800");
    assert_int_equal(tp_check_expected(&p, &env, &out, &from_template, &err), TP_OK);
    assert_int_equal(json_integer_value(out), 800);
    assert_int_equal(from_template, 0);
    json_decref(out);
    free_pred(&p);

    tp_vars_free(vars);
}

/* matches with placeholders: values are matched as literal text (regex-escaped),
 * the pattern compiled for the check; literal text and defaults stay regex. */
static void test_matches_from_templates(void **state)
{
    /* clang-format off */
    static const struct {
        const char *pattern;
        const char *actual;
        int ok;
        const char *expanded; /* the expected value the report shows */
    } mcases[] = {
        {"^{{sku}}$", "\"a.b(c)*\"", 1, "^a\\.b\\(c\\)\\*$"},
        {"^{{sku}}$", "\"aXb(c)\"", 0, "^a\\.b\\(c\\)\\*$"}, /* '.' is no wildcard */
        {"^{{sku}}-[0-9]+$", "\"a.b(c)*-42\"", 1, "^a\\.b\\(c\\)\\*-[0-9]+$"},
        {"^{{nope|[a-z]+}}$", "\"abc\"", 1, "^[a-z]+$"},
        {"{{sku}}", "12", 0, "a\\.b\\(c\\)\\*"},       /* numbers are matched as text */
    };
    /* clang-format on */
    tp_vars *vars = tp_vars_create();
    struct tp_template_env env = {var_lookup, no_env, four, epoch, vars};
    (void)state;

    assert_int_equal(tp_vars_set(vars, "sku", "a.b(c)*"), TP_OK);
    for (size_t i = 0; i < COUNT_OF(mcases); i++) {
        struct tp_predicate p;
        struct tp_error err;
        struct tp_value actual = {json_loads(mcases[i].actual, JSON_DECODE_ANY, NULL), 1};
        json_t *out = NULL;
        int from_template;
        char msg[256];

        memset(&p, 0, sizeof p);
        p.kind = TP_PRED_MATCHES;
        p.expected = json_string(mcases[i].pattern);
        tp_error_clear(&err);
        assert_int_equal(tp_template_parse(mcases[i].pattern, &p.tpl, &err), TP_OK);
        assert_int_equal(tp_check_expected(&p, &env, &out, &from_template, &err), TP_OK);
        assert_string_equal(json_string_value(out), mcases[i].expanded);
        assert_int_equal(tp_check(&p, out, from_template, &actual, msg, sizeof msg), mcases[i].ok);
        tp_value_clear(&actual);
        json_decref(out);
        free_pred(&p);
    }

    /* a default that is no pattern: the check fails and says why */
    {
        struct tp_predicate p;
        struct tp_error err;
        struct tp_value actual = {json_string("x"), 1};
        json_t *out = NULL;
        int from_template;
        char msg[256];

        memset(&p, 0, sizeof p);
        p.kind = TP_PRED_MATCHES;
        p.expected = json_string("{{nope|(}}");
        assert_int_equal(tp_template_parse("{{nope|(}}", &p.tpl, &err), TP_OK);
        assert_int_equal(tp_check_expected(&p, &env, &out, &from_template, &err), TP_OK);
        assert_int_equal(tp_check(&p, out, from_template, &actual, msg, sizeof msg), 0);
        assert_non_null(strstr(msg, "expected to match /(/, got \"x\" (the expanded pattern does "
                                    "not compile: regex does not compile"));
        tp_value_clear(&actual);
        json_decref(out);
        free_pred(&p);
    }
    tp_vars_free(vars);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_predicate_table),
        cmocka_unit_test(test_every_predicate_covered),
        cmocka_unit_test(test_long_values_are_cut),
        cmocka_unit_test(test_expected_from_templates),
        cmocka_unit_test(test_matches_from_templates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
