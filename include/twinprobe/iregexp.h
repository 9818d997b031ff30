/* I-Regexp (RFC 9485), the interoperable regular expressions of JSONPath's match()
 * and search(): checked against RFC 9485's grammar, translated to PCRE2 syntax and
 * compiled once, then matched against strings. No I/O. */
#ifndef TWINPROBE_IREGEXP_H
#define TWINPROBE_IREGEXP_H

#include <stddef.h>

#include "twinprobe/error.h"
#include "twinprobe/strbuf.h"

typedef struct tp_iregexp tp_iregexp; /* a compiled I-Regexp (opaque) */

/* Appends to out the PCRE2 (UTF mode) form of the len bytes of re: "." becomes
 * "[^\n\r]", groups become non-capturing, every other character but the anchors
 * "^" and "$" a literal, \p{..} and \P{..} categories stay. Groups are counted,
 * not recursed into, so a hostile pattern cannot exhaust the stack; the work is
 * linear in len. Returns 0, 1 when re is not an I-Regexp (invalid UTF-8
 * included), -1 when out of memory; out may then hold a partial translation. */
int tp_iregexp_translate(const char *re, size_t len, struct tp_strbuf *out);

/* Compiles the len bytes of pattern (which need not be NUL-terminated) for
 * match() when whole is nonzero (the whole subject must match), else for
 * search() (some substring must). "$" matches only at the very end, not before a
 * final newline. On TP_OK *out is new (free with tp_iregexp_free). TP_ERR_INVALID
 * when pattern is not an I-Regexp or PCRE2 refuses its translation (a reversed
 * range, a quantifier over 65535); TP_ERR_NOMEM when out of memory; *out is then
 * NULL. No message: callers turn these into their own results. */
tp_err tp_iregexp_compile(const char *pattern, size_t len, int whole, tp_iregexp **out);

/* Matches the len bytes of subject (NULs allowed) against re (borrowed), taking
 * its steps from *budget (rematch.h: one budget for all the calls of one query
 * evaluation). Returns 1 on a match, 0 on none or on a subject that is not valid
 * UTF-8, -2 when the match went past the bounds of rematch.h (the budget, the
 * subject cap, PCRE2's limits), -1 when out of memory. */
int tp_iregexp_match(const tp_iregexp *re, const char *subject, size_t len,
                     unsigned long *budget);

/* Frees re; NULL is a no-op. */
void tp_iregexp_free(tp_iregexp *re);

#endif
