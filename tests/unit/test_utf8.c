/* Unit tests for src/utf8.c: the decoder against RFC 3629 (ASCII, 2/3/4-byte
 * characters, overlong forms, surrogates, truncation, past U+10FFFF), the
 * encoder round trip, repair of mixed input with explicit lengths (embedded NULs
 * included), and cutting on a character boundary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "twinprobe/utf8.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- tp_utf8_next ---------------------------------------------------------- */

/* clang-format off */
static const struct next_case {
    const char *what;
    const char *s;
    size_t n;          /* bytes available */
    size_t want_len;   /* 0: not well-formed */
    unsigned long cp;  /* when want_len > 0 */
} next_cases[] = {
    {"ASCII",                   "A",                 1, 1, 0x41},
    {"NUL is a character",      "\0x",               2, 1, 0},
    {"DEL",                     "\x7f",              1, 1, 0x7F},
    {"2 bytes, lowest",         "\xc2\x80",          2, 2, 0x80},
    {"2 bytes, e acute",        "\xc3\xa9z",         3, 2, 0xE9},
    {"2 bytes, highest",        "\xdf\xbf",          2, 2, 0x7FF},
    {"3 bytes, lowest",         "\xe0\xa0\x80",      3, 3, 0x800},
    {"3 bytes, euro",           "\xe2\x82\xac",      3, 3, 0x20AC},
    {"3 bytes, before D800",    "\xed\x9f\xbf",      3, 3, 0xD7FF},
    {"3 bytes, after DFFF",     "\xee\x80\x80",      3, 3, 0xE000},
    {"3 bytes, U+FFFD",         "\xef\xbf\xbd",      3, 3, 0xFFFD},
    {"3 bytes, U+FFFF",         "\xef\xbf\xbf",      3, 3, 0xFFFF},
    {"4 bytes, lowest",         "\xf0\x90\x80\x80",  4, 4, 0x10000},
    {"4 bytes, emoji",          "\xf0\x9f\x98\x80",  4, 4, 0x1F600},
    {"4 bytes, U+10FFFF",       "\xf4\x8f\xbf\xbf",  4, 4, 0x10FFFF},
    {"nothing available",       "A",                 0, 0, 0},
    {"stray continuation",      "\x80",              1, 0, 0},
    {"stray continuation BF",   "\xbf",              1, 0, 0},
    {"overlong NUL C0 80",      "\xc0\x80",          2, 0, 0},
    {"overlong C1 BF",          "\xc1\xbf",          2, 0, 0},
    {"overlong 3 bytes",        "\xe0\x9f\xbf",      3, 0, 0},
    {"overlong 3-byte NUL",     "\xe0\x80\x80",      3, 0, 0},
    {"overlong 4 bytes",        "\xf0\x8f\xbf\xbf",  4, 0, 0},
    {"high surrogate D800",     "\xed\xa0\x80",      3, 0, 0},
    {"low surrogate DFFF",      "\xed\xbf\xbf",      3, 0, 0},
    {"above U+10FFFF (F4 90)",  "\xf4\x90\x80\x80",  4, 0, 0},
    {"lead F5",                 "\xf5\x80\x80\x80",  4, 0, 0},
    {"lead FF",                 "\xff",              1, 0, 0},
    {"2 bytes, 1 available",    "\xc3\xa9",          1, 0, 0},
    {"3 bytes, 2 available",    "\xe2\x82\xac",      2, 0, 0},
    {"4 bytes, 3 available",    "\xf0\x9f\x98\x80",  3, 0, 0},
    {"continuation missing",    "\xe2\x41\xac",      3, 0, 0},
    {"third byte not cont.",    "\xe2\x82\x41",      3, 0, 0},
    {"fourth byte not cont.",   "\xf0\x9f\x98\x41",  4, 0, 0},
};
/* clang-format on */

static void test_next(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT_OF(next_cases); i++) {
        const struct next_case *c = &next_cases[i];
        unsigned long cp = 0xDEADUL;
        size_t len = tp_utf8_next(c->s, c->n, &cp);

        if (len != c->want_len || (len && cp != c->cp))
            print_message("case \"%s\": length %zu, code point %#lx\n", c->what, len, cp);
        assert_int_equal(len, c->want_len);
        assert_int_equal(cp, len ? c->cp : 0xDEADUL); /* untouched when not well-formed */
        assert_int_equal(tp_utf8_next(c->s, c->n, NULL), c->want_len);
    }
}

/* Every scalar value encodes to what the decoder reads back, in as many bytes. */
static void test_encode_round_trip(void **state)
{
    (void)state;
    for (unsigned long cp = 0; cp <= 0x10FFFF; cp++) {
        char buf[4];
        unsigned long back = 0;
        size_t n;

        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        n = tp_utf8_encode(cp, buf);
        assert_int_equal(n, cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4);
        assert_int_equal(tp_utf8_next(buf, n, &back), n);
        assert_int_equal(back, cp);
    }
}

/* ---- tp_utf8_repair -------------------------------------------------------- */

#define FFFD "\xef\xbf\xbd"

/* clang-format off */
static const struct repair_case {
    const char *what;
    const char *in;
    size_t len;
    const char *want;
    size_t want_len;
} repair_cases[] = {
    {"empty",                 "",                        0,  "",                      0},
    {"ASCII unchanged",       "plain",                   5,  "plain",                 5},
    {"well-formed unchanged", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14,
                              "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14},
    {"embedded NULs kept",    "a\0b\0",                  4,  "a\0b\0",                4},
    {"NUL then bad byte",     "\0\xff",                  2,  "\0" FFFD,               4},
    {"one bad byte",          "ab\xff" "c",              4,  "ab" FFFD "c",           6},
    {"overlong: each byte",   "a\xc0\x80z",              4,  "a" FFFD FFFD "z",       8},
    {"surrogate: each byte",  "\xed\xa0\x80",            3,  FFFD FFFD FFFD,          9},
    {"past U+10FFFF",         "\xf4\x90\x80\x80",        4,  FFFD FFFD FFFD FFFD,     12},
    {"cut short at the end",  "x\xe2\x82",               3,  "x" FFFD FFFD,           7},
    {"bad lead, good next",   "\xe2\x41\xc3\xa9",        4,  FFFD "A\xc3\xa9",        6},
    {"mixed",                 "\xc3\xa9\xff\0\xe2\x82\xac\x80", 8,
                              "\xc3\xa9" FFFD "\0\xe2\x82\xac" FFFD,     12},
    {"length stops early",    "ok\xc3\xa9",              3,  "ok" FFFD,               5},
};
/* clang-format on */

static void test_repair(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT_OF(repair_cases); i++) {
        const struct repair_case *c = &repair_cases[i];
        size_t n = 12345;
        char *out = tp_utf8_repair(c->in, c->len, &n);

        assert_non_null(out);
        if (n != c->want_len || memcmp(out, c->want, n) != 0)
            print_message("case \"%s\": %zu bytes\n", c->what, n);
        assert_int_equal(n, c->want_len);
        assert_memory_equal(out, c->want, n);
        assert_int_equal(out[n], '\0');
        /* the result is well-formed all through */
        for (size_t k = 0, step; k < n; k += step) {
            step = tp_utf8_next(out + k, n - k, NULL);
            assert_true(step > 0);
        }
        free(out);
        out = tp_utf8_repair(c->in, c->len, NULL); /* outlen is optional */
        assert_non_null(out);
        assert_memory_equal(out, c->want, c->want_len + 1);
        free(out);
    }
}

/* A length with no room for the NUL is refused before a byte is read. */
static void test_repair_overflow(void **state)
{
    (void)state;
    assert_null(tp_utf8_repair("\xff", SIZE_MAX, NULL));
}

/* ---- tp_utf8_clip ---------------------------------------------------------- */

static void test_clip(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t len, want;
    } rows[] = {
        {"abc", 3, 3},
        {"ab\xc3\xa9", 4, 4},
        {"ab\xc3\xa9", 3, 2},
        {"\xe2\x80\xa6", 2, 0},
        {"\xe2\x80\xa6", 1, 0},
        {"x\xf0\x9f\x98\x80", 4, 1},
        {"x\xf0\x9f\x98\x80", 5, 5},
        {"\x80\x80", 2, 2}, /* not a cut sequence: left alone */
        {"", 0, 0},
    };
    for (size_t i = 0; i < COUNT_OF(rows); i++)
        assert_int_equal(tp_utf8_clip(rows[i].s, rows[i].len), rows[i].want);
}

/* Cut after masking: never inside a character, "…" appended, short text kept. */
static void test_cut(void **state)
{
    char *t = strdup("ab\xc3\xa9" "cd"), *null = NULL;
    (void)state;
    assert_int_equal(tp_utf8_cut(&t, 3), 0); /* "ab" + half of é: the é goes */
    assert_string_equal(t, "ab\xe2\x80\xa6");
    assert_int_equal(tp_utf8_cut(&t, 100), 0);
    assert_string_equal(t, "ab\xe2\x80\xa6");
    assert_int_equal(tp_utf8_cut(&null, 1), 0);
    assert_null(null);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_next),
        cmocka_unit_test(test_encode_round_trip),
        cmocka_unit_test(test_repair),
        cmocka_unit_test(test_repair_overflow),
        cmocka_unit_test(test_clip),
        cmocka_unit_test(test_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
