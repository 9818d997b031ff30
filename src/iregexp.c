/* I-Regexp (RFC 9485) to PCRE2: a one-pass translator that follows the RFC's
 * grammar (each function opens with its rule), and the compiled form matched
 * with PCRE2 in UTF mode. */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "twinprobe/iregexp.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/rematch.h"
#include "twinprobe/utf8.h"

/* What an escape sets *cp to for a \p{..} or \P{..} category: no code point. */
#define CATEGORY 0xFFFFFFFFUL

struct tp_iregexp {
    pcre2_code *code;
};

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Emits code point c so that PCRE2 reads it literally, inside or outside a class. */
static int emit_literal(struct tp_strbuf *b, unsigned long c)
{
    char tmp[16];
    if (c < 0x80 && (is_alpha((int)c) || is_digit((int)c))) {
        tmp[0] = (char)c;
        return tp_strbuf_add(b, tmp, 1);
    }
    snprintf(tmp, sizeof tmp, "\\x{%X}", (unsigned)c);
    return tp_strbuf_str(b, tmp);
}

/* IsCategory -> Letters / Marks / Numbers / Punctuation / Separators / Symbols / Others
 * (a major class letter, optionally one of its subclass letters). */
static int is_category(const unsigned char *s, size_t n)
{
    static const char *const classes[] = {"Llmotu", "Mcen",  "Ndlo", "Pcdefios",
                                          "Zlps",   "Sckmo", "Ccfno"};
    size_t i;
    if (n < 1 || n > 2)
        return 0;
    for (i = 0; i < sizeof classes / sizeof classes[0]; i++)
        if (s[0] == (unsigned char)classes[i][0])
            return n == 1 || (s[1] != '\0' && strchr(classes[i] + 1, s[1]) != NULL);
    return 0;
}

/* SingleCharEsc -> "\" ( "(" / ")" / "*" / "+" / "-" / "." / "?" / "[" / "\" / "]"
 *                      / "^" / "n" / "r" / "t" / "{" / "|" / "}" )
 * charClassEsc  -> "\p{" IsCategory "}" / "\P{" IsCategory "}"
 * *i is just past the backslash. Sets *cp for a single character, or emits the
 * category escape into out and sets *cp to CATEGORY. Returns 0, 1 if invalid,
 * -1 when out of memory. */
static int regex_escape(const unsigned char *s, size_t len, size_t *i, struct tp_strbuf *out,
                        unsigned long *cp)
{
    size_t start;
    int c;
    if (*i >= len)
        return 1;
    c = s[(*i)++];
    if (c == 'n' || c == 'r' || c == 't') {
        *cp = c == 'n' ? '\n' : c == 'r' ? '\r' : '\t';
        return 0;
    }
    if (c != 'p' && c != 'P') {
        if (!strchr("()*+-.?[\\]^{|}", c) || c == 0)
            return 1;
        *cp = (unsigned long)c;
        return 0;
    }
    if (*i >= len || s[*i] != '{')
        return 1;
    start = ++*i;
    while (*i < len && s[*i] != '}')
        ++*i;
    if (*i >= len || !is_category(s + start, *i - start))
        return 1;
    ++*i;
    *cp = CATEGORY;
    if (tp_strbuf_str(out, c == 'p' ? "\\p{" : "\\P{") ||
        tp_strbuf_add(out, s + start, *i - start - 1) || tp_strbuf_str(out, "}"))
        return -1;
    return 0;
}

/* CCchar -> any character but "-", "[", "\", "]" / SingleCharEsc; or charClassEsc.
 * Same results as regex_escape. */
static int class_char(const unsigned char *s, size_t len, size_t *i, struct tp_strbuf *out,
                      unsigned long *cp)
{
    size_t n;
    if (*i < len && s[*i] == '\\') {
        ++*i;
        return regex_escape(s, len, i, out, cp);
    }
    n = tp_utf8_next((const char *)s + *i, len - *i, cp);
    if (!n || *cp == '-' || *cp == '[' || *cp == ']')
        return 1;
    *i += n;
    return 0;
}

/* charClassExpr -> "[" [ "^" ] ( "-" / CCE1 ) *CCE1 [ "-" ] "]"
 * CCE1 -> ( CCchar [ "-" CCchar ] ) / charClassEsc
 * *i is just past the "[". */
static int regex_class(const unsigned char *s, size_t len, size_t *i, struct tp_strbuf *out)
{
    int first = 1, r;
    unsigned long lo, hi;
    if (tp_strbuf_str(out, "["))
        return -1;
    if (*i < len && s[*i] == '^') {
        ++*i;
        if (tp_strbuf_str(out, "^"))
            return -1;
    }
    for (;;) {
        if (*i >= len)
            return 1;
        if (s[*i] == ']') {
            if (first)
                return 1;
            ++*i;
            return tp_strbuf_str(out, "]") ? -1 : 0;
        }
        if (s[*i] == '-') {
            if (!first && !(*i + 1 < len && s[*i + 1] == ']'))
                return 1;
            ++*i;
            if (emit_literal(out, '-'))
                return -1;
            first = 0;
            continue;
        }
        first = 0;
        if ((r = class_char(s, len, i, out, &lo)) != 0)
            return r;
        if (lo == CATEGORY)
            continue; /* a category escape, already emitted; cannot start a range */
        if (*i + 1 < len && s[*i] == '-' && s[*i + 1] != ']') {
            ++*i;
            if ((r = class_char(s, len, i, out, &hi)) != 0)
                return r;
            if (hi == CATEGORY)
                return 1;
            if (emit_literal(out, lo) || tp_strbuf_str(out, "-") || emit_literal(out, hi))
                return -1;
        } else if (emit_literal(out, lo)) {
            return -1;
        }
    }
}

/* range-quantifier -> "{" QuantExact [ "," [ QuantExact ] ] "}"
 * *i is just past the "{". */
static int regex_range(const unsigned char *s, size_t len, size_t *i, struct tp_strbuf *out)
{
    size_t start = *i;
    while (*i < len && is_digit(s[*i]))
        ++*i;
    if (*i == start)
        return 1;
    if (*i < len && s[*i] == ',') {
        ++*i;
        while (*i < len && is_digit(s[*i]))
            ++*i;
    }
    if (*i >= len || s[*i] != '}')
        return 1;
    ++*i;
    return tp_strbuf_str(out, "{") || tp_strbuf_add(out, s + start, *i - start) ? -1 : 0;
}

/* i-regexp -> branch *( "|" branch )    branch -> *piece
 * piece -> atom [ quantifier ]          quantifier -> "*" / "+" / "?" / range-quantifier
 * atom -> NormalChar / charClass / "(" i-regexp ")"
 * charClass -> "." / SingleCharEsc / charClassEsc / charClassExpr
 * Groups are counted rather than recursed into. */
int tp_iregexp_translate(const char *re, size_t len, struct tp_strbuf *out)
{
    const unsigned char *s = (const unsigned char *)re;
    size_t i = 0, depth = 0, n;
    int quantifiable = 0, r;
    unsigned long c;
    char tmp[2] = {0, 0};

    while (i < len) {
        if (!(n = tp_utf8_next((const char *)s + i, len - i, &c)))
            return 1;
        i += n;
        switch (c) {
        case '(':
            depth++;
            quantifiable = 0;
            r = tp_strbuf_str(out, "(?:");
            break;
        case ')':
            if (depth == 0)
                return 1;
            depth--;
            quantifiable = 1;
            r = tp_strbuf_str(out, ")");
            break;
        case '|':
            quantifiable = 0;
            r = tp_strbuf_str(out, "|");
            break;
        case '*':
        case '+':
        case '?':
            if (!quantifiable)
                return 1;
            quantifiable = 0;
            tmp[0] = (char)c;
            r = tp_strbuf_str(out, tmp);
            break;
        case '{':
            if (!quantifiable)
                return 1;
            quantifiable = 0;
            r = regex_range(s, len, &i, out);
            break;
        case '.': /* any character but line feed and carriage return */
            quantifiable = 1;
            r = tp_strbuf_str(out, "[^\\n\\r]");
            break;
        case '[':
            quantifiable = 1;
            r = regex_class(s, len, &i, out);
            break;
        case '\\':
            quantifiable = 1;
            r = regex_escape(s, len, &i, out, &c);
            if (r == 0 && c != CATEGORY)
                r = emit_literal(out, c);
            break;
        case ']':
        case '}':
            return 1;
        case '^':
        case '$':
            /* NormalChar by the ABNF, but RFC 9485's own mappings (§5.3, §5.4) and
             * the compliance suite pass them through as anchors; so do we. */
            quantifiable = 1;
            tmp[0] = (char)c;
            r = tp_strbuf_str(out, tmp);
            break;
        default: /* NormalChar */
            quantifiable = 1;
            r = emit_literal(out, c);
            break;
        }
        if (r)
            return r < 0 ? -1 : 1;
    }
    return depth ? 1 : 0;
}

tp_err tp_iregexp_compile(const char *pattern, size_t len, int whole, tp_iregexp **out)
{
    struct tp_strbuf b = {0};
    tp_err rc = TP_ERR_NOMEM;
    int r, errcode;
    PCRE2_SIZE erroff;

    *out = NULL;
    if (tp_strbuf_add(&b, "", 0) || (whole && tp_strbuf_str(&b, "\\A(?:")))
        goto done;
    if ((r = tp_iregexp_translate(pattern, len, &b)) != 0) {
        rc = r < 0 ? TP_ERR_NOMEM : TP_ERR_INVALID;
        goto done;
    }
    if (whole && tp_strbuf_str(&b, ")\\z"))
        goto done;
    *out = malloc(sizeof **out);
    if (!*out)
        goto done;
    /* "$" matches only at the very end, as in ECMAScript, not before a final newline */
    (*out)->code = pcre2_compile((PCRE2_SPTR)b.data, b.len, PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | TP_REGEX_COMPILE_OPTIONS,
                                 &errcode, &erroff, NULL);
    if ((*out)->code) {
        rc = TP_OK;
    } else {
        /* else e.g. a reversed range or a quantifier over 65535 */
        rc = errcode == PCRE2_ERROR_HEAP_FAILED ? TP_ERR_NOMEM : TP_ERR_INVALID;
        free(*out);
        *out = NULL;
    }
done:
    free(b.data);
    return rc;
}

int tp_iregexp_match(const tp_iregexp *re, const char *subject, size_t len,
                     unsigned long *budget)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re->code, NULL);
    int r;

    if (!md)
        return -1;
    r = tp_rematch(re->code, subject, len, md, budget);
    pcre2_match_data_free(md);
    if (r == TP_REMATCH_LIMIT)
        return -2;
    return r == PCRE2_ERROR_NOMEMORY ? -1 : r >= 0; /* else no match, or bad UTF-8 */
}

void tp_iregexp_free(tp_iregexp *re)
{
    if (!re)
        return;
    pcre2_code_free(re->code);
    free(re);
}
