/* UTF-8 decoding, encoding, repair and cutting (RFC 3629). */
#include "twinprobe/utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */

size_t tp_utf8_next(const char *s, size_t n, unsigned long *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    unsigned long c;
    size_t len, i;

    if (n == 0)
        return 0;
    if (u[0] < 0x80) {
        if (cp)
            *cp = u[0];
        return 1;
    }
    if (u[0] >= 0xC2 && u[0] <= 0xDF) {
        len = 2;
        c = u[0] & 0x1Fu;
    } else if (u[0] >= 0xE0 && u[0] <= 0xEF) {
        len = 3;
        c = u[0] & 0x0Fu;
    } else if (u[0] >= 0xF0 && u[0] <= 0xF4) {
        len = 4;
        c = u[0] & 0x07u;
    } else {
        return 0; /* a continuation byte, an overlong lead (C0, C1) or past F4 */
    }
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        if ((u[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (u[i] & 0x3Fu);
    }
    if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10FFFF)) ||
        (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    if (cp)
        *cp = c;
    return len;
}

size_t tp_utf8_encode(unsigned long c, char *out)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

int tp_utf8_valid(const char *s, size_t len)
{
    for (size_t i = 0, n; i < len; i += n) {
        if ((unsigned char)s[i] < 0x80) {
            n = 1;
            continue;
        }
        if ((n = tp_utf8_next(s + i, len - i, NULL)) == 0)
            return 0;
    }
    return 1;
}

char *tp_utf8_repair(const char *s, size_t len, size_t *outlen)
{
    size_t i, k, bad = 0, w = 0;
    char *fixed;

    if (len == SIZE_MAX)
        return NULL; /* no room for the NUL */
    for (i = 0; i < len; i += k ? k : 1) {
        k = tp_utf8_next(s + i, len - i, NULL);
        bad += k == 0;
    }
    if (bad > (SIZE_MAX - len - 1) / 2)
        return NULL; /* each bad byte grows by 2 (1 byte -> 3) */
    fixed = malloc(len + 2 * bad + 1);
    if (!fixed)
        return NULL;
    for (i = 0; i < len; i += k ? k : 1) {
        k = tp_utf8_next(s + i, len - i, NULL);
        if (k == 0) {
            memcpy(fixed + w, replacement, 3);
            w += 3;
        } else {
            memcpy(fixed + w, s + i, k);
            w += k;
        }
    }
    fixed[w] = '\0';
    if (outlen)
        *outlen = w;
    return fixed;
}

size_t tp_utf8_clip(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = len, cont = 0, need;

    while (i > 0 && cont < 3 && (u[i - 1] & 0xC0) == 0x80) {
        i--;
        cont++;
    }
    if (i == 0 || u[i - 1] < 0xC0)
        return len; /* ends in ASCII, or in bytes that were never a sequence */
    need = u[i - 1] >= 0xF0 ? 4 : u[i - 1] >= 0xE0 ? 3 : 2;
    return cont + 1 < need ? i - 1 : len;
}

int tp_utf8_cut(char **text, size_t max)
{
    static const char ellipsis[] = "\xe2\x80\xa6";
    size_t keep;
    char *cut;

    if (!*text || strlen(*text) <= max)
        return 0;
    keep = tp_utf8_clip(*text, max);
    if (!(cut = malloc(keep + sizeof ellipsis)))
        return -1;
    memcpy(cut, *text, keep);
    memcpy(cut + keep, ellipsis, sizeof ellipsis);
    free(*text);
    *text = cut;
    return 0;
}
