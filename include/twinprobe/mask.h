/* Secret masking for every output: a set of secret values (passwords, tokens)
 * and masked copies of strings and JSON values, in which every occurrence of
 * any of them, however it was escaped into a body or URL, reads "***". No I/O. */
#ifndef TWINPROBE_MASK_H
#define TWINPROBE_MASK_H

#include <jansson.h>

#include "twinprobe/error.h"

/* Secret values shorter than this many bytes are masked too, but such a value
 * also hides unrelated text that happens to contain it (see tp_secrets_short). */
#define TP_SECRET_MIN_LEN 6

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

/* Replaces *text (malloc'd, taken; NULL: nothing to do) with its masked copy
 * and frees the old one. TP_OK; TP_ERR_NOMEM leaves *text as it was;
 * TP_ERR_INVALID for a NULL text. When s holds no secret (tp_secrets_none)
 * nothing is allocated and *text stays the same pointer. */
tp_err tp_secrets_mask_inplace(const tp_secrets *s, char **text);

/* Like tp_secrets_mask_inplace for a labelled text: "LABEL DATA" ("jsonpath
 * $.a", "header X-Key", "capture csrf"). The label before the first space is
 * twinprobe's own word and stays; the data after it is masked. A text without
 * a space is a bare label ("status", "body") and stays whole. */
tp_err tp_secrets_mask_labelled(const tp_secrets *s, char **text);

/* A deep copy of v (borrowed) masked: a new reference, NULL for a NULL v or on
 * no memory. When s holds no secret it is v itself (json_incref(v)).
 * Details: every string value and every object key is masked as
 * tp_secrets_mask does, NULs included (each NUL-separated piece is masked, the
 * NULs kept); keys that mask alike collide and the later one in v's order wins.
 * A number, true or false whose compact JSON text (json_dumps with
 * JSON_ENCODE_ANY | JSON_COMPACT) holds a secret becomes that text masked, as a
 * string (secret "2": 1234 -> "1***34"); else it is copied. null stays null.
 * Every string in the result is valid UTF-8: a byte that is not (masking a
 * secret that is part of a character, or an input string built unchecked)
 * becomes U+FFFD. Recurses as deep as v is nested (jansson's parser allows
 * JSON_PARSER_MAX_DEPTH, 2048); linear in the size of v's text. */
json_t *tp_secrets_mask_json(const tp_secrets *s, json_t *v);

/* 1 when value is a secret of 1 to TP_SECRET_MIN_LEN - 1 bytes: masking it will
 * also hide unrelated text, so the command should warn. 0 for a longer value, and
 * for NULL or "" (tp_secrets_add ignores an empty value: it masks nothing). Reads
 * at most TP_SECRET_MIN_LEN bytes of value. */
int tp_secrets_short(const char *value);

#endif
