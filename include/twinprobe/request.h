/* Building one request from a step: templates expanded against the run's
 * variables, the URL joined to the target's base_url with libcurl's URL API and
 * the query appended percent-encoded, headers merged (journey defaults, then the
 * step's, then the target's; a later one replaces an earlier one of the same
 * name), basic auth, the body encoded, User-Agent and traceparent added. No I/O. */
#ifndef TWINPROBE_REQUEST_H
#define TWINPROBE_REQUEST_H

#include "twinprobe/http.h"
#include "twinprobe/journey.h"
#include "twinprobe/mask.h"
#include "twinprobe/probe.h"
#include "twinprobe/template.h"

struct tp_request_ctx {
    const struct tp_journey *journey;
    const struct tp_target *target;
    const struct tp_template_env *env;  /* variables, environment, random, clock */
    const char *user_agent;             /* "twinprobe/0.1.0 (eu-west-1)" */
    const char *trace_id;               /* 32 lower-case hex digits, one per journey run */
    const char *span_id;                /* 16 lower-case hex digits, one per request */
    const char *cookie;                 /* the target's cookies as "a=b; c=d", or NULL */
    CURLU *base;                        /* target->base_url already parsed, or NULL to
                                           parse it per request; borrowed, never changed */
    const char *origin;                 /* tp_request_origin of the target, or NULL: a
                                           step URL that is a plain absolute path (and no
                                           query list) is then origin + path, with no URL
                                           parser (the same URL libcurl's would make) */
    tp_secrets *secrets;                /* borrowed; basic auth passwords and header values
                                           are added to it; NULL: not recorded */
};

/* "scheme://authority" of base_url (new) when its scheme is http or https,
 * else NULL (also on no memory): what an absolute-path reference is joined to. */
char *tp_request_origin(const char *base_url);

/* Fills out for step. Bodies: json -> the JSON text with values JSON-escaped,
 * Content-Type application/json unless a header sets one; form -> urlencoded
 * (curl_easy_escape per name and value), Content-Type
 * application/x-www-form-urlencoded; multipart -> parts (file paths relative to
 * the journey file); body -> as is. Basic auth (the step's, else the target's)
 * sets "Authorization: Basic base64(user:password)", replacing a header of that
 * name; the password and the encoded value are added to ctx->secrets, so that
 * whatever is recorded from here on masks them (a user with ':' is
 * TP_ERR_INVALID, RFC 7617). An absolute url (http:// or https://) is used
 * as is; any other scheme is TP_ERR_INVALID. An undefined template name (an env
 * variable that is not set, a capture that did not happen) is TP_ERR_INVALID with
 * err->text naming it.
 * *cls (cls may be NULL) receives the step's failure class: TP_FAIL_NONE on
 * TP_OK, TP_FAIL_PROTOCOL for a refused scheme (err->text then starts
 * "protocol: "), TP_FAIL_INTERNAL for every other error. out is cleared on
 * failure. */
tp_err tp_request_build(const struct tp_request_ctx *ctx, const struct tp_step *step,
                        struct tp_http_request *out, enum tp_failure *cls,
                        struct tp_error *err);

#endif
