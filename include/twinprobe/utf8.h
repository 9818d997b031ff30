/* UTF-8 (RFC 3629) for every module that reads, repairs or cuts text: one decoder,
 * one encoder, one repair and one cut, so that every sink agrees on what a
 * well-formed character is. No I/O, no state. */
#ifndef TWINPROBE_UTF8_H
#define TWINPROBE_UTF8_H

#include <stddef.h>

/* The length (1 to 4) of the well-formed UTF-8 character at s (n bytes
 * available) and, when cp is not NULL, its code point in *cp. 0 when n is 0 or
 * the bytes are not well-formed: a stray continuation byte, a truncated
 * sequence, an overlong form (C0, C1, E0 80..9F, F0 80..8F), a surrogate
 * (U+D800..U+DFFF) or a code point above U+10FFFF; *cp is then untouched.
 * A NUL byte is a character (length 1, code point 0). */
size_t tp_utf8_next(const char *s, size_t n, unsigned long *cp);

/* Writes cp (a Unicode scalar value: at most U+10FFFF, not a surrogate) as UTF-8
 * into out, which has room for 4 bytes; returns the length (1 to 4). */
size_t tp_utf8_encode(unsigned long cp, char *out);

/* A copy of the len bytes at s (which may hold NULs) with each byte that is not
 * part of a well-formed character (tp_utf8_next) replaced by U+FFFD. New string
 * (free with free()), NUL-terminated; its length without that NUL in *outlen
 * when outlen is not NULL. NULL when out of memory or when the length would
 * overflow size_t. */
char *tp_utf8_repair(const char *s, size_t len, size_t *outlen);

/* 1 when the len bytes at s are well-formed UTF-8 throughout (what
 * tp_utf8_repair would leave as it is), else 0. */
int tp_utf8_valid(const char *s, size_t len);

/* The length of the longest prefix of s[0..len) that does not end inside a UTF-8
 * sequence: where to cut a message or value so that it stays valid UTF-8. */
size_t tp_utf8_clip(const char *s, size_t len);

/* Cuts *text (malloc'd, taken; NULL: nothing) to at most max bytes on a
 * character boundary and appends "…" (U+2026), replacing the string. Call it
 * after masking: a cut made before could keep the first bytes of a secret.
 * 0, or -1 on no memory (then *text is unchanged). */
int tp_utf8_cut(char **text, size_t max);

#endif
