/* A finished HTTP response in memory: header lookup, media type, release. */
#include "twinprobe/response.h"

#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <stdlib.h>
#include <string.h>

static char ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Header names compare case-insensitively in ASCII, whatever the locale. */
static int name_equal(const char *a, const char *b)
{
    while (*a && *b) {
        if (ascii_lower(*a) != ascii_lower(*b))
            return 0;
        a++;
        b++;
    }
    return *a == *b;
}

const char *tp_response_header(const struct tp_response *r, const char *name)
{
    if (!r || !name)
        return NULL;
    for (size_t i = 0; i < r->nheaders; i++)
        if (r->headers[i].name && name_equal(r->headers[i].name, name))
            return r->headers[i].value ? r->headers[i].value : "";
    return NULL;
}

const char *tp_response_media_type(const struct tp_response *r, char *buf, size_t size)
{
    const char *v, *end;
    size_t n = 0;

    if (size == 0)
        return buf;
    buf[0] = '\0';
    v = tp_response_header(r, "Content-Type");
    if (!v)
        return buf;
    while (*v == ' ' || *v == '\t')
        v++;
    end = v;
    while (*end && *end != ';')
        end++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    for (const char *p = v; p < end && n + 1 < size; p++)
        buf[n++] = ascii_lower(*p);
    buf[n] = '\0';
    return buf;
}

void tp_response_drop_markup(struct tp_response *r)
{
    if (!r)
        return;
    xmlXPathFreeContext(r->xpath_ctx); /* before the document it points into */
    if (r->xml_doc)
        xmlFreeDoc(r->xml_doc);
    r->xpath_ctx = NULL;
    r->xml_doc = NULL;
    r->xml_state = 0;
}

void tp_response_drop_parsed(struct tp_response *r)
{
    if (!r)
        return;
    json_decref(r->json);
    r->json = NULL;
    r->json_state = 0;
    for (size_t i = 0; i < r->ncookies; i++) {
        free(r->cookies[i].name);
        free(r->cookies[i].value);
        free(r->cookies[i].domain);
        free(r->cookies[i].path);
    }
    free(r->cookies);
    r->cookies = NULL;
    r->ncookies = 0;
    tp_response_drop_markup(r);
}

void tp_response_clear(struct tp_response *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nheaders; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    tp_response_drop_parsed(r);
    free(r->body);
    free(r->effective_url);
    memset(r, 0, sizeof *r);
}
