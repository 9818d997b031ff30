/* A finished HTTP response held in memory, and the values sources read from it.
 * http.c fills it after the transfer; extract.c and check.c only read it (parsed
 * body caches aside). Phases are milliseconds, never negative. */
#ifndef TWINPROBE_RESPONSE_H
#define TWINPROBE_RESPONSE_H

#include <jansson.h>
#include <stddef.h>

struct tp_header {
    char *name;
    char *value;
};

struct tp_cookie {
    char *name;
    char *value;
    char *domain;
    char *path;
};

/* Phases of one transfer (DESIGN.md §Running), from CURLINFO_*_TIME_T. */
struct tp_timings {
    double dns_ms;      /* name lookup */
    double connect_ms;  /* TCP connect; 0 on a reused connection */
    double tls_ms;      /* TLS handshake; 0 on plain HTTP or reuse */
    double ttfb_ms;     /* server wait: request sent to first byte */
    double download_ms; /* first byte to last */
    double total_ms;
};

struct tp_response {
    long status;                 /* final status (after followed redirects); 0 if none */
    struct tp_header *headers;   /* the final response's headers, in order */
    size_t nheaders;
    struct tp_cookie *cookies;   /* the journey run's cookie jar after this transfer
                                    (filled only for a step that reads a cookie) */
    size_t ncookies;
    char *body;                  /* NUL-terminated (the NUL is not counted) */
    size_t body_len;
    char *effective_url;
    struct tp_timings timings;
    int reused;                  /* connection was reused */
    char http_version[8];        /* "1.1", "2", "3" */
    char primary_ip[64];
    unsigned redirects;          /* hops followed */
    /* Parsed-body caches, filled on first use by extract.c; freed by tp_response_clear. */
    json_t *json;                /* parsed JSON body, or NULL */
    int json_state;              /* 0 not tried, 1 parsed, -1 not JSON */
    void *xml_doc;               /* xmlDocPtr (HTML or XML), or NULL */
    void *xpath_ctx;             /* xmlXPathContextPtr on xml_doc, or NULL */
    int xml_state;               /* 0 not tried, 1 parsed, -1 failed */
};

/* The first header named name (case-insensitive), or NULL. Borrowed. */
const char *tp_response_header(const struct tp_response *r, const char *name);

/* The Content-Type without parameters, lower case, in buf; "" when absent. */
const char *tp_response_media_type(const struct tp_response *r, char *buf, size_t size);

/* Frees the parsed markup cache (xml_doc, xpath_ctx) and resets xml_state, so a
 * later XPath evaluation parses the body again. Body, headers and the JSON cache
 * stay. NULL is a no-op. */
void tp_response_drop_markup(struct tp_response *r);

/* Frees the parsed JSON cache and the copy of the cookie jar, which only the
 * step's own evaluation reads: the runner drops them once the step is judged,
 * the comparison parses a body again when it needs it and drops it after the
 * round, so parsed bodies never pile up over the rounds (a parsed 8 MiB JSON
 * body takes a hundred MiB or more). Body, headers and timings stay. NULL is a
 * no-op. */
void tp_response_drop_parsed(struct tp_response *r);

/* Frees everything r owns and zeroes it. NULL is a no-op. */
void tp_response_clear(struct tp_response *r);

#endif
