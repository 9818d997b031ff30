/* Templates: strings with {{name}}, {{env.NAME}}, {{uuid}}, {{now_ms}},
 * {{random_int}}, {{target}} and {{location}} placeholders, and defaults
 * ({{name|text}}), parsed once at load time and expanded per request. No I/O:
 * the environment and random numbers come in through struct tp_template_env.
 * Secret masking is in mask.h. */
#ifndef TWINPROBE_TEMPLATE_H
#define TWINPROBE_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>

#include "twinprobe/error.h"

enum tp_tpl_kind {
    TP_TPL_TEXT,       /* literal text */
    TP_TPL_VAR,        /* {{name}}: a journey variable or an earlier capture */
    TP_TPL_ENV,        /* {{env.NAME}} */
    TP_TPL_UUID,       /* {{uuid}}: random version-4 UUID */
    TP_TPL_NOW_MS,     /* {{now_ms}}: wall clock, ms since the epoch */
    TP_TPL_RANDOM_INT, /* {{random_int}}: non-negative random integer */
    TP_TPL_TARGET,     /* {{target}}: the target's name (lookup_var(TP_TPL_TARGET_VAR)) */
    TP_TPL_LOCATION    /* {{location}}: the run's location (lookup_var(TP_TPL_LOCATION_VAR)) */
};

/* The run supplies {{target}} and {{location}} through lookup_var under these
 * names, which no variable or capture can have (their names have no '.'). */
#define TP_TPL_TARGET_VAR "twinprobe.target"
#define TP_TPL_LOCATION_VAR "twinprobe.location"

/* {{random_int}} is uniform in [0, TP_TPL_RANDOM_INT_MAX] (fits any int32). */
#define TP_TPL_RANDOM_INT_MAX 2147483647

struct tp_tpl_part {
    enum tp_tpl_kind kind;
    char *text;     /* TEXT: the literal; VAR/ENV: the name (without "env."); else NULL */
    size_t len;     /* strlen(text) for TEXT, else 0 */
    char *fallback; /* VAR/ENV written {{name|text}}: text, used when the name is
                       undefined (inserted as written, never escaped); else NULL */
};

/* The built-in placeholder names ("uuid", ..., "location"), for did-you-mean
 * hints; *count set. Borrowed, static. */
const char *const *tp_template_builtins(size_t *count);

typedef struct tp_template tp_template; /* opaque parsed template */

/* Parses src. Whitespace inside braces is allowed ("{{ sku }}"). Names are
 * [A-Za-z_][A-Za-z0-9_.-]*. "{{" without a matching "}}", an empty or malformed
 * name is TP_ERR_INVALID with err->text saying why and err->column the 1-based
 * offset. A lone "}}" or single braces are literal text. *out is new.
 * Details: "{{" always opens a placeholder, closed by the first "}}" after it.
 * err->column points at the "{{" for an unterminated or empty placeholder and
 * at the offending byte for a malformed name; only err->column and err->text
 * are written. "env." must be followed by a name ("{{env.}}" is invalid).
 * A name or env name may be followed by "|" and a default: "{{ user | ann }}"
 * (whitespace around the name and around the default is dropped); a built-in
 * takes none. "" parses to zero parts. On failure *out is NULL. */
tp_err tp_template_parse(const char *src, tp_template **out, struct tp_error *err);

/* A template of one literal part holding text as it is (no placeholders are
 * recognized): for values that come from outside a file (--variable). *out is new. */
tp_err tp_template_literal(const char *text, tp_template **out);

void tp_template_free(tp_template *t); /* NULL is a no-op */

/* The parts in order (borrowed, owned by t). */
const struct tp_tpl_part *tp_template_parts(const tp_template *t, size_t *count);

/* 1 when the template is plain text (no placeholders). */
int tp_template_is_literal(const tp_template *t);

/* The source string (borrowed). */
const char *tp_template_source(const tp_template *t);

/* Where expansion gets its values. lookup_var and lookup_env return a borrowed
 * NUL-terminated value or NULL when the name is undefined. random_u64 gives 64
 * random bits; now_ms the wall clock. All four are required. */
struct tp_template_env {
    const char *(*lookup_var)(void *ctx, const char *name);
    const char *(*lookup_env)(void *ctx, const char *name);
    uint64_t (*random_u64)(void *ctx);
    int64_t (*now_ms)(void *ctx);
    void *ctx;
};

/* How each substituted value is escaped (literal text never is). */
enum tp_tpl_escape {
    TP_ESC_NONE, /* as is: headers, raw bodies, form fields before urlencoding */
    TP_ESC_JSON, /* inside a JSON string: quotes, backslashes, control chars */
    TP_ESC_URL,  /* percent-encoded (RFC 3986 unreserved kept) */
    TP_ESC_REGEX /* inside a PCRE2 pattern: each ASCII punctuation byte after a backslash */
};

/* Expands t. *out is new (malloc'd, NUL-terminated; free()). An undefined variable
 * or env name without a default is TP_ERR_INVALID with err->text naming it
 * ("undefined variable \"csrf\"", "environment variable SHOP_PASSWORD is not
 * set"), as is {{target}} or {{location}} when lookup_var has no value for it;
 * then *out is NULL. A NULL env or env callback is TP_ERR_INTERNAL. */
tp_err tp_template_expand(const tp_template *t, const struct tp_template_env *env,
                          enum tp_tpl_escape esc, char **out, struct tp_error *err);

#endif
