/* A journey run's variables: journey variables and captures, name -> text.
 * One set per journey x target x round; nothing is shared between sets. Also
 * the variables given on the command line (NAME=VALUE, one or a file's lines),
 * parsed here without I/O. */
#ifndef TWINPROBE_VARS_H
#define TWINPROBE_VARS_H

#include <stddef.h>

#include "twinprobe/error.h"

typedef struct tp_vars tp_vars;

tp_vars *tp_vars_create(void);          /* new, or NULL on no memory */
void tp_vars_free(tp_vars *v);          /* NULL is a no-op */

/* Sets name to a copy of value (replacing an earlier value). */
tp_err tp_vars_set(tp_vars *v, const char *name, const char *value);

/* The value (borrowed, valid until the next set of that name), or NULL. */
const char *tp_vars_get(const tp_vars *v, const char *name);

/* How many names v holds (0 for NULL), and the i-th name and value in the order
 * they were first set (borrowed; i < tp_vars_count). */
size_t tp_vars_count(const tp_vars *v);
const char *tp_vars_name_at(const tp_vars *v, size_t i);
const char *tp_vars_value_at(const tp_vars *v, size_t i);

/* 1 when name is a variable or capture name: [A-Za-z_][A-Za-z0-9_-]*. */
int tp_vars_valid_name(const char *name);

/* Sets one "NAME=VALUE" (a --variable argument): VALUE is everything after the
 * first '=', as is. TP_ERR_INVALID with err->text when there is no '=', NAME is
 * not a valid name or is a built-in placeholder (uuid, target, ...); TP_ERR_NOMEM. */
tp_err tp_vars_assign(tp_vars *v, const char *arg, struct tp_error *err);

/* Sets every line of a variables file (len bytes of text): "NAME=VALUE" lines as
 * tp_vars_assign reads them, spaces around NAME dropped, a trailing CR dropped;
 * blank lines and lines whose first non-blank character is '#' skipped. Stops at
 * the first bad line: TP_ERR_INVALID with err->line (1-based) and err->text; a
 * NUL byte is one. Lines before it are set. */
tp_err tp_vars_assign_lines(tp_vars *v, const char *text, size_t len, struct tp_error *err);

#endif
