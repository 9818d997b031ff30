/* Unit tests for src/iregexp.c: what RFC 9485 accepts and refuses, the PCRE2 text
 * it becomes, and match() / search() semantics of the compiled form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "twinprobe/iregexp.h"
#include "twinprobe/rematch.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- translation ----------------------------------------------------------- */

/* clang-format off */
static const struct translate_case {
    const char *re;
    const char *want; /* PCRE2 text; NULL: not an I-Regexp */
} translate_cases[] = {
    {"abc",           "abc"},
    {"a.b",           "a[^\\n\\r]b"},
    {"(a|b)*",        "(?:a|b)*"},
    {"x{2,3}",        "x{2,3}"},
    {"x{2,}",         "x{2,}"},
    {"[^a-c]+",       "[^a-c]+"},
    {"[-a]",          "[\\x{2D}a]"},
    {"\\d",           NULL},                 /* not an I-Regexp escape */
    {"\\p{Lu}\\P{N}", "\\p{Lu}\\P{N}"},
    {"[\\p{L}x]",     "[\\p{L}x]"},
    {"\\p{Xx}",       NULL},
    {"\\.\\n",        "\\x{2E}\\x{A}"},
    {"\xc3\xa9",      "\\x{E9}"},
    {"^a$",           "^a$"},
    {"a**",           NULL},
    {"*a",            NULL},
    {"(a",            NULL},
    {"a)",            NULL},
    {"]",             NULL},
    {"[]",            NULL},
    {"[a-\\p{L}]",    NULL},
    {"x{,2}",         NULL},
    {"\xff",          NULL},                 /* invalid UTF-8 */
    {"",              ""},
};
/* clang-format on */

static void test_translate(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT_OF(translate_cases); i++) {
        const struct translate_case *c = &translate_cases[i];
        struct tp_strbuf b = {0};
        int r;

        assert_int_equal(tp_strbuf_add(&b, "", 0), 0);
        r = tp_iregexp_translate(c->re, strlen(c->re), &b);
        if (r != (c->want ? 0 : 1) || (c->want && strcmp(b.data, c->want) != 0))
            print_message("case \"%s\": %d \"%s\"\n", c->re, r, b.data);
        assert_int_equal(r, c->want ? 0 : 1);
        if (c->want)
            assert_string_equal(b.data, c->want);
        free(b.data);
    }
}

/* ---- compile and match ----------------------------------------------------- */

/* clang-format off */
static const struct match_case {
    const char *re;
    int whole;          /* 1: match(), 0: search() */
    const char *subject;
    int want;           /* 1 match, 0 none, -1 the pattern does not compile */
} match_cases[] = {
    {"a.b",       1, "axb",       1},
    {"a.b",       1, "a\nb",      0},
    {"a.b",       1, "a\rb",      0},
    {"a.b",       1, "a\xe2\x80\xa8" "b", 1},  /* U+2028 is not a line break here */
    {"a",         1, "ab",        0},
    {"a",         0, "ab",        1},
    {"b$",        0, "ab\n",      0},          /* "$" only at the very end */
    {"b$",        0, "ab",        1},
    {"q|x{2,3}",  1, "xx",        1},
    {"q|x{2,3}",  1, "xxxx",      0},
    {"\\p{Lu}+",  1, "AB\xc3\x89", 1},
    {"\\p{Lu}+",  1, "Ab",        0},
    {"[z-a]",     1, "a",        -1},          /* PCRE2 refuses a reversed range */
    {"x{70000}",  1, "x",        -1},          /* quantifier over 65535 */
    {"\\d",       0, "1",        -1},
};
/* clang-format on */

static void test_compile_and_match(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT_OF(match_cases); i++) {
        const struct match_case *c = &match_cases[i];
        unsigned long budget = TP_REGEX_BUDGET;
        tp_iregexp *re = (tp_iregexp *)&re; /* must become NULL on failure */
        tp_err rc = tp_iregexp_compile(c->re, strlen(c->re), c->whole, &re);

        if (c->want < 0) {
            assert_int_equal(rc, TP_ERR_INVALID);
            assert_null(re);
            continue;
        }
        assert_int_equal(rc, TP_OK);
        assert_non_null(re);
        if (tp_iregexp_match(re, c->subject, strlen(c->subject), &budget) != c->want)
            print_message("case \"%s\" on \"%s\"\n", c->re, c->subject);
        assert_int_equal(tp_iregexp_match(re, c->subject, strlen(c->subject), &budget), c->want);
        tp_iregexp_free(re);
    }
}

/* The pattern and the subject are counted, not NUL-terminated. */
static void test_lengths_and_nul(void **state)
{
    unsigned long budget = TP_REGEX_BUDGET;
    tp_iregexp *re = NULL;
    (void)state;
    assert_int_equal(tp_iregexp_compile("abXXX", 2, 1, &re), TP_OK);
    assert_int_equal(tp_iregexp_match(re, "abc", 2, &budget), 1);
    assert_int_equal(tp_iregexp_match(re, "abc", 3, &budget), 0);
    tp_iregexp_free(re);
    assert_int_equal(tp_iregexp_compile("a.b", 3, 1, &re), TP_OK);
    assert_int_equal(tp_iregexp_match(re, "a\0b", 3, &budget), 1);
    tp_iregexp_free(re);
    tp_iregexp_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_translate),
        cmocka_unit_test(test_compile_and_match),
        cmocka_unit_test(test_lengths_and_nul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
