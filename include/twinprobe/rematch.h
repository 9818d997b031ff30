/* Bounded PCRE2 matching: every regex twinprobe runs over response data (regex
 * sources, the `matches` predicate, compare.ignore's /regex/ lines, JSONPath's
 * match() and search()) goes through tp_rematch, so a hostile body or pattern
 * costs at most the bounds below (STYLE 14). No I/O. */
#ifndef TWINPROBE_REMATCH_H
#define TWINPROBE_REMATCH_H

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>
#include <stddef.h>

/* The bounds, for one evaluation (one regex source, one `matches` check, one
 * JSONPath match()/search() call, all the ignore lines of one tp_diff_step):
 *   TP_REGEX_BUDGET       pattern steps (PCRE2 auto-callouts, one per item tried)
 *                         across every start position together. PCRE2's own
 *                         match limit counts per start position, so (a+)+$ on
 *                         20 KB of "aaa...a!" runs would cost positions x limit;
 *                         the budget is what makes the whole search bounded
 *                         (about half a second of CPU at most: simple patterns
 *                         run about 60 million steps a second).
 *   TP_REGEX_MATCH_LIMIT  PCRE2 match limit (per start position), and
 *   TP_REGEX_DEPTH_LIMIT  backtracking depth, and
 *   TP_REGEX_HEAP_KIB     the heap PCRE2 may use for backtracking;
 *   TP_REGEX_MAX_SUBJECT  bytes of subject: a longer one is refused unread.
 * Past any of them the evaluation ends with TP_REMATCH_LIMIT: the step fails
 * with the class too_expensive. Patterns must be compiled with
 * TP_REGEX_COMPILE_OPTIONS in their options (tp_regex_compile and
 * tp_iregexp_compile do), or the budget is not counted. */
#define TP_REGEX_BUDGET 30000000UL
#define TP_REGEX_MATCH_LIMIT 10000000u
#define TP_REGEX_DEPTH_LIMIT 1000000u
#define TP_REGEX_HEAP_KIB 65536u
#define TP_REGEX_MAX_SUBJECT (4u << 20)
#define TP_REGEX_COMPILE_OPTIONS PCRE2_AUTO_CALLOUT

#define TP_REMATCH_LIMIT (-10000) /* a bound above was reached */

/* Matches subject (len bytes, NULs allowed) against code from offset 0 into md
 * (borrowed, from pcre2_match_data_create_from_pattern), taking the steps it
 * uses from *budget (start from TP_REGEX_BUDGET; pass the same counter to every
 * match of one evaluation). Returns pcre2_match's result (>= 0 a match,
 * PCRE2_ERROR_NOMATCH none, another negative PCRE2 error: no memory, bad UTF), or
 * TP_REMATCH_LIMIT. */
int tp_rematch(const pcre2_code *code, const char *subject, size_t len, pcre2_match_data *md,
               unsigned long *budget);

#endif
