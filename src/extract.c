/* Value sources: the name table, compilation of their expressions, and their
 * evaluation against a response in memory (bodies parsed lazily, once). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "twinprobe/extract.h"

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <limits.h>
#include <math.h>
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/rematch.h"
#include "twinprobe/response.h"
#include "twinprobe/utf8.h"

struct tp_regex {
    pcre2_code *code;
};

static const struct tp_source_info sources[] = {
    {"status", TP_SRC_STATUS, 0},
    {"header", TP_SRC_HEADER, 1},
    {"cookie", TP_SRC_COOKIE, 1},
    {"jsonpath", TP_SRC_JSONPATH, 1},
    {"xpath", TP_SRC_XPATH, 1},
    {"regex", TP_SRC_REGEX, 1},
    {"body", TP_SRC_BODY, 0},
    {"url", TP_SRC_URL, 0},
    {"size_bytes", TP_SRC_SIZE_BYTES, 0},
    {"duration_ms", TP_SRC_DURATION_MS, 0},
    {"ttfb_ms", TP_SRC_TTFB_MS, 0},
    {"dns_ms", TP_SRC_DNS_MS, 0},
    {"connect_ms", TP_SRC_CONNECT_MS, 0},
    {"tls_ms", TP_SRC_TLS_MS, 0},
};

const struct tp_source_info *tp_source_table(size_t *count)
{
    *count = sizeof sources / sizeof sources[0];
    return sources;
}

const struct tp_source_info *tp_source_lookup(const char *name)
{
    for (size_t i = 0; i < sizeof sources / sizeof sources[0]; i++)
        if (strcmp(sources[i].name, name) == 0)
            return &sources[i];
    return NULL;
}

tp_err tp_regex_compile(const char *pattern, struct tp_regex **out, struct tp_error *err)
{
    int code;
    PCRE2_SIZE offset;
    struct tp_regex *re;

    *out = NULL;
    re = calloc(1, sizeof *re);
    if (!re)
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    re->code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                             PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | TP_REGEX_COMPILE_OPTIONS, &code, &offset, NULL);
    if (!re->code && code == PCRE2_ERROR_HEAP_FAILED) {
        free(re);
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    }
    if (!re->code) {
        PCRE2_UCHAR msg[256];
        if (pcre2_get_error_message(code, msg, sizeof msg) < 0)
            snprintf((char *)msg, sizeof msg, "error %d", code);
        free(re);
        if (err)
            err->column = (int)offset + 1;
        return tp_error_set(err, TP_ERR_INVALID, "regex does not compile at offset %zu: %s",
                            (size_t)offset, (const char *)msg);
    }
    *out = re;
    return TP_OK;
}

void tp_regex_free(struct tp_regex *re)
{
    if (!re)
        return;
    pcre2_code_free(re->code);
    free(re);
}

/* libxml2 reports errors through handlers; while we parse or evaluate, they go
 * into a buffer (the first message is kept) instead of stderr, and the previous
 * handlers are put back afterwards. */
struct xml_errbuf {
    char text[256];
    int nomem; /* libxml2 reported XML_ERR_NO_MEMORY */
};

struct xml_handlers {
    xmlStructuredErrorFunc structured;
    void *structured_ctx;
    xmlGenericErrorFunc generic;
    void *generic_ctx;
};

static void xml_error_handler(void *ctx, xmlErrorPtr e)
{
    struct xml_errbuf *buf = ctx;
    if (e && e->code == XML_ERR_NO_MEMORY)
        buf->nomem = 1;
    if (buf->text[0] || !e || !e->message)
        return;
    snprintf(buf->text, sizeof buf->text, "%s", e->message);
    size_t n = strlen(buf->text);
    while (n > 0 && (buf->text[n - 1] == '\n' || buf->text[n - 1] == ' '))
        buf->text[--n] = '\0';
}

static void xml_generic_silent(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

static void xml_quiet(struct xml_handlers *saved, struct xml_errbuf *buf)
{
    saved->structured = xmlStructuredError;
    saved->structured_ctx = xmlStructuredErrorContext;
    saved->generic = xmlGenericError;
    saved->generic_ctx = xmlGenericErrorContext;
    xmlSetStructuredErrorFunc(buf, xml_error_handler);
    xmlSetGenericErrorFunc(NULL, xml_generic_silent);
}

static void xml_restore(const struct xml_handlers *saved)
{
    xmlSetStructuredErrorFunc(saved->structured_ctx, saved->structured);
    xmlSetGenericErrorFunc(saved->generic_ctx, saved->generic);
}

/* The xmlError code libxml2 gives an xmlXPathError (as xmlXPathErr computes it). */
#define XPATH_CODE(e) ((int)XML_XPATH_EXPRESSION_OK + (int)(e) - (int)XPATH_EXPRESSION_OK)

static tp_err compile_xpath(const char *expr, void **out, struct tp_error *err)
{
    struct xml_errbuf buf = {{0}, 0};
    struct xml_handlers saved;
    xmlXPathCompExprPtr comp;
    xmlXPathContextPtr ctx;
    int too_deep;

    /* A context makes libxml2 count the parser's recursion (XPATH_MAX_RECURSION_DEPTH,
     * 5000 frames, about 500 nested parentheses): without one, 200,000 "(" overflow
     * the stack. */
    ctx = xmlXPathNewContext(NULL);
    if (!ctx)
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    xml_quiet(&saved, &buf);
    comp = xmlXPathCtxtCompile(ctx, (const xmlChar *)expr);
    xml_restore(&saved);
    too_deep = ctx->lastError.code == XPATH_CODE(XPATH_RECURSION_LIMIT_EXCEEDED);
    if (ctx->lastError.code == XML_ERR_NO_MEMORY ||
        ctx->lastError.code == XPATH_CODE(XPATH_MEMORY_ERROR))
        buf.nomem = 1;
    if (!buf.text[0] && ctx->lastError.message)
        xml_error_handler(&buf, &ctx->lastError);
    xmlXPathFreeContext(ctx);
    if (!comp && buf.nomem)
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    if (!comp && too_deep)
        return tp_error_set(err, TP_ERR_INVALID, "XPath does not compile: nested too deeply "
                            "(about %d levels of parentheses or predicates at most)",
                            TP_XPATH_MAX_NESTING);
    if (!comp)
        return tp_error_set(err, TP_ERR_INVALID, "XPath does not compile: %s",
                            buf.text[0] ? buf.text : "invalid expression");
    *out = comp;
    return TP_OK;
}

tp_err tp_source_compile(struct tp_source *src, enum tp_source_kind kind, const char *arg,
                         struct tp_error *err)
{
    tp_err rc = TP_OK;

    memset(src, 0, sizeof *src);
    src->kind = kind;
    if (!arg)
        return TP_OK;
    src->arg = strdup(arg);
    if (!src->arg)
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    switch (kind) {
    case TP_SRC_JSONPATH:
        rc = tp_jsonpath_compile_for_people(arg, &src->jsonpath, err);
        break;
    case TP_SRC_XPATH:
        rc = compile_xpath(arg, &src->xpath, err);
        break;
    case TP_SRC_REGEX:
        rc = tp_regex_compile(arg, &src->regex, err);
        break;
    default:
        break;
    }
    if (rc != TP_OK)
        tp_source_clear(src);
    return rc;
}

void tp_source_clear(struct tp_source *src)
{
    if (!src)
        return;
    free(src->arg);
    tp_jsonpath_free(src->jsonpath);
    if (src->xpath)
        xmlXPathFreeCompExpr(src->xpath);
    tp_regex_free(src->regex);
    memset(src, 0, sizeof *src);
}

/* ---- strings from bytes ------------------------------------------------ */

json_t *tp_value_string(const char *s, size_t len)
{
    size_t i, k, n;
    char *fixed;
    json_t *v;

    if (!s)
        return json_string("");
    for (i = 0; i < len; i += k) {
        k = tp_utf8_next(s + i, len - i, NULL);
        if (k == 0)
            break;
    }
    if (i == len)
        return json_stringn_nocheck(s, len);
    fixed = tp_utf8_repair(s, len, &n);
    if (!fixed)
        return NULL;
    v = json_stringn_nocheck(fixed, n);
    free(fixed);
    return v;
}

/* ---- lazy body parsing -------------------------------------------------- */

static tp_err parse_json(struct tp_response *resp, struct tp_error *err)
{
    json_error_t jerr;

    if (resp->json_state != 0)
        return TP_OK;
    resp->json = json_loadb(resp->body ? resp->body : "", resp->body ? resp->body_len : 0,
                            JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!resp->json && json_error_code(&jerr) == json_error_out_of_memory)
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    resp->json_state = resp->json ? 1 : -1;
    return TP_OK;
}

json_t *tp_response_json(struct tp_response *r)
{
    if (!r || parse_json(r, NULL) != TP_OK)
        return NULL;
    return r->json_state == 1 ? r->json : NULL;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f';
}

static char ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static int prefix_nocase(const char *s, size_t len, const char *prefix)
{
    size_t i;
    for (i = 0; prefix[i]; i++)
        if (i >= len || ascii_lower(s[i]) != prefix[i])
            return 0;
    return 1;
}

/* "<!doctype html" or "<html" after an optional BOM and whitespace. */
static int looks_like_html(const char *body, size_t len)
{
    size_t i = 0;
    if (len >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    while (i < len && is_space(body[i]))
        i++;
    return prefix_nocase(body + i, len - i, "<!doctype html") ||
           prefix_nocase(body + i, len - i, "<html");
}

/* The charset parameter of Content-Type ("" when none), for the HTML parser. */
static const char *media_charset(const struct tp_response *resp, char *buf, size_t size)
{
    const char *v = tp_response_header(resp, "Content-Type");
    size_t n = 0;

    buf[0] = '\0';
    while (v && (v = strchr(v, ';')) != NULL) {
        v++;
        while (is_space(*v))
            v++;
        if (!prefix_nocase(v, strlen(v), "charset="))
            continue;
        v += strlen("charset=");
        if (*v == '"')
            v++;
        while (*v && *v != '"' && *v != ';' && !is_space(*v) && n + 1 < size)
            buf[n++] = *v++;
        buf[n] = '\0';
        break;
    }
    return buf;
}

/* Whether doc is too big for XPath: n nodes and p ancestor-descendant pairs (the
 * sum of every node's depth). A descendant step merges into a node set of at
 * most n nodes at most p nodes it found, and libxml2 checks each against the set
 * for duplicates: n * p bounds that work, which libxml2's opLimit does not count. */
static int too_big_for_xpath(xmlDocPtr doc)
{
    unsigned long long n = 0, p = 0, depth = 0;
    xmlNodePtr cur = doc->children;

    while (cur) {
        n++;
        p += depth;
        if (cur->children && cur->type == XML_ELEMENT_NODE) {
            cur = cur->children;
            depth++;
            continue;
        }
        while (cur && !cur->next) {
            cur = cur->parent;
            if (!cur || cur == (xmlNodePtr)doc)
                return n * p > TP_XPATH_MAX_SHAPE;
            depth--;
        }
        cur = cur->next;
    }
    return n * p > TP_XPATH_MAX_SHAPE;
}

/* HTML (with recovery) or XML; never network access, entity expansion or DTD
 * loading. A body that does not parse leaves xml_state -1 (nothing found). */
static void parse_markup(struct tp_response *resp)
{
    char media[128];
    struct xml_errbuf buf = {{0}, 0};
    struct xml_handlers saved;
    xmlDocPtr doc;
    int html;

    if (resp->xml_state != 0)
        return;
    resp->xml_state = -1;
    if (!resp->body || resp->body_len == 0 || resp->body_len > INT_MAX)
        return;
    if (resp->body_len > TP_XPATH_MAX_BODY) {
        resp->xml_state = -2;
        return;
    }
    tp_response_media_type(resp, media, sizeof media);
    html = strcmp(media, "text/html") == 0 || strcmp(media, "application/xhtml+xml") == 0 ||
           looks_like_html(resp->body, resp->body_len);
    xml_quiet(&saved, &buf);
    if (html) {
        char charset[64];
        media_charset(resp, charset, sizeof charset);
        doc = htmlReadMemory(resp->body, (int)resp->body_len, NULL, charset[0] ? charset : NULL,
                             HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                 HTML_PARSE_NONET);
    } else {
        doc = xmlReadMemory(resp->body, (int)resp->body_len, NULL, NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    }
    xml_restore(&saved);
    if (!doc)
        return;
    if (too_big_for_xpath(doc)) {
        xmlFreeDoc(doc);
        resp->xml_state = -2;
        return;
    }
    resp->xml_doc = doc;
    resp->xml_state = 1;
}

/* ---- evaluation --------------------------------------------------------- */

/* An XPath number: an integer when it is one, else a real; NaN and the
 * infinities have no JSON form and are given as XPath writes them. */
static json_t *xpath_number(double d)
{
    if (isnan(d))
        return json_string("NaN");
    if (isinf(d))
        return json_string(d > 0 ? "Infinity" : "-Infinity");
    if (floor(d) == d && fabs(d) <= 9007199254740992.0)
        return json_integer((json_int_t)d);
    return json_real(d);
}

static tp_err eval_xpath(const struct tp_source *src, struct tp_response *resp,
                         struct tp_value *out, struct tp_error *err)
{
    struct xml_errbuf buf = {{0}, 0};
    struct xml_handlers saved;
    xmlXPathContextPtr ctx;
    xmlXPathObjectPtr res = NULL;
    xmlChar *text = NULL;
    tp_err rc = TP_OK;

    parse_markup(resp);
    if (resp->xml_state == -2)
        return tp_error_set(err, TP_ERR_LIMIT, "body too large or too deep for "
                            "XPath (%zu bytes; caps %u bytes, nodes x ancestor pairs %llu)",
                            resp->body_len, TP_XPATH_MAX_BODY, (unsigned long long)TP_XPATH_MAX_SHAPE);
    if (resp->xml_state != 1)
        return TP_OK;
    /* One context per document: a new one costs more than most evaluations. */
    if (!resp->xpath_ctx) {
        resp->xpath_ctx = xmlXPathNewContext(resp->xml_doc);
        if (!resp->xpath_ctx)
            return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    }
    ctx = resp->xpath_ctx;
    /* Each expression starts at the root, as in a fresh context. */
    ctx->node = (xmlNodePtr)resp->xml_doc;
    ctx->contextSize = -1;
    ctx->proximityPosition = -1;
    ctx->opLimit = TP_XPATH_MAX_OPS;
    ctx->opCount = 0;
    ctx->depth = 0;
    xmlResetError(&ctx->lastError);
    xml_quiet(&saved, &buf);
    res = xmlXPathCompiledEval(src->xpath, ctx);
    xml_restore(&saved);
    if (ctx->lastError.code == XPATH_CODE(XPATH_OP_LIMIT_EXCEEDED) ||
        ctx->lastError.code == XPATH_CODE(XPATH_RECURSION_LIMIT_EXCEEDED)) {
        rc = tp_error_set(err, TP_ERR_LIMIT, "XPath over its bounds (%lu "
                          "operations)", (unsigned long)TP_XPATH_MAX_OPS);
        goto done;
    }
    if (!res) {
        rc = tp_error_set(err, TP_ERR_INVALID, "XPath evaluation failed: %s",
                          buf.text[0] ? buf.text : "no result");
        goto done;
    }
    switch (res->type) {
    case XPATH_NODESET:
    case XPATH_XSLT_TREE:
        if (!res->nodesetval || res->nodesetval->nodeNr <= 0)
            break;
        text = xmlXPathCastNodeToString(res->nodesetval->nodeTab[0]);
        if (!text) {
            rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
            goto done;
        }
        out->value = tp_value_string((const char *)text, strlen((const char *)text));
        out->count = (size_t)res->nodesetval->nodeNr;
        break;
    case XPATH_STRING:
        out->value = tp_value_string(res->stringval ? (const char *)res->stringval : "",
                                     res->stringval ? strlen((const char *)res->stringval) : 0);
        out->count = 1;
        break;
    case XPATH_NUMBER:
        out->value = xpath_number(res->floatval);
        out->count = 1;
        break;
    case XPATH_BOOLEAN:
        out->value = json_boolean(res->boolval);
        out->count = 1;
        break;
    default:
        rc = tp_error_set(err, TP_ERR_INVALID, "XPath result of type %d is not supported",
                          (int)res->type);
        goto done;
    }
    if (out->count > 0 && !out->value) {
        out->count = 0;
        rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    }
done:
    xmlFree(text);
    xmlXPathFreeObject(res);
    return rc;
}

static tp_err eval_jsonpath(const struct tp_source *src, struct tp_response *resp,
                            struct tp_value *out, struct tp_error *err)
{
    struct tp_jsonpath_nodes nodes;
    tp_err rc = parse_json(resp, err);

    if (rc != TP_OK || resp->json_state != 1)
        return rc;
    memset(&nodes, 0, sizeof nodes);
    rc = tp_jsonpath_eval(src->jsonpath, resp->json, 0, &nodes);
    if (rc == TP_ERR_LIMIT)
        return tp_error_set(err, TP_ERR_LIMIT, "match()/search() over their bounds "
                            "(%lu regex steps, %u bytes of subject)", TP_REGEX_BUDGET,
                            TP_REGEX_MAX_SUBJECT);
    if (rc != TP_OK)
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    if (nodes.count > 0) {
        out->value = json_incref(nodes.values[0]);
        out->count = nodes.count;
    }
    tp_jsonpath_nodes_clear(&nodes);
    return TP_OK;
}

static tp_err eval_regex(const struct tp_source *src, const struct tp_response *resp,
                         struct tp_value *out, struct tp_error *err)
{
    size_t start = 0, len = 0;
    const char *body = resp->body ? resp->body : "";
    int m = tp_regex_search(src->regex, body, resp->body ? resp->body_len : 0, &start, &len);

    if (m == -2)
        return tp_error_set(err, TP_ERR_LIMIT, "regex over its bounds (%lu steps, "
                            "%u bytes of subject)", TP_REGEX_BUDGET, TP_REGEX_MAX_SUBJECT);
    if (m < 0)
        return tp_error_set(err, TP_ERR_INVALID, "regex matching failed (out of memory)");
    if (m == 0)
        return TP_OK;
    out->value = tp_value_string(body + start, len);
    if (!out->value)
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    out->count = 1;
    return TP_OK;
}

static const struct tp_cookie *find_cookie(const struct tp_response *resp, const char *name)
{
    for (size_t i = 0; i < resp->ncookies; i++)
        if (resp->cookies[i].name && strcmp(resp->cookies[i].name, name) == 0)
            return &resp->cookies[i];
    return NULL;
}

tp_err tp_source_eval(const struct tp_source *src, struct tp_response *resp, struct tp_value *out,
                      struct tp_error *err)
{
    const char *text = NULL;
    json_t *v = NULL;

    memset(out, 0, sizeof *out);
    if (!src || !resp)
        return tp_error_set(err, TP_ERR_INTERNAL, "no source or response to read");
    switch (src->kind) {
    case TP_SRC_JSONPATH:
        return eval_jsonpath(src, resp, out, err);
    case TP_SRC_XPATH:
        return eval_xpath(src, resp, out, err);
    case TP_SRC_REGEX:
        return eval_regex(src, resp, out, err);
    case TP_SRC_STATUS:
        v = json_integer((json_int_t)resp->status);
        break;
    case TP_SRC_HEADER:
        text = src->arg ? tp_response_header(resp, src->arg) : NULL;
        if (!text)
            return TP_OK;
        v = tp_value_string(text, strlen(text));
        break;
    case TP_SRC_COOKIE: {
        const struct tp_cookie *c = src->arg ? find_cookie(resp, src->arg) : NULL;
        if (!c)
            return TP_OK;
        text = c->value ? c->value : "";
        v = tp_value_string(text, strlen(text));
        break;
    }
    case TP_SRC_BODY:
        v = tp_value_string(resp->body ? resp->body : "", resp->body ? resp->body_len : 0);
        break;
    case TP_SRC_URL:
        if (!resp->effective_url)
            return TP_OK;
        v = tp_value_string(resp->effective_url, strlen(resp->effective_url));
        break;
    case TP_SRC_SIZE_BYTES:
        v = json_integer((json_int_t)resp->body_len);
        break;
    case TP_SRC_DURATION_MS:
    case TP_SRC_TTFB_MS:
    case TP_SRC_DNS_MS:
    case TP_SRC_CONNECT_MS:
    case TP_SRC_TLS_MS: {
        const struct tp_timings *t = &resp->timings;
        double ms = src->kind == TP_SRC_DURATION_MS  ? t->total_ms
                    : src->kind == TP_SRC_TTFB_MS    ? t->ttfb_ms
                    : src->kind == TP_SRC_DNS_MS     ? t->dns_ms
                    : src->kind == TP_SRC_CONNECT_MS ? t->connect_ms
                                                     : t->tls_ms;
        if (!isfinite(ms))
            return TP_OK;
        v = json_real(ms < 0 ? 0.0 : ms);
        break;
    }
    default:
        return tp_error_set(err, TP_ERR_INTERNAL, "unknown value source %d", (int)src->kind);
    }
    if (!v)
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    out->value = v;
    out->count = 1;
    return TP_OK;
}

void tp_value_clear(struct tp_value *v)
{
    if (!v)
        return;
    json_decref(v->value);
    memset(v, 0, sizeof *v);
}

const char *tp_source_describe(const struct tp_source *src, char *buf, size_t size)
{
    const char *name = "?";
    int n;

    if (size == 0)
        return buf;
    for (size_t i = 0; src && i < sizeof sources / sizeof sources[0]; i++)
        if (sources[i].kind == src->kind)
            name = sources[i].name;
    if (src && src->arg)
        n = snprintf(buf, size, "%s %s", name, src->arg);
    else
        n = snprintf(buf, size, "%s", name);
    if (n > 0 && (size_t)n >= size)
        buf[tp_utf8_clip(buf, size - 1)] = '\0';
    return buf;
}

int tp_regex_search(const struct tp_regex *re, const char *subject, size_t len, size_t *start,
                    size_t *match_len)
{
    unsigned long budget = TP_REGEX_BUDGET;
    return tp_regex_search_budget(re, subject, len, &budget, start, match_len);
}

int tp_regex_search_budget(const struct tp_regex *re, const char *subject, size_t len,
                           unsigned long *budget, size_t *start, size_t *match_len)
{
    pcre2_match_data *md;
    PCRE2_SIZE *ov;
    int rc, result;

    if (!re || !re->code)
        return -1;
    if (!subject) {
        subject = "";
        len = 0;
    }
    md = pcre2_match_data_create_from_pattern(re->code, NULL);
    if (!md)
        return -1;
    rc = tp_rematch(re->code, subject, len, md, budget);
    if (rc == PCRE2_ERROR_NOMATCH) {
        result = 0;
        goto done;
    }
    if (rc < 0) {
        result = rc == TP_REMATCH_LIMIT ? -2 : -1;
        goto done;
    }
    ov = pcre2_get_ovector_pointer(md);
    /* Group 1 when the pattern has one and it took part in the match. */
    if ((rc == 0 || rc >= 2) && pcre2_get_ovector_count(md) >= 2 && ov[2] != PCRE2_UNSET)
        ov += 2;
    *start = ov[0];
    *match_len = ov[1] >= ov[0] ? ov[1] - ov[0] : 0; /* \K can put the end first */
    result = 1;
done:
    pcre2_match_data_free(md);
    return result;
}
