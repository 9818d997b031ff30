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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_get_replace),      cmocka_unit_test(test_value_is_copied),
        cmocka_unit_test(test_many_names_grow),      cmocka_unit_test(test_null_arguments),
        cmocka_unit_test(test_sets_are_independent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
