/* Unit tests for src/vars.c: a journey run's name -> text table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "twinprobe/vars.h"

static void test_set_get_replace(void **state)
{
    (void)state;
    tp_vars *v = tp_vars_create();
    assert_non_null(v);
    assert_null(tp_vars_get(v, "sku"));
    assert_int_equal(tp_vars_set(v, "sku", "A-100"), TP_OK);
    assert_int_equal(tp_vars_set(v, "empty", ""), TP_OK);
    assert_string_equal(tp_vars_get(v, "sku"), "A-100");
    assert_string_equal(tp_vars_get(v, "empty"), "");
    assert_int_equal(tp_vars_set(v, "sku", "B-7"), TP_OK);
    assert_string_equal(tp_vars_get(v, "sku"), "B-7");
    assert_null(tp_vars_get(v, "SKU")); /* names are case-sensitive */
    assert_null(tp_vars_get(v, "sk"));
    tp_vars_free(v);
}

static void test_value_is_copied(void **state)
{
    (void)state;
    char buf[16];
    tp_vars *v = tp_vars_create();
    snprintf(buf, sizeof buf, "%s", "first");
    assert_int_equal(tp_vars_set(v, "x", buf), TP_OK);
    snprintf(buf, sizeof buf, "%s", "changed");
    assert_string_equal(tp_vars_get(v, "x"), "first");
    tp_vars_free(v);
}

static void test_many_names_grow(void **state)
{
    (void)state;
    char name[32], value[32];
    tp_vars *v = tp_vars_create();
    for (int i = 0; i < 500; i++) {
        snprintf(name, sizeof name, "v%d", i);
        snprintf(value, sizeof value, "%d", i * 7);
        assert_int_equal(tp_vars_set(v, name, value), TP_OK);
    }
    for (int i = 0; i < 500; i++) {
        snprintf(name, sizeof name, "v%d", i);
        snprintf(value, sizeof value, "%d", i * 7);
        assert_string_equal(tp_vars_get(v, name), value);
    }
    tp_vars_free(v);
}

static void test_null_arguments(void **state)
{
    (void)state;
    tp_vars *v = tp_vars_create();
    assert_int_equal(tp_vars_set(NULL, "a", "b"), TP_ERR_INVALID);
    assert_int_equal(tp_vars_set(v, NULL, "b"), TP_ERR_INVALID);
    assert_int_equal(tp_vars_set(v, "a", NULL), TP_ERR_INVALID);
    assert_null(tp_vars_get(NULL, "a"));
    assert_null(tp_vars_get(v, NULL));
    tp_vars_free(v);
    tp_vars_free(NULL);
}

static void test_sets_are_independent(void **state)
{
    (void)state;
    tp_vars *a = tp_vars_create(), *b = tp_vars_create();
    assert_int_equal(tp_vars_set(a, "csrf", "one"), TP_OK);
    assert_null(tp_vars_get(b, "csrf"));
    assert_int_equal(tp_vars_set(b, "csrf", "two"), TP_OK);
    assert_string_equal(tp_vars_get(a, "csrf"), "one");
    tp_vars_free(a);
    tp_vars_free(b);
}

static void test_order_and_names(void **state)
{
    (void)state;
    tp_vars *v = tp_vars_create();
    assert_int_equal(tp_vars_count(v), 0);
    assert_int_equal(tp_vars_count(NULL), 0);
    assert_int_equal(tp_vars_set(v, "b", "1"), TP_OK);
    assert_int_equal(tp_vars_set(v, "a", "2"), TP_OK);
    assert_int_equal(tp_vars_set(v, "b", "3"), TP_OK); /* keeps its place */
    assert_int_equal(tp_vars_count(v), 2);
    assert_string_equal(tp_vars_name_at(v, 0), "b");
    assert_string_equal(tp_vars_value_at(v, 0), "3");
    assert_string_equal(tp_vars_name_at(v, 1), "a");
    assert_null(tp_vars_name_at(v, 2));
    assert_null(tp_vars_value_at(NULL, 0));
    tp_vars_free(v);

    static const char *const good[] = {"a", "_", "sku", "cart-id", "A_9"};
    static const char *const bad[] = {"", "9a", "-a", "a.b", "a b", "é"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(tp_vars_valid_name(good[i]));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(tp_vars_valid_name(bad[i]));
}

/* --variable NAME=VALUE */
static void test_assign(void **state)
{
    static const struct {
        const char *arg;
        tp_err rc;
        const char *name, *value; /* set on TP_OK; else value is the message */
    } cases[] = {
        {"host=shop.test", TP_OK, "host", "shop.test"},
        {"q=a=b", TP_OK, "q", "a=b"},
        {"empty=", TP_OK, "empty", ""},
        {"t={{not expanded}}", TP_OK, "t", "{{not expanded}}"},
        {"noequals", TP_ERR_INVALID, NULL, "expected NAME=VALUE, got \"noequals\""},
        {"=v", TP_ERR_INVALID, NULL, "expected NAME=VALUE, got no name before '='"},
        {"a.b=1", TP_ERR_INVALID, NULL, "\"a.b\" is not a variable name"},
        {"9=1", TP_ERR_INVALID, NULL, "\"9\" is not a variable name"},
        {"uuid=1", TP_ERR_INVALID, NULL,
         "\"uuid\" is a built-in placeholder, which a variable cannot replace"},
        {"target=x", TP_ERR_INVALID, NULL, "\"target\" is a built-in placeholder"},
    };
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tp_vars *v = tp_vars_create();
        struct tp_error err;
        tp_error_clear(&err);
        assert_int_equal(tp_vars_assign(v, cases[i].arg, &err), cases[i].rc);
        if (cases[i].rc == TP_OK) {
            assert_string_equal(tp_vars_get(v, cases[i].name), cases[i].value);
        } else {
            assert_int_equal(tp_vars_count(v), 0);
            if (!strstr(err.text, cases[i].value))
                fail_msg("%s: got \"%s\"", cases[i].arg, err.text);
        }
        tp_vars_free(v);
    }
}

/* --variables-file: NAME=VALUE lines */
static void test_assign_lines(void **state)
{
    static const char text[] = "# shop settings\n"
                               "\n"
                               "host=shop.test\r\n"
                               "  user = ann  \n"
                               "\t# indented comment\n"
                               "json={\"a\": 1}\n"
                               "host=again\n"
                               "last=no newline";
    tp_vars *v = tp_vars_create();
    struct tp_error err;
    (void)state;

    tp_error_clear(&err);
    assert_int_equal(tp_vars_assign_lines(v, text, strlen(text), &err), TP_OK);
    assert_int_equal(tp_vars_count(v), 4);
    assert_string_equal(tp_vars_get(v, "host"), "again");  /* the later line wins */
    assert_string_equal(tp_vars_get(v, "user"), " ann  "); /* the value as written */
    assert_string_equal(tp_vars_get(v, "json"), "{\"a\": 1}");
    assert_string_equal(tp_vars_get(v, "last"), "no newline");
    assert_int_equal(tp_vars_assign_lines(v, "", 0, &err), TP_OK);
    tp_vars_free(v);

    static const struct {
        const char *text;
        size_t len; /* 0: strlen */
        int line;
        const char *msg;
    } bad[] = {
        {"a=1\nb 2\n", 0, 2, "expected NAME=VALUE, got \"b 2\""},
        {"a=1\n\n# x\n9x=1\n", 0, 4, "\"9x\" is not a variable name"},
        {"a=1\n=1", 0, 2, "no name before '='"},
        {"a=1\nb=\0\n", 8, 2, "a NUL byte"},
        {"x y=1", 0, 1, "\"x y\" is not a variable name"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len = bad[i].len ? bad[i].len : strlen(bad[i].text);
        v = tp_vars_create();
        tp_error_clear(&err);
        assert_int_equal(tp_vars_assign_lines(v, bad[i].text, len, &err), TP_ERR_INVALID);
        assert_int_equal(err.line, bad[i].line);
        if (!strstr(err.text, bad[i].msg))
            fail_msg("case %zu: got \"%s\"", i, err.text);
        tp_vars_free(v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_get_replace),      cmocka_unit_test(test_value_is_copied),
        cmocka_unit_test(test_many_names_grow),      cmocka_unit_test(test_null_arguments),
        cmocka_unit_test(test_sets_are_independent), cmocka_unit_test(test_order_and_names),
        cmocka_unit_test(test_assign),               cmocka_unit_test(test_assign_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
