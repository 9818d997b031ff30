/* Predicates: does what a source read satisfy an expectation? Pure: values in,
 * a verdict and a message for a person out. */
#ifndef TWINPROBE_CHECK_H
#define TWINPROBE_CHECK_H

#include <jansson.h>
#include <stddef.h>

#include "twinprobe/extract.h"
#include "twinprobe/journey.h"
#include "twinprobe/template.h"

/* The predicate's expected value with its templates expanded through env: a new
 * reference (for `in`, a new array). In a `matches` pattern the substituted
 * values are regex-escaped (TP_ESC_REGEX: a value is matched as literal text),
 * defaults are pattern text as written. *from_template is set when a string came
 * from a template with placeholders (then a number or boolean actual value is
 * compared by its JSON text: {"equals": "{{qty}}"} matches 2 when qty is "2";
 * numbers by value, so "2.50" also matches 2.5). */
tp_err tp_check_expected(const struct tp_predicate *p, const struct tp_template_env *env,
                         json_t **out, int *from_template, struct tp_error *err);

/* Applies predicate p with the expanded expected value to actual. Returns 1 when it
 * holds, 0 when not, -1 when not because `matches` went past the bounds of
 * rematch.h (the step fails too_expensive); then msg says why, in the form DESIGN.md uses:
 * `expected "A-100", got "A-101"`, `expected one of [302, 303], got 500`,
 * `expected < 800, got 912.4`, `expected to exist, found nothing`. Semantics:
 * equals/not_equals: JSON equality (numbers by value: 1 == 1.0); lt/le/gt/ge:
 * numbers (a numeric string is read as a number); contains/not_contains: substring
 * of a string (array: an element equal to expected); matches: p->regex on a
 * string, or, for a pattern with placeholders, expected (the expanded pattern)
 * compiled for this one check (compiling is linear in its length; matching has
 * the limits of tp_regex_search); exists: found or not; in: equals one element;
 * count: actual->count (or the size of a single array/object result); type: JSON
 * type name ("integer" is a number without fraction). Nothing found fails every predicate except
 * exists:false, not_equals and not_contains, and `count`, which sees 0 nodes
 * (`{"jsonpath": "$.errors[*]", "count": 0}` passes on an empty list). Values in
 * msg are compact JSON, cut after TP_CHECK_SHOW_MAX bytes with "…"; msg is "" on success. */
#define TP_CHECK_SHOW_MAX 65536 /* bytes of one value in msg: far past any secret, so
                                   the masking that follows (tp_step_result_mask)
                                   sees secrets whole, and cuts after */
int tp_check(const struct tp_predicate *p, const json_t *expected, int from_template,
             const struct tp_value *actual, char *msg, size_t size);

#endif
