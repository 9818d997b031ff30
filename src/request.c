/* Building one request from a step: every template expanded, the URL resolved
 * against the target's base_url and the query appended through libcurl's URL
 * API, headers merged in precedence order, the body encoded. No I/O. */
#include "twinprobe/request.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One header while the list is merged; value is owned. */
struct hdr {
    const char *name; /* borrowed from the journey or the target */
    char *value;      /* NULL: suppress curl's own header of this name */
};

struct hdrs {
    struct hdr *items;
    size_t count;
    size_t cap;
};

static void hdrs_free(struct hdrs *h)
{
    for (size_t i = 0; i < h->count; i++)
        free(h->items[i].value);
    free(h->items);
    memset(h, 0, sizeof *h);
}

static struct hdr *hdrs_find(const struct hdrs *h, const char *name)
{
    for (size_t i = 0; i < h->count; i++)
        if (strcasecmp(h->items[i].name, name) == 0)
            return &h->items[i];
    return NULL;
}

/* Sets name to value (taken, also on failure; may be NULL): a header of the
 * same name (case-insensitive) keeps its place and gets the new name and value. */
static tp_err hdrs_set(struct hdrs *h, const char *name, char *value)
{
    struct hdr *old = hdrs_find(h, name);

    if (old) {
        free(old->value);
        old->name = name;
        old->value = value;
        return TP_OK;
    }
    if (h->count == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 8;
        struct hdr *items = realloc(h->items, cap * sizeof *items);
        if (!items) {
            free(value);
            return TP_ERR_NOMEM;
        }
        h->items = items;
        h->cap = cap;
    }
    h->items[h->count].name = name;
    h->items[h->count].value = value;
    h->count++;
    return TP_OK;
}

/* Expands t; an undefined name's message also says where it was used
 * ("undefined variable \"csrf\" (in header X-Token)"). */
static tp_err expand(const struct tp_request_ctx *ctx, const tp_template *t, enum tp_tpl_escape esc,
                     const char *what, const char *name, char **out, struct tp_error *err)
{
    tp_err rc = tp_template_expand(t, ctx->env, esc, out, err);

    if (rc == TP_ERR_INVALID) {
        char text[sizeof err->text];
        snprintf(text, sizeof text, "%s", err->text);
        tp_error_set(err, rc, "%s (in %s%s%s)", text, what, name ? " " : "", name ? name : "");
    }
    return rc;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* The scheme that s starts with ("ftp" of "ftp://x"), for a message, in buf;
 * "" when s has none. */
static const char *scheme_of(const char *s, char *buf, size_t size)
{
    size_t n = 0;

    buf[0] = '\0';
    while (s[n] && s[n] != ':' && n + 1 < size) {
        char c = s[n];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (n > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
        if (!ok)
            return buf;
        n++;
    }
    if (s[n] == ':' && n > 0) {
        memcpy(buf, s, n);
        buf[n] = '\0';
    }
    return buf;
}

/* url -> the step's url resolved against base_url, query parameters appended. */
char *tp_request_origin(const char *base_url)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *full = NULL, *out = NULL;
    size_t len;

    if (u && curl_url_set(u, CURLUPART_URL, base_url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) &&
        curl_url_set(u, CURLUPART_URL, "/", 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_URL, &full, 0) == CURLUE_OK &&
        (len = strlen(full)) > 0 && full[len - 1] == '/' && (out = malloc(len)) != NULL) {
        memcpy(out, full, len - 1);
        out[len - 1] = '\0';
    }
    curl_free(full);
    curl_free(scheme);
    curl_url_cleanup(u);
    return out;
}

/* Whether rel is an absolute-path reference libcurl's parser would keep as it
 * is: "/" then path and query bytes from RFC 3986's unreserved and sub-delims
 * and ":@/?" only (nothing to encode, no fragment, no '%'), not "//", no
 * "." or ".." segment in the path and no empty query (a parser removes
 * those; test_request checks the two agree). */
static int plain_path(const char *rel)
{
    static const char extra[] = "-._~!$&'()*+,;=:@/?";
    const char *seg = rel + 1;
    int in_query = 0;

    if (rel[0] != '/' || rel[1] == '/')
        return 0;
    for (const char *p = rel + 1;; p++) {
        if (!in_query && (*p == '/' || *p == '?' || *p == '\0')) {
            size_t n = (size_t)(p - seg);
            if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
                return 0;
            seg = p + 1;
            in_query = *p == '?';
        }
        if (*p == '\0')
            return p[-1] != '?'; /* an empty query is dropped by a parser */
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr(extra, *p)))
            return 0;
    }
}

static tp_err build_url(const struct tp_request_ctx *ctx, const struct tp_step *step,
                        struct tp_http_request *out, enum tp_failure *cls,
                        struct tp_error *err)
{
    CURLU *u = NULL;
    CURLUcode uc = CURLUE_OK;
    char *rel = NULL, *value = NULL, *param = NULL, *full = NULL, *scheme = NULL;
    char sbuf[32];
    tp_err rc = TP_OK;

    rc = expand(ctx, step->url, TP_ESC_NONE, "url", NULL, &rel, err);
    if (rc)
        goto done;
    if (ctx->origin && step->query.count == 0 && plain_path(rel)) {
        size_t a = strlen(ctx->origin), b = strlen(rel);
        if (!(out->url = malloc(a + b + 1))) {
            rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
            goto done;
        }
        memcpy(out->url, ctx->origin, a);
        memcpy(out->url + a, rel, b + 1);
        goto done;
    }
    if (!(u = ctx->base ? curl_url_dup(ctx->base) : curl_url())) {
        rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        goto done;
    }
    if (!ctx->base)
        uc = curl_url_set(u, CURLUPART_URL, ctx->target->base_url, 0);
    if (uc) {
        rc = tp_error_set(err, TP_ERR_INVALID, "base_url of target %s: %s", ctx->target->name,
                          curl_url_strerror(uc));
        goto done;
    }
    uc = curl_url_set(u, CURLUPART_URL, rel, 0);
    if (uc == CURLUE_UNSUPPORTED_SCHEME) {
        *cls = TP_FAIL_PROTOCOL;
        rc = tp_error_set(err, TP_ERR_INVALID,
                          "protocol: url \"%s\": scheme \"%s\" is not allowed (only http and "
                          "https)",
                          tp_template_source(step->url), scheme_of(rel, sbuf, sizeof sbuf));
        goto done;
    }
    if (uc) {
        rc = tp_error_set(err, TP_ERR_INVALID, "url \"%s\": %s", tp_template_source(step->url),
                          curl_url_strerror(uc));
        goto done;
    }
    uc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    if (uc || (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        *cls = TP_FAIL_PROTOCOL;
        rc = tp_error_set(err, TP_ERR_INVALID,
                          "protocol: url \"%s\": scheme \"%s\" is not allowed (only http and "
                          "https)",
                          tp_template_source(step->url), scheme ? scheme : "");
        goto done;
    }
    for (size_t i = 0; i < step->query.count; i++) {
        const struct tp_kv *kv = &step->query.items[i];
        size_t nlen = strlen(kv->name), vlen;

        rc = expand(ctx, kv->value, TP_ESC_NONE, "query parameter", kv->name, &value, err);
        if (rc)
            goto done;
        vlen = strlen(value);
        param = malloc(nlen + vlen + 2);
        if (!param) {
            rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
            goto done;
        }
        memcpy(param, kv->name, nlen);
        param[nlen] = '=';
        memcpy(param + nlen + 1, value, vlen + 1);
        /* curl encodes everything but the first '=' (a space becomes '+') */
        uc = curl_url_set(u, CURLUPART_QUERY, param, CURLU_APPENDQUERY | CURLU_URLENCODE);
        free(param);
        free(value);
        param = value = NULL;
        if (uc) {
            rc = tp_error_set(err, TP_ERR_INVALID, "query parameter %s: %s", kv->name,
                              curl_url_strerror(uc));
            goto done;
        }
    }
    uc = curl_url_get(u, CURLUPART_URL, &full, 0);
    if (uc) {
        rc = tp_error_set(err, uc == CURLUE_OUT_OF_MEMORY ? TP_ERR_NOMEM : TP_ERR_INVALID,
                          "url \"%s\": %s", tp_template_source(step->url), curl_url_strerror(uc));
        goto done;
    }
    out->url = strdup(full);
    if (!out->url)
        rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");

done:
    curl_free(full);
    curl_free(scheme);
    free(param);
    free(value);
    free(rel);
    curl_url_cleanup(u);
    return rc;
}

/* Appends s (n bytes) to the body being built; *cap grows by doubling. */
static tp_err body_append(struct tp_http_request *out, size_t *cap, const char *s, size_t n)
{
    if (n + 1 > *cap - out->body_len) {
        size_t ncap = *cap ? *cap : 64;
        char *p;
        while (n + 1 > ncap - out->body_len)
            ncap *= 2;
        p = realloc(out->body, ncap);
        if (!p)
            return TP_ERR_NOMEM;
        out->body = p;
        *cap = ncap;
    }
    memcpy(out->body + out->body_len, s, n);
    out->body_len += n;
    out->body[out->body_len] = '\0';
    return TP_OK;
}

/* form -> name=value&... with curl_easy_escape on each name and value. */
static tp_err build_form(const struct tp_request_ctx *ctx, const struct tp_step *step,
                         struct tp_http_request *out, struct tp_error *err)
{
    size_t cap = 0;
    char *value = NULL, *ename = NULL, *evalue = NULL;
    tp_err rc = body_append(out, &cap, "", 0);

    for (size_t i = 0; !rc && i < step->form.count; i++) {
        const struct tp_kv *kv = &step->form.items[i];

        rc = expand(ctx, kv->value, TP_ESC_NONE, "form field", kv->name, &value, err);
        if (rc)
            break;
        ename = curl_easy_escape(NULL, kv->name, 0);
        evalue = curl_easy_escape(NULL, value, 0);
        if (!ename || !evalue || (i > 0 && body_append(out, &cap, "&", 1)) ||
            body_append(out, &cap, ename, strlen(ename)) || body_append(out, &cap, "=", 1) ||
            body_append(out, &cap, evalue, strlen(evalue)))
            rc = TP_ERR_NOMEM;
        curl_free(ename);
        curl_free(evalue);
        free(value);
        ename = evalue = value = NULL;
    }
    if (rc == TP_ERR_NOMEM)
        tp_error_set(err, rc, "out of memory");
    return rc;
}

/* multipart -> parts; file paths resolved against the journey file. */
static tp_err build_parts(const struct tp_request_ctx *ctx, const struct tp_step *step,
                          struct tp_http_request *out, struct tp_error *err)
{
    const char *jfile = ctx->journey->file;

    out->parts = calloc(step->nparts ? step->nparts : 1, sizeof *out->parts);
    if (!out->parts)
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < step->nparts; i++) {
        const struct tp_part *sp = &step->parts[i];
        struct tp_http_part *p = &out->parts[i];

        out->nparts++;
        p->name = strdup(sp->name);
        if (!p->name)
            return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        if (sp->value) {
            tp_err rc =
                expand(ctx, sp->value, TP_ESC_NONE, "multipart part", sp->name, &p->value, err);
            if (rc)
                return rc;
        } else {
            p->file = jfile ? tp_path_relative_to(jfile, sp->file) : strdup(sp->file);
            if (!p->file)
                return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        }
        p->filename = dup_or_null(sp->filename);
        p->content_type = dup_or_null(sp->content_type);
        if ((sp->filename && !p->filename) || (sp->content_type && !p->content_type))
            return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    }
    return TP_OK;
}

static tp_err build_body(const struct tp_request_ctx *ctx, const struct tp_step *step,
                         struct tp_http_request *out, struct tp_error *err)
{
    tp_err rc = TP_OK;

    switch (step->body_kind) {
    case TP_BODY_NONE:
        break;
    case TP_BODY_JSON:
        rc = expand(ctx, step->body_tpl, TP_ESC_JSON, "json body", NULL, &out->body, err);
        break;
    case TP_BODY_RAW:
        rc = expand(ctx, step->body_tpl, TP_ESC_NONE, "body", NULL, &out->body, err);
        break;
    case TP_BODY_FORM:
        rc = build_form(ctx, step, out, err);
        break;
    case TP_BODY_MULTIPART:
        rc = build_parts(ctx, step, out, err);
        break;
    }
    if (!rc && out->body)
        out->body_len = strlen(out->body);
    return rc;
}

/* Adds name: value from a template, refusing line breaks (header injection). */
static tp_err merge_kvlist(const struct tp_request_ctx *ctx, const struct tp_kvlist *list,
                           struct hdrs *h, struct tp_error *err)
{
    for (size_t i = 0; i < list->count; i++) {
        const struct tp_kv *kv = &list->items[i];
        char *value = NULL;
        tp_err rc = expand(ctx, kv->value, TP_ESC_NONE, "header", kv->name, &value, err);

        if (rc)
            return rc;
        if (strpbrk(value, "\r\n")) {
            free(value);
            return tp_error_set(err, TP_ERR_INVALID, "header %s: the value has a line break",
                                kv->name);
        }
        if (hdrs_set(h, kv->name, value))
            return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    }
    return TP_OK;
}

/* Adds name: value unless the journey set it; with replace, ours wins. */
static tp_err add_fixed(struct hdrs *h, const char *name, const char *value, int replace,
                        struct tp_error *err)
{
    char *copy;

    if (!replace && hdrs_find(h, name))
        return TP_OK;
    copy = strdup(value);
    if (!copy || hdrs_set(h, name, copy))
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    return TP_OK;
}

/* RFC 4648 base64 of n bytes, new string (NULL on no memory). */
static char *base64(const char *s, size_t n)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;

    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i += 3) {
        unsigned long b = (unsigned long)(unsigned char)s[i] << 16;
        if (i + 1 < n)
            b |= (unsigned long)(unsigned char)s[i + 1] << 8;
        if (i + 2 < n)
            b |= (unsigned char)s[i + 2];
        *o++ = alphabet[b >> 18 & 63];
        *o++ = alphabet[b >> 12 & 63];
        *o++ = i + 1 < n ? alphabet[b >> 6 & 63] : '=';
        *o++ = i + 2 < n ? alphabet[b & 63] : '=';
    }
    *o = '\0';
    return out;
}

/* Adds value to the run's secrets unless it is masked already (adding rebuilds
 * the automaton: not once per request for the same password). */
static tp_err add_secret(tp_secrets *secrets, const char *value, struct tp_error *err)
{
    char *masked;
    int known;

    if (!secrets || !*value)
        return TP_OK;
    masked = tp_secrets_mask(secrets, value);
    if (!masked)
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    known = strcmp(masked, "***") == 0;
    free(masked);
    if (!known && tp_secrets_add(secrets, value) != TP_OK)
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    return TP_OK;
}

/* auth -> "Authorization: Basic base64(user:password)" (the step's auth, else
 * the target's), replacing a header of that name; the password and the header
 * value join the run's secrets before anything of this request is recorded. */
static tp_err add_auth(const struct tp_request_ctx *ctx, const struct tp_step *step,
                       struct hdrs *h, struct tp_error *err)
{
    const struct tp_auth *auth = step->auth.user ? &step->auth : &ctx->target->auth;
    char *user = NULL, *password = NULL, *pair = NULL, *encoded = NULL, *value = NULL;
    size_t ulen, plen;
    tp_err rc;

    if (!auth->user)
        return TP_OK;
    rc = expand(ctx, auth->user, TP_ESC_NONE, "auth", "user", &user, err);
    if (!rc)
        rc = expand(ctx, auth->password, TP_ESC_NONE, "auth", "password", &password, err);
    if (!rc)
        rc = add_secret(ctx->secrets, password, err);
    if (!rc && strchr(user, ':'))
        rc = tp_error_set(err, TP_ERR_INVALID, "auth: the basic auth user has a ':' (RFC 7617)");
    if (rc)
        goto done;
    ulen = strlen(user);
    plen = strlen(password);
    pair = malloc(ulen + plen + 2);
    if (pair) {
        memcpy(pair, user, ulen);
        pair[ulen] = ':';
        memcpy(pair + ulen + 1, password, plen + 1);
        encoded = base64(pair, ulen + plen + 1);
    }
    value = encoded ? malloc(strlen(encoded) + sizeof "Basic ") : NULL;
    if (!value) {
        rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        goto done;
    }
    snprintf(value, strlen(encoded) + sizeof "Basic ", "Basic %s", encoded);
    rc = add_secret(ctx->secrets, encoded, err);
    if (!rc) {
        if (hdrs_set(h, "Authorization", value))
            rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        value = NULL; /* taken by hdrs_set, also when it fails */
    }
done:
    free(user);
    free(password);
    free(pair);
    free(encoded);
    free(value);
    return rc;
}

/* The merged headers as curl lines. A NULL value is "Name:", which tells curl
 * to leave out a header of its own; an empty value is sent as "Name;". */
static tp_err headers_to_slist(const struct hdrs *h, struct tp_http_request *out,
                               struct tp_error *err)
{
    for (size_t i = 0; i < h->count; i++) {
        const struct hdr *x = &h->items[i];
        size_t nlen = strlen(x->name), vlen = x->value ? strlen(x->value) : 0;
        char *line = malloc(nlen + vlen + 3);
        struct curl_slist *next;

        if (!line)
            return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        if (vlen)
            snprintf(line, nlen + vlen + 3, "%s: %s", x->name, x->value);
        else
            snprintf(line, nlen + 2, "%s%c", x->name, x->value ? ';' : ':');
        next = curl_slist_append(out->headers, line);
        free(line);
        if (!next)
            return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        out->headers = next;
    }
    return TP_OK;
}

static tp_err build_headers(const struct tp_request_ctx *ctx, const struct tp_step *step,
                            struct tp_http_request *out, struct tp_error *err)
{
    const struct tp_target *t = ctx->target;
    struct hdrs h = {NULL, 0, 0};
    tp_err rc = merge_kvlist(ctx, &ctx->journey->default_headers, &h, err);

    if (!rc)
        rc = merge_kvlist(ctx, &step->headers, &h, err);
    for (size_t i = 0; !rc && i < t->nheaders; i++) {
        char *value = strdup(t->headers[i].value);
        if (!value || hdrs_set(&h, t->headers[i].name, value))
            rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    }
    if (!rc)
        rc = add_auth(ctx, step, &h, err);
    /* DESIGN.md: every request carries our User-Agent and traceparent, so backends
     * can find synthetic traffic; a journey header of that name does not replace them. */
    if (!rc && ctx->user_agent)
        rc = add_fixed(&h, "User-Agent", ctx->user_agent, 1, err);
    if (!rc && ctx->trace_id && ctx->span_id) {
        char traceparent[128];
        snprintf(traceparent, sizeof traceparent, "00-%s-%s-01", ctx->trace_id, ctx->span_id);
        rc = add_fixed(&h, "traceparent", traceparent, 1, err);
    }
    if (!rc && step->body_kind == TP_BODY_JSON)
        rc = add_fixed(&h, "Content-Type", "application/json", 0, err);
    if (!rc && step->body_kind == TP_BODY_FORM)
        rc = add_fixed(&h, "Content-Type", "application/x-www-form-urlencoded", 0, err);
    /* no "Expect: 100-continue" round trip inside a measured phase */
    if (!rc && step->body_kind != TP_BODY_NONE && !hdrs_find(&h, "Expect") &&
        hdrs_set(&h, "Expect", NULL))
        rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    if (!rc)
        rc = headers_to_slist(&h, out, err);
    hdrs_free(&h);
    return rc;
}

tp_err tp_request_build(const struct tp_request_ctx *ctx, const struct tp_step *step,
                        struct tp_http_request *out, enum tp_failure *cls,
                        struct tp_error *err)
{
    enum tp_failure ignored;
    tp_err rc;

    if (!cls)
        cls = &ignored;
    *cls = TP_FAIL_NONE;
    memset(out, 0, sizeof *out);
    if (!ctx || !ctx->journey || !ctx->target || !ctx->env || !step || !step->url) {
        rc = tp_error_set(err, TP_ERR_INTERNAL, "tp_request_build: missing argument");
        goto fail;
    }
    out->method = strdup(step->method ? step->method : "GET");
    if (!out->method) {
        rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        goto fail;
    }
    rc = build_url(ctx, step, out, cls, err);
    if (!rc)
        rc = build_headers(ctx, step, out, err);
    if (!rc)
        rc = build_body(ctx, step, out, err);
    if (rc)
        goto fail;
    out->timeout_ms = step->timeout_ms;
    out->connect_timeout_ms = step->connect_timeout_ms;
    out->follow_redirects = step->follow_redirects;
    out->max_redirects = (long)step->max_redirects;
    out->max_body = ctx->journey->max_body_bytes > 0 ? (size_t)ctx->journey->max_body_bytes
                                                     : (size_t)TP_DEFAULT_MAX_BODY;
    out->connect_to = ctx->target->connect_to;
    out->ca_file = ctx->target->ca_file;
    out->insecure = ctx->target->insecure;
    out->cookie = ctx->cookie;
    return TP_OK;

fail:
    if (*cls == TP_FAIL_NONE)
        *cls = TP_FAIL_INTERNAL;
    tp_http_request_clear(out);
    return rc;
}
