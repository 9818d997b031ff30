/* Secret masking for every output: a set of secret values (passwords, tokens)
 * and the masked copy of a string, in which every occurrence of any of them,
 * however it was escaped into a body or URL, reads "***". No I/O. */
#ifndef TWINPROBE_MASK_H
#define TWINPROBE_MASK_H

#include "twinprobe/error.h"

/* A set of secret values; every occurrence of any of them in a string is
 * replaced by "***". Values shorter than 1 byte are ignored. */
typedef struct tp_secrets tp_secrets;

tp_secrets *tp_secrets_create(void); /* new, or NULL on no memory */
void tp_secrets_free(tp_secrets *s); /* NULL is a no-op */
/* Adds a copy of value (also its JSON-escaped and percent-encoded forms, so a
 * secret is masked however it was written into a body or URL).
 * TP_ERR_INVALID for a NULL argument, TP_ERR_NOMEM leaves s as it was. */
tp_err tp_secrets_add(tp_secrets *s, const char *value);
/* 1 when s (which may be NULL) holds no secret: masking would change nothing. */
int tp_secrets_none(const tp_secrets *s);

/* Returns a new string with every secret replaced by "***" (longest match first);
 * s may be NULL (then a plain copy). NULL on no memory.
 * Details: every byte inside an occurrence of any secret is hidden; occurrences
 * that overlap or nest become one "***", adjacent ones stay separate. Runs in
 * time linear in strlen(text) (Aho-Corasick). The percent-encoded forms added
 * are upper- and lower-case hex, each with a space as %20 and as '+'. A NULL
 * text gives NULL. */
char *tp_secrets_mask(const tp_secrets *s, const char *text);

#endif
