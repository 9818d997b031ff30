/* JSON-string and percent escaping: one loop that copies runs of bytes needing
 * no escape in one append, and a function per form that escapes one byte. */
#include "twinprobe/escape.h"

static const char hex_upper[] = "0123456789ABCDEF";
static const char hex_lower[] = "0123456789abcdef";

/* The JSON escape of c into out: its length, or 0 when c goes as is. */
static size_t json_byte(unsigned char c, unsigned flags, char out[6])
{
    static const char short_escape[0x20] = {
        ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't',
    };

    (void)flags;
    if (c >= 0x20 && c != '"' && c != '\\')
        return 0;
    out[0] = '\\';
    if (c == '"' || c == '\\' || short_escape[c]) {
        out[1] = c < 0x20 ? short_escape[c] : (char)c;
        return 2;
    }
    out[1] = 'u';
    out[2] = '0';
    out[3] = '0';
    out[4] = hex_lower[c >> 4];
    out[5] = hex_lower[c & 0xf];
    return 6;
}

/* The percent-encoding of c into out: its length, or 0 for an unreserved byte. */
static size_t url_byte(unsigned char c, unsigned flags, char out[6])
{
    const char *hex = flags & TP_ESCAPE_HEX_LOWER ? hex_lower : hex_upper;

    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~')
        return 0;
    if (c == ' ' && (flags & TP_ESCAPE_SPACE_PLUS)) {
        out[0] = '+';
        return 1;
    }
    out[0] = '%';
    out[1] = hex[c >> 4];
    out[2] = hex[c & 0xf];
    return 3;
}

/* Appends s[0..n) with each byte that escape_byte escapes replaced by its escape;
 * on failure b is cut back to where it was. */
static int escape_bytes(struct tp_strbuf *b, const char *s, size_t n, unsigned flags,
                        size_t (*escape_byte)(unsigned char, unsigned, char[6]))
{
    size_t start = b->len, run = 0, i;
    int rc = 0;

    for (i = 0; !rc && i < n; i++) {
        char esc[6];
        size_t len = escape_byte((unsigned char)s[i], flags, esc);

        if (!len)
            continue;
        rc = tp_strbuf_add(b, s + run, i - run);
        if (!rc)
            rc = tp_strbuf_add(b, esc, len);
        run = i + 1;
    }
    if (!rc)
        rc = tp_strbuf_add(b, s + run, n - run);
    if (rc)
        tp_strbuf_cut(b, start);
    return rc;
}

int tp_escape_json(struct tp_strbuf *b, const char *s, size_t n)
{
    return escape_bytes(b, s, n, 0, json_byte);
}

int tp_escape_url(struct tp_strbuf *b, const char *s, size_t n, unsigned flags)
{
    return escape_bytes(b, s, n, flags, url_byte);
}
