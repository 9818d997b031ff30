/* Growable strings: appends keep the NUL, bytes with NULs, cut, many appends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "twinprobe/strbuf.h"

static void test_append_and_cut(void **state)
{
    struct tp_strbuf b = {0};
    (void)state;
    assert_int_equal(tp_strbuf_str(&b, "$"), 0);
    assert_int_equal(tp_strbuf_str(&b, "['a']"), 0);
    assert_string_equal(b.data, "$['a']");
    assert_int_equal(b.len, 6);
    tp_strbuf_cut(&b, 1);
    assert_string_equal(b.data, "$");
    assert_int_equal(tp_strbuf_add(&b, "x\0y", 3), 0);
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.data, "$x\0y", 5);
    free(b.data);
}

static void test_growth(void **state)
{
    struct tp_strbuf b = {0};
    (void)state;
    for (int i = 0; i < 10000; i++)
        assert_int_equal(tp_strbuf_str(&b, "abc"), 0);
    assert_int_equal(b.len, 30000);
    assert_true(b.cap > b.len);
    assert_int_equal(b.data[b.len], '\0');
    assert_int_equal(tp_strbuf_add(&b, "", SIZE_MAX / 2), -1); /* refused, unchanged */
    assert_int_equal(b.len, 30000);
    free(b.data);
}

static void test_cut_empty(void **state)
{
    struct tp_strbuf b = {0};
    (void)state;
    tp_strbuf_cut(&b, 0); /* no data yet: nothing to terminate */
    assert_null(b.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_cut),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_cut_empty),
    };
    return cmocka_run_group_tests_name("strbuf", tests, NULL, NULL);
}
