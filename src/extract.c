/* Value sources: the name table, compilation of their expressions. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "twinprobe/extract.h"

#include <libxml/xmlerror.h>
#include <libxml/xpath.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    re->code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &code,
                             &offset, NULL);
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

/* libxml2 reports XPath syntax errors through a handler; keep the first message. */
struct xml_errbuf {
    char text[256];
};

static void xml_error_handler(void *ctx, xmlErrorPtr e)
{
    struct xml_errbuf *buf = ctx;
    if (buf->text[0] || !e || !e->message)
        return;
    snprintf(buf->text, sizeof buf->text, "%s", e->message);
    size_t n = strlen(buf->text);
    while (n > 0 && (buf->text[n - 1] == '\n' || buf->text[n - 1] == ' '))
        buf->text[--n] = '\0';
}

static tp_err compile_xpath(const char *expr, void **out, struct tp_error *err)
{
    struct xml_errbuf buf = {{0}};
    xmlStructuredErrorFunc old_fn = xmlStructuredError;
    void *old_ctx = xmlStructuredErrorContext;
    xmlXPathCompExprPtr comp;

    xmlSetStructuredErrorFunc(&buf, xml_error_handler);
    comp = xmlXPathCompile((const xmlChar *)expr);
    xmlSetStructuredErrorFunc(old_ctx, old_fn);
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
        rc = tp_jsonpath_compile(arg, &src->jsonpath, err);
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
