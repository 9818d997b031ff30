/* The journey model: a named list of HTTP steps with captures and expectations,
 * loaded from JSON bytes and validated against DESIGN.md §Journey file. Every
 * expression (JSONPath, XPath, regex) and template is compiled here, once, so the
 * engine never parses one per request. No I/O: the caller reads the file. */
#ifndef TWINPROBE_JOURNEY_H
#define TWINPROBE_JOURNEY_H

#include <jansson.h>
#include <stddef.h>

#include "twinprobe/diag.h"
#include "twinprobe/extract.h"
#include "twinprobe/jsonpath.h"
#include "twinprobe/template.h"
#include "twinprobe/vars.h"

#define TP_JOURNEY_MAX_BYTES (4u << 20)    /* larger journey files are refused */
#define TP_DEFAULT_TIMEOUT_MS 10000         /* per step */
#define TP_DEFAULT_CONNECT_TIMEOUT_MS 5000  /* per connection */
#define TP_DEFAULT_MAX_BODY (8u << 20)      /* response body cap */
#define TP_MAX_REDIRECTS 10                 /* hop limit with follow_redirects */

/* Failure classes, in report order (DESIGN.md §JSON report). */
enum tp_failure {
    TP_FAIL_NONE = 0,
    TP_FAIL_DNS,
    TP_FAIL_CONNECT,
    TP_FAIL_TLS,
    TP_FAIL_TIMEOUT,
    TP_FAIL_HTTP,
    TP_FAIL_ASSERTION,
    TP_FAIL_CAPTURE,
    TP_FAIL_BODY_TOO_LARGE,
    TP_FAIL_PROTOCOL,
    TP_FAIL_INTERNAL,
    TP_FAIL_TOO_EXPENSIVE, /* a regex, XPath or JSONPath match() went past its bounds */
    TP_FAIL_COUNT_
};

/* "dns", "connect", ...; NULL for TP_FAIL_NONE. */
const char *tp_failure_name(enum tp_failure f);
/* The class named name, or TP_FAIL_NONE when there is none. */
enum tp_failure tp_failure_from_name(const char *name);

/* Predicates (DESIGN.md §Journey file). */
enum tp_pred_kind {
    TP_PRED_EQUALS,
    TP_PRED_NOT_EQUALS,
    TP_PRED_LT,
    TP_PRED_LE,
    TP_PRED_GT,
    TP_PRED_GE,
    TP_PRED_CONTAINS,
    TP_PRED_NOT_CONTAINS,
    TP_PRED_MATCHES,
    TP_PRED_EXISTS,
    TP_PRED_IN,
    TP_PRED_COUNT,
    TP_PRED_TYPE
};

/* "equals", ...: the name a journey file uses. */
const char *tp_pred_name(enum tp_pred_kind k);

struct tp_predicate {
    enum tp_pred_kind kind;
    json_t *expected;  /* the expected value as written (owned reference) */
    tp_template *tpl;  /* when expected is a string with placeholders: parsed; else NULL */
    tp_template **items_tpl; /* IN: per element of expected, a template or NULL */
    struct tp_regex *regex;  /* MATCHES: compiled pattern */
};

/* One expectation: a value source and one or more predicates over it. */
struct tp_expect {
    struct tp_source source;
    struct tp_predicate *preds;
    size_t npreds;
};

struct tp_capture {
    char *name;
    struct tp_source source;
};

/* A name with a template value: headers, query parameters, form fields. */
struct tp_kv {
    char *name;
    tp_template *value;
};

struct tp_kvlist {
    struct tp_kv *items;
    size_t count;
};

enum tp_body_kind {
    TP_BODY_NONE,
    TP_BODY_JSON,      /* body_tpl: the JSON text, placeholders expanded JSON-escaped */
    TP_BODY_FORM,      /* fields: urlencoded */
    TP_BODY_MULTIPART, /* parts */
    TP_BODY_RAW        /* body_tpl as is; Content-Type from the headers */
};

struct tp_part {
    char *name;
    tp_template *value;  /* text part; NULL for a file part */
    char *file;          /* file part: path as written (relative to the journey file) */
    char *filename;      /* optional file name sent; NULL = basename of file */
    char *content_type;  /* optional */
};

/* HTTP Basic authentication of a request or a target:
 * "auth": {"basic": {"user": "...", "password": "..."}}, both templates. The
 * request sends "Authorization: Basic base64(user:password)" (request.h). */
struct tp_auth {
    tp_template *user; /* NULL: no auth */
    tp_template *password;
};

struct tp_schema;

/* Reads an "auth" object at path (obj must be an object): its shape and the
 * templates' syntax, every problem into s->diags. Which names the templates may
 * use is the caller's check. out is filled when there was no problem. */
void tp_auth_load(const struct tp_schema *s, const json_t *obj, const char *path,
                  struct tp_auth *out);

/* Frees what a owns and zeroes it; NULL is a no-op. */
void tp_auth_clear(struct tp_auth *a);

struct tp_retry {
    unsigned count;       /* extra attempts; 0 = none */
    unsigned on;          /* bit (1u << enum tp_failure) per class that is retried */
    unsigned backoff_ms;  /* wait before attempt k+1 is backoff_ms * 2^(k-1) */
};

struct tp_step {
    char *name;
    char *method;              /* upper case; default "GET" */
    tp_template *url;          /* relative to the target's base_url unless absolute */
    struct tp_kvlist query;    /* appended, percent-encoded */
    struct tp_kvlist headers;  /* step headers (journey defaults are in the journey) */
    enum tp_body_kind body_kind;
    tp_template *body_tpl;     /* JSON and RAW */
    struct tp_kvlist form;     /* FORM */
    struct tp_part *parts;     /* MULTIPART */
    size_t nparts;
    long timeout_ms;           /* resolved: step, else defaults, else TP_DEFAULT_TIMEOUT_MS */
    long connect_timeout_ms;   /* resolved likewise */
    int follow_redirects;      /* 0/1, resolved */
    unsigned max_redirects;    /* hop limit when following */
    struct tp_retry retry;     /* resolved */
    int continue_on_failure;
    int always;
    struct tp_capture *captures;
    size_t ncaptures;
    struct tp_expect *expects;
    size_t nexpects;
    int has_status_expect;     /* a `status` expectation exists (else 200-399 passes) */
    struct tp_auth auth;       /* request.auth; user NULL when absent */
};

/* How volatile fields are learned (compare.noise). */
enum tp_noise {
    TP_NOISE_OFF,    /* "off": nothing is learned (also what a zeroed tp_compare says) */
    TP_NOISE_LEARN,  /* "learn": also a second baseline run in each round (read-only journeys) */
    TP_NOISE_ROUNDS  /* "rounds", the loader's default: what differs between the baseline's
                        own rounds; sends nothing extra */
};

/* A journey's compare block. compare.ignore entries are told apart by their
 * shape: "$..." a JSONPath, "capture:NAME", "header:NAME", "/.../" (a slash at
 * both ends, at least one byte between) a PCRE2 pattern, any other "/..." an
 * XPath that selects nodes. */
struct tp_compare {
    tp_jsonpath **ignore;  /* "$...": JSON body subtrees left out */
    size_t nignore;
    void **ignore_xpath;   /* "/...": xmlXPathCompExprPtr; in HTML and XML bodies every
                              difference at or below a node one selects is left out */
    size_t nignore_xpath;
    struct tp_regex **ignore_lines; /* "/re/": a differing text line, or HTML/XML text,
                                       that matches is left out */
    size_t nignore_lines;
    char **ignore_labels;  /* "capture NAME", "header name" (name in lower case): mismatches
                              at exactly these paths are left out */
    size_t nignore_labels;
    enum tp_noise noise;
    char **headers;        /* response headers compared */
    size_t nheaders;
    double margin_pct;     /* < 0: not set here (probe or built-in default applies) */
    double margin_ms;      /* < 0: not set here */
    char **critical_steps;
    size_t ncritical;
};

struct tp_journey {
    char *file;            /* as the user named it */
    char *name;
    char *description;     /* may be NULL */
    struct tp_kvlist variables; /* in file order; a value may use earlier variables */
    char **secrets;        /* environment variable names whose values are masked */
    size_t nsecrets;
    struct tp_kvlist default_headers;
    long max_body_bytes;
    struct tp_compare compare;
    struct tp_step *steps;
    size_t nsteps;
};

/* Loads and validates a journey from bytes (need not be NUL-terminated). file is
 * used in messages only. Every problem goes into diags (none lost to the first);
 * returns a new journey when there were none, else NULL. Syntax errors carry
 * line:column, the others the JSON path of the offending value. Warnings
 * (tp_diags_warnf) go into diags too and do not stop the load: an `always` step
 * that uses a capture of a step a failure can skip; noise "learn" in a journey
 * with a step that is not GET or HEAD. */
struct tp_journey *tp_journey_load(const char *file, const char *bytes, size_t len,
                                   struct tp_diags *diags);

/* Variables given outside the file (twinprobe run/validate --variable,
 * --variables-file, --secret). Every name counts as defined for every template.
 * With values set, they also become the journey's first variables (literal
 * text, never expanded), and a journey variable of the same name is validated
 * but left out: the command line wins. */
struct tp_journey_opts {
    const tp_vars *outside; /* borrowed; names must pass tp_vars_valid_name */
    int values;             /* 1: use the values too (run); 0: names only (validate) */
};

/* tp_journey_load with opts (NULL: none). */
struct tp_journey *tp_journey_load_with(const char *file, const char *bytes, size_t len,
                                        const struct tp_journey_opts *opts,
                                        struct tp_diags *diags);

void tp_journey_free(struct tp_journey *j); /* NULL is a no-op */

/* Names of environment variables the journey's templates use ({{env.NAME}}),
 * each once, in file order, into names (borrowed from j) up to max; returns how
 * many there are (which may exceed max). A use with a default ({{env.NAME|x}})
 * is left out: the run needs no value for it. */
size_t tp_journey_env_names(const struct tp_journey *j, const char **names, size_t max);

/* The step named name, or NULL. */
const struct tp_step *tp_journey_step(const struct tp_journey *j, const char *name);

#endif
