/* Escaping a value for where it is written: inside a JSON string, or
 * percent-encoded in a URL or form. Appends to a struct tp_strbuf; no I/O. */
#ifndef TWINPROBE_ESCAPE_H
#define TWINPROBE_ESCAPE_H

#include <stddef.h>

#include "twinprobe/strbuf.h"

/* Appends n bytes of s (which may hold NULs) as they go between the quotes of a
 * JSON string: '"' and '\\' backslashed, \b \f \n \r \t, the other bytes below
 * 0x20 as \u00XX (lower-case hex); everything else (UTF-8 included) as is.
 * Returns 0, or -1 when out of memory (then b holds what it held before). */
int tp_escape_json(struct tp_strbuf *b, const char *s, size_t n);

/* Flags for tp_escape_url, or-ed. */
enum tp_escape_url_flags {
    TP_ESCAPE_HEX_LOWER = 1 << 0, /* %c3 rather than %C3 */
    TP_ESCAPE_SPACE_PLUS = 1 << 1 /* a space as '+' (form encoding) rather than %20 */
};

/* Appends n bytes of s (which may hold NULs) percent-encoded: RFC 3986
 * unreserved bytes (A-Z a-z 0-9 - . _ ~) as is, every other byte as %XX, upper-
 * case hex unless flags say otherwise. Returns 0, or -1 when out of memory (then
 * b holds what it held before). */
int tp_escape_url(struct tp_strbuf *b, const char *s, size_t n, unsigned flags);

#endif
