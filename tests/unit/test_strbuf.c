/* Growable strings: appends keep the NUL, bytes with NULs, cut, many appends,
 * formatted appends, free. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

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

/* clang-format off */
static const struct addf_case {
    const char *before; /* already in the buffer, or NULL for an empty one */
    const char *want;   /* after appending the case's formatted text */
} addf_cases[] = {
    {NULL, "step 3 of 12: login"},
    {"", "step 3 of 12: login"},
    {"[", "[step 3 of 12: login"},
};
/* clang-format on */

static void test_addf(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof addf_cases / sizeof addf_cases[0]; i++) {
        struct tp_strbuf b = {0};
        if (addf_cases[i].before)
            assert_int_equal(tp_strbuf_str(&b, addf_cases[i].before), 0);
        assert_int_equal(tp_strbuf_addf(&b, "step %d of %zu: %s", 3, (size_t)12, "login"), 0);
        assert_string_equal(b.data, addf_cases[i].want);
        assert_int_equal(b.len, strlen(addf_cases[i].want));
        tp_strbuf_free(&b);
    }
}

static void test_addf_long_and_empty(void **state)
{
    struct tp_strbuf b = {0};
    (void)state;
    assert_int_equal(tp_strbuf_addf(&b, "%s", ""), 0); /* nothing, but terminated */
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    assert_int_equal(tp_strbuf_addf(&b, "%5000d|", 7), 0); /* past any first capacity */
    assert_int_equal(b.len, 5001);
    assert_int_equal(b.data[4999], '7');
    assert_int_equal(b.data[5000], '|');
    assert_int_equal(b.data[5001], '\0');
    tp_strbuf_free(&b);
}

/* A wide character the C locale cannot encode: vsnprintf fails, b is unchanged. */
static void test_addf_failure_leaves_buffer(void **state)
{
    struct tp_strbuf b = {0};
    (void)state;
    assert_int_equal(tp_strbuf_str(&b, "kept"), 0);
    assert_int_equal(tp_strbuf_addf(&b, "x%lcy", (wint_t)0x20ac), -1);
    assert_int_equal(b.len, 4);
    assert_string_equal(b.data, "kept");
    tp_strbuf_free(&b);
}

static void test_free_and_reuse(void **state)
{
    struct tp_strbuf b = {0};
    (void)state;
    tp_strbuf_free(NULL);
    tp_strbuf_free(&b); /* never used: nothing to free */
    assert_int_equal(tp_strbuf_str(&b, "abc"), 0);
    tp_strbuf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    assert_int_equal(tp_strbuf_str(&b, "again"), 0); /* reusable */
    assert_string_equal(b.data, "again");
    tp_strbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_cut),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_cut_empty),
        cmocka_unit_test(test_addf),
        cmocka_unit_test(test_addf_long_and_empty),
        cmocka_unit_test(test_addf_failure_leaves_buffer),
        cmocka_unit_test(test_free_and_reuse),
    };
    return cmocka_run_group_tests_name("strbuf", tests, NULL, NULL);
}
