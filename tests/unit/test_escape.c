/* Unit tests for src/escape.c: JSON-string and percent escaping, table-driven,
 * each case appended after text already in the buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "twinprobe/escape.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* A value (len bytes, may hold NULs) and what it escapes to. */
struct escape_case {
    const char *value;
    size_t len;
    const char *want;
};

/* clang-format off */
#define CASE(value, want) {value, sizeof(value) - 1, want}

static const struct escape_case json_cases[] = {
    CASE("", ""),
    CASE("plain", "plain"),
    CASE("\"", "\\\""),
    CASE("\\", "\\\\"),
    CASE("a\"b\\c", "a\\\"b\\\\c"),
    CASE("\b\f\n\r\t", "\\b\\f\\n\\r\\t"),
    CASE("\x01\x1f\x0b", "\\u0001\\u001f\\u000b"),
    CASE("a\0b", "a\\u0000b"),
    CASE("/ ' \x7f", "/ ' \x7f"),
    CASE("caf\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80"),
    CASE("\xff\xc3", "\xff\xc3"), /* not UTF-8: passed through, not judged */
};

static const struct url_case {
    unsigned flags;
    struct escape_case c;
} url_cases[] = {
    {0, CASE("", "")},
    {0, CASE("AZaz09-._~", "AZaz09-._~")},
    {0, CASE("a b", "a%20b")},
    {0, CASE(":/?#[]@", "%3A%2F%3F%23%5B%5D%40")},
    {0, CASE("!$&'()*+,;=", "%21%24%26%27%28%29%2A%2B%2C%3B%3D")},
    {0, CASE("100%", "100%25")},
    {0, CASE("\"<>\\^`{|}", "%22%3C%3E%5C%5E%60%7B%7C%7D")},
    {0, CASE("\n\x7f", "%0A%7F")},
    {0, CASE("a\0b", "a%00b")},
    {0, CASE("caf\xc3\xa9", "caf%C3%A9")},
    {0, CASE("\xe2\x98\x83", "%E2%98%83")},
    {TP_ESCAPE_HEX_LOWER, CASE("caf\xc3\xa9 /", "caf%c3%a9%20%2f")},
    {TP_ESCAPE_HEX_LOWER, CASE("AZaz09-._~", "AZaz09-._~")},
    {TP_ESCAPE_SPACE_PLUS, CASE("a b+c", "a+b%2Bc")},
    {TP_ESCAPE_SPACE_PLUS, CASE("  ", "++")},
    {TP_ESCAPE_HEX_LOWER | TP_ESCAPE_SPACE_PLUS, CASE("p w&d\xff", "p+w%26d%ff")},
};
/* clang-format on */

/* Escapes into a buffer that already holds "<", then checks all of it. */
static void check(int (*escape)(struct tp_strbuf *, const char *, size_t, unsigned), unsigned flags,
                  const struct escape_case *c)
{
    struct tp_strbuf b = {0};
    size_t want_len = strlen(c->want);

    assert_int_equal(tp_strbuf_str(&b, "<"), 0);
    assert_int_equal(escape(&b, c->value, c->len, flags), 0);
    assert_int_equal(b.len, 1 + want_len);
    assert_memory_equal(b.data, "<", 1);
    if (memcmp(b.data + 1, c->want, want_len) != 0)
        fail_msg("\"%s\": got \"%s\" want \"%s\"", c->value, b.data + 1, c->want);
    assert_int_equal(b.data[b.len], '\0');
    tp_strbuf_free(&b);
}

static int json_with_flags(struct tp_strbuf *b, const char *s, size_t n, unsigned flags)
{
    (void)flags;
    return tp_escape_json(b, s, n);
}

static void test_json(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT_OF(json_cases); i++)
        check(json_with_flags, 0, &json_cases[i]);
}

static void test_url(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT_OF(url_cases); i++)
        check(tp_escape_url, url_cases[i].flags, &url_cases[i].c);
}

/* Every byte value: the JSON form is the byte or a backslash escape, the URL
 * form the byte (unreserved only) or %XX. */
static void test_every_byte(void **state)
{
    (void)state;
    for (unsigned c = 0; c < 256; c++) {
        struct tp_strbuf j = {0}, u = {0};
        char byte = (char)c;
        int unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                         (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';

        assert_int_equal(tp_escape_json(&j, &byte, 1), 0);
        assert_int_equal(tp_escape_url(&u, &byte, 1, 0), 0);
        if (c >= 0x20 && c != '"' && c != '\\')
            assert_int_equal(j.len, 1);
        else
            assert_true(j.data[0] == '\\' && (j.len == 2 || j.len == 6));
        assert_int_equal(u.len, unreserved ? 1 : 3);
        tp_strbuf_free(&j);
        tp_strbuf_free(&u);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_url),
        cmocka_unit_test(test_every_byte),
    };
    return cmocka_run_group_tests_name("escape", tests, NULL, NULL);
}
