/* A journey run's variables: journey variables and captures, name -> text.
 * One set per journey x target x round; nothing is shared between sets. */
#ifndef TWINPROBE_VARS_H
#define TWINPROBE_VARS_H

#include "twinprobe/error.h"

typedef struct tp_vars tp_vars;

tp_vars *tp_vars_create(void);          /* new, or NULL on no memory */
void tp_vars_free(tp_vars *v);          /* NULL is a no-op */

/* Sets name to a copy of value (replacing an earlier value). */
tp_err tp_vars_set(tp_vars *v, const char *name, const char *value);

/* The value (borrowed, valid until the next set of that name), or NULL. */
const char *tp_vars_get(const tp_vars *v, const char *name);

#endif
