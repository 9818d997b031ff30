/* One HTTP transfer over a libcurl easy handle: options from a prepared
 * request, a capped body buffer and the final response's headers filled by
 * the callbacks (which only copy bytes), then timings, cookies and the failure
 * class read once the transfer is done. */
#include "twinprobe/http.h"

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "twinprobe/strbuf.h"
#include "twinprobe/utf8.h"

/* Header bytes kept for one response; past this the transfer stops
 * (TP_FAIL_PROTOCOL) so a server cannot grow the list without bound. */
#define HEADER_BYTES_MAX (256u * 1024u)

/* First allocation of a body buffer; it doubles from there (up to max_body + 1)
 * and is cut to its length when the transfer ends. Most bodies are small. */
#define BODY_START 1024u

/* libcurl's receive buffer (CURLOPT_BUFFERSIZE), allocated for each transfer while
 * it runs. libcurl's 16 KiB made 1,000 transfers in flight hold 16 MiB of them
 * (docs/PERFORMANCE.md, "Many journeys at once"); most bodies fit in 4 KiB, and a
 * bigger one takes more reads of it. */
#define RECV_BUFFER 4096L

struct tp_http_transfer {
    CURL *easy;                 /* borrowed */
    struct tp_http_request req; /* taken from the caller */
    curl_mime *mime;
    struct curl_slist *connect_to; /* the one CONNECT_TO entry */
    char errbuf[CURL_ERROR_SIZE];
    char *body; /* cap bytes allocated, never more than max_body + 1 */
    size_t body_len;
    size_t body_cap;
    struct tp_header *headers; /* the current response's headers */
    size_t nheaders;
    size_t headers_cap;
    size_t header_bytes;
    int got_response;   /* a status line arrived */
    int body_capped;    /* the write callback stopped at max_body */
    int headers_capped; /* the header callback stopped at HEADER_BYTES_MAX */
    int oom;            /* a callback ran out of memory */
    struct timespec first_status; /* CLOCK_MONOTONIC when the first status line came */
    /* Kept for tp_http_transfer_trace, only when req.trace is set. */
    struct tp_strbuf sent_headers; /* the first request's header block as sent */
    struct tp_strbuf sent_body;    /* a multipart body as sent, up to max_body + 1 bytes */
    size_t sent_body_len;          /* multipart bytes sent in all */
    char *status_line;             /* the final response's status line */
    int later_hop;                 /* a redirect hop went out: the first request is kept */
    /* Redirects (follow_redirects): the hop's status and URL, to see where a
     * Location leads before libcurl follows it. */
    int hop_status;
    char *hop_url;                   /* the current hop's URL (NULL: req.url) */
    struct curl_slist *cross_headers; /* req.headers without the journey's own */
    int cross_origin;                /* a hop left the first origin: cross_headers sent */
    int downgrade;                   /* refused: a redirect from https to http */
};

void tp_http_request_clear(struct tp_http_request *req)
{
    if (!req)
        return;
    free(req->method);
    free(req->url);
    curl_slist_free_all(req->headers);
    free(req->body);
    for (size_t i = 0; i < req->nparts; i++) {
        free(req->parts[i].name);
        free(req->parts[i].value);
        free(req->parts[i].file);
        free(req->parts[i].filename);
        free(req->parts[i].content_type);
    }
    free(req->parts);
    memset(req, 0, sizeof *req);
}

/* ---- callbacks: copy bytes, nothing else ------------------------------- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct tp_http_transfer *x = userdata;
    size_t n = size * nmemb, max = x->req.max_body;

    if (n > max - x->body_len) {
        x->body_capped = 1;
        return 0; /* CURLE_WRITE_ERROR */
    }
    if (x->body_len + n + 1 > x->body_cap) {
        size_t cap = x->body_cap ? x->body_cap : BODY_START;
        char *p;
        while (cap < x->body_len + n + 1)
            cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
        if (max < SIZE_MAX && cap > max + 1)
            cap = max + 1;
        p = realloc(x->body, cap);
        if (!p) {
            x->oom = 1;
            return 0;
        }
        x->body = p;
        x->body_cap = cap;
    }
    memcpy(x->body + x->body_len, data, n);
    x->body_len += n;
    return n;
}

static void drop_headers(struct tp_http_transfer *x)
{
    for (size_t i = 0; i < x->nheaders; i++) {
        free(x->headers[i].name);
        free(x->headers[i].value);
    }
    x->nheaders = 0;
    x->header_bytes = 0;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static char *copy_range(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* Headers twinprobe sends to any origin: its own (DESIGN.md) and the body's
 * framing. Every other header came from the journey, the step or the target
 * (X-Api-Key, Authorization, a canary's selector) and goes to the first origin
 * only. */
static int sent_everywhere(const char *line)
{
    static const char *const names[] = {"User-Agent", "traceparent", "Content-Type", "Expect"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t n = strlen(names[i]);
        if (strncasecmp(line, names[i], n) == 0 && (line[n] == ':' || line[n] == ';'))
            return 1;
    }
    return 0;
}

/* scheme, host and port (the default one when none is given) of url, each
 * new; 0, or -1 when url does not parse (or no memory). */
static int origin_of(CURLU *u, char **scheme, char **host, char **port)
{
    *scheme = *host = *port = NULL;
    if (curl_url_get(u, CURLUPART_SCHEME, scheme, 0) ||
        curl_url_get(u, CURLUPART_HOST, host, 0) ||
        curl_url_get(u, CURLUPART_PORT, port, CURLU_DEFAULT_PORT)) {
        curl_free(*scheme);
        curl_free(*host);
        curl_free(*port);
        *scheme = *host = *port = NULL;
        return -1;
    }
    return 0;
}

/* A Location of a 3xx hop that libcurl is about to follow: resolved against the
 * hop's URL and compared with the request's first URL. From https to http: 0
 * (the transfer ends, failure protocol). To another scheme, host or port: from
 * then on only the headers twinprobe sends everywhere go out (the journey's,
 * the step's and the target's headers and cookie header stay with the first
 * origin; libcurl's cookie jar keeps to its domains by itself). Else 1. */
static int check_redirect(struct tp_http_transfer *x, const char *location, size_t len)
{
    CURLU *first = curl_url(), *next = curl_url();
    char *loc = copy_range(location, len), *url = NULL;
    char *s0 = NULL, *h0 = NULL, *p0 = NULL, *s1 = NULL, *h1 = NULL, *p1 = NULL;
    int ok = 1;

    if (!first || !next || !loc || curl_url_set(first, CURLUPART_URL, x->req.url, 0) ||
        curl_url_set(next, CURLUPART_URL, x->hop_url ? x->hop_url : x->req.url, 0) ||
        curl_url_set(next, CURLUPART_URL, loc, 0) ||
        curl_url_get(next, CURLUPART_URL, &url, 0) || origin_of(first, &s0, &h0, &p0) ||
        origin_of(next, &s1, &h1, &p1))
        goto done; /* libcurl refuses what does not parse; nothing to decide here */
    if (strcasecmp(s0, "https") == 0 && strcasecmp(s1, "http") == 0) {
        x->downgrade = 1;
        ok = 0;
        goto done;
    }
    if (!x->cross_origin &&
        (strcasecmp(s0, s1) != 0 || strcasecmp(h0, h1) != 0 || strcmp(p0, p1) != 0)) {
        x->cross_origin = 1;
        /* read by libcurl when it builds the next hop's request */
        curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->cross_headers);
        curl_easy_setopt(x->easy, CURLOPT_COOKIE, NULL);
    }
    free(x->hop_url);
    x->hop_url = strdup(url);
    if (!x->hop_url) {
        x->oom = 1;
        ok = 0;
    }
done:
    curl_free(s0);
    curl_free(h0);
    curl_free(p0);
    curl_free(s1);
    curl_free(h1);
    curl_free(p1);
    curl_free(url);
    free(loc);
    curl_url_cleanup(first);
    curl_url_cleanup(next);
    return ok;
}

/* A status line starts a new response (redirect hop, 1xx): the headers so far
 * are dropped. "Name: value" lines are kept trimmed; folded lines ignored. */
static size_t on_header(char *line, size_t size, size_t nitems, void *userdata)
{
    struct tp_http_transfer *x = userdata;
    size_t n = size * nitems, end = n, colon, vstart, nend;
    struct tp_header *h;

    if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        drop_headers(x);
        if (!x->got_response)
            clock_gettime(CLOCK_MONOTONIC, &x->first_status); /* a timestamp, no parsing */
        x->got_response = 1;
        x->hop_status = 0;
        for (size_t i = 5; i + 3 < n; i++)
            if (line[i] == ' ') {
                if (line[i + 1] >= '1' && line[i + 1] <= '5')
                    x->hop_status = (line[i + 1] - '0') * 100 + (line[i + 2] - '0') * 10 +
                                    (line[i + 3] - '0');
                break;
            }
        if (x->req.trace) {
            while (end > 0 && is_blank(line[end - 1]))
                end--;
            free(x->status_line);
            x->status_line = copy_range(line, end); /* NULL: the trace goes without */
        }
        return n;
    }
    if (n == 0 || line[0] == ' ' || line[0] == '\t')
        return n;
    while (end > 0 && is_blank(line[end - 1]))
        end--;
    for (colon = 0; colon < end && line[colon] != ':'; colon++)
        ;
    if (colon == 0 || colon == end)
        return n;
    if (x->req.follow_redirects && x->hop_status >= 300 && x->hop_status <= 399 &&
        colon == 8 && strncasecmp(line, "Location", 8) == 0) {
        for (vstart = colon + 1; vstart < end && is_blank(line[vstart]); vstart++)
            ;
        if (vstart < end && !check_redirect(x, line + vstart, end - vstart))
            return 0;
    }
    if (n > HEADER_BYTES_MAX - x->header_bytes) {
        x->headers_capped = 1;
        return 0;
    }
    x->header_bytes += n;
    for (nend = colon; nend > 0 && is_blank(line[nend - 1]); nend--)
        ;
    for (vstart = colon + 1; vstart < end && is_blank(line[vstart]); vstart++)
        ;
    if (x->nheaders == x->headers_cap) {
        size_t cap = x->headers_cap ? x->headers_cap * 2 : 16;
        struct tp_header *p = realloc(x->headers, cap * sizeof *p);
        if (!p) {
            x->oom = 1;
            return 0;
        }
        x->headers = p;
        x->headers_cap = cap;
    }
    h = &x->headers[x->nheaders];
    h->name = copy_range(line, nend);
    h->value = copy_range(line + vstart, end - vstart);
    if (!h->name || !h->value) {
        free(h->name);
        free(h->value);
        x->oom = 1;
        return 0;
    }
    x->nheaders++;
    return n;
}

/* Body bytes a trace shows: TP_HTTP_TRACE_BODY at level 1, up to the body cap at
 * level 2. */
static size_t trace_limit(const struct tp_http_transfer *x)
{
    return x->req.trace >= 2 ? x->req.max_body : TP_HTTP_TRACE_BODY;
}

/* CURLOPT_DEBUGFUNCTION, set only with req.trace: copies the first request's
 * header block and a multipart body (which only libcurl ever holds whole) up to
 * the body cap plus one byte, so that the trace can mask it whole before it
 * cuts it. A copy that runs out of memory is left out of the trace, never out
 * of the transfer. */
static int on_debug(CURL *e, curl_infotype type, char *data, size_t n, void *userdata)
{
    struct tp_http_transfer *x = userdata;

    (void)e;
    if (type == CURLINFO_HEADER_OUT) {
        if (x->got_response)
            x->later_hop = 1;
        else if (!x->later_hop)
            (void)tp_strbuf_add(&x->sent_headers, data, n);
    } else if (type == CURLINFO_DATA_OUT && x->mime && !x->later_hop) {
        size_t keep = x->req.max_body < SIZE_MAX ? x->req.max_body + 1 : SIZE_MAX;
        size_t room = keep > x->sent_body.len ? keep - x->sent_body.len : 0;
        (void)tp_strbuf_add(&x->sent_body, data, n < room ? n : room);
        x->sent_body_len += n;
    }
    return 0;
}

/* ---- start --------------------------------------------------------------- */

/* The multipart body through curl_mime. A file that cannot be read now is
 * TP_ERR_IO: better before the request than half-way through it. */
static tp_err build_mime(struct tp_http_transfer *x, struct tp_error *err)
{
    x->mime = curl_mime_init(x->easy);
    if (!x->mime)
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < x->req.nparts; i++) {
        const struct tp_http_part *p = &x->req.parts[i];
        curl_mimepart *part = curl_mime_addpart(x->mime);
        CURLcode cc;

        if (!part)
            return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        cc = curl_mime_name(part, p->name);
        if (!cc && p->file) {
            struct stat st;
            if (stat(p->file, &st) != 0 || !S_ISREG(st.st_mode) || access(p->file, R_OK) != 0)
                return tp_error_set(err, TP_ERR_IO,
                                    "multipart part \"%s\": cannot read the file %s", p->name,
                                    p->file);
            cc = curl_mime_filedata(part, p->file);
        } else if (!cc) {
            cc = curl_mime_data(part, p->value ? p->value : "", CURL_ZERO_TERMINATED);
        }
        if (!cc && p->filename)
            cc = curl_mime_filename(part, p->filename);
        if (!cc && p->content_type)
            cc = curl_mime_type(part, p->content_type);
        if (cc == CURLE_READ_ERROR)
            return tp_error_set(err, TP_ERR_IO, "multipart part \"%s\": cannot read the file %s",
                                p->name, p->file ? p->file : "");
        if (cc)
            return tp_error_set(err, TP_ERR_INTERNAL, "multipart part \"%s\": %s", p->name,
                                curl_easy_strerror(cc));
    }
    return TP_OK;
}

/* Method and body: HEAD without a body (NOBODY), GET plain, POST with
 * POSTFIELDS (also an empty one), every other method by name with its body
 * when it has one. */
static CURLcode set_method(struct tp_http_transfer *x)
{
    CURL *e = x->easy;
    const struct tp_http_request *r = &x->req;
    const char *m = r->method ? r->method : "GET";
    int is_post = strcmp(m, "POST") == 0;
    CURLcode cc = CURLE_OK;

    if (strcmp(m, "HEAD") == 0)
        return curl_easy_setopt(e, CURLOPT_NOBODY, 1L); /* a body would be left out */
    if (x->mime) {
        cc = curl_easy_setopt(e, CURLOPT_MIMEPOST, x->mime);
    } else if (r->body || is_post) {
        cc = curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                              (curl_off_t)(r->body ? r->body_len : 0));
        if (!cc)
            cc = curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body ? r->body : "");
    } else if (strcmp(m, "GET") == 0) {
        return curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
    if (!cc && !is_post)
        cc = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
    return cc;
}

static CURLcode set_options(struct tp_http_transfer *x)
{
    CURL *e = x->easy;
    const struct tp_http_request *r = &x->req;
    CURLcode cc = curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);

    if (!cc)
        cc = curl_easy_setopt(e, CURLOPT_URL, r->url);
    if (!cc)
        cc = curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (!cc)
        cc = curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    if (!cc)
        cc = curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    if (!cc)
        cc = curl_easy_setopt(e, CURLOPT_BUFFERSIZE, RECV_BUFFER);
    if (!cc)
        cc = curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, r->timeout_ms);
    if (!cc)
        cc = curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, r->connect_timeout_ms);
    if (!cc)
        cc = curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, r->follow_redirects ? 1L : 0L);
    if (!cc)
        cc = curl_easy_setopt(e, CURLOPT_MAXREDIRS, r->max_redirects);
    if (!cc && x->connect_to)
        cc = curl_easy_setopt(e, CURLOPT_CONNECT_TO, x->connect_to);
    if (!cc && r->ca_file)
        cc = curl_easy_setopt(e, CURLOPT_CAINFO, r->ca_file);
    if (!cc && r->insecure)
        cc = curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    if (!cc && r->insecure)
        cc = curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    /* The cookie engine with an in-memory jar that stays with the handle.
     * Not CURLOPT_COOKIEFILE "": libcurl 7.88.1 leaks that option's list on
     * every curl_easy_reset (curl/curl#10694, fixed in 8.0.0). A cookie line
     * also turns the engine on (CURLOPT_COOKIELIST), and a comment line adds
     * no cookie. */
    if (!cc)
        cc = curl_easy_setopt(e, CURLOPT_COOKIELIST, "# twinprobe: cookie engine on");
    if (!cc && r->cookie)
        cc = curl_easy_setopt(e, CURLOPT_COOKIE, r->cookie);
    if (!cc && r->fresh_connect)
        cc = curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    if (!cc && r->headers)
        cc = curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    if (!cc)
        cc = set_method(x);
    if (!cc)
        cc = curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    if (!cc)
        cc = curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    if (!cc)
        cc = curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    if (!cc)
        cc = curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    if (!cc && r->trace)
        cc = curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, on_debug);
    if (!cc && r->trace)
        cc = curl_easy_setopt(e, CURLOPT_DEBUGDATA, x);
    if (!cc && r->trace)
        cc = curl_easy_setopt(e, CURLOPT_VERBOSE, 1L); /* to on_debug, never to stderr */
    return cc;
}

tp_err tp_http_transfer_start(CURL *easy, struct tp_http_request *req, tp_http_transfer **out,
                              struct tp_error *err)
{
    struct tp_http_transfer *x = NULL;
    CURLcode cc;
    tp_err rc;

    *out = NULL;
    if (!easy || !req || !req->url) {
        tp_http_request_clear(req);
        return tp_error_set(err, TP_ERR_INTERNAL, "tp_http_transfer_start: missing argument");
    }
    x = calloc(1, sizeof *x);
    if (!x) {
        tp_http_request_clear(req);
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    }
    x->easy = easy;
    x->req = *req;
    memset(req, 0, sizeof *req);
    curl_easy_reset(easy);
    if (x->req.connect_to) {
        x->connect_to = curl_slist_append(NULL, x->req.connect_to);
        if (!x->connect_to) {
            rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
            goto fail;
        }
    }
    for (struct curl_slist *h = x->req.follow_redirects ? x->req.headers : NULL; h; h = h->next) {
        struct curl_slist *next;
        if (!sent_everywhere(h->data))
            continue;
        if (!(next = curl_slist_append(x->cross_headers, h->data))) {
            rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
            goto fail;
        }
        x->cross_headers = next;
    }
    if (x->req.parts) {
        rc = build_mime(x, err);
        if (rc)
            goto fail;
    }
    cc = set_options(x);
    if (cc) {
        rc = tp_error_set(err, cc == CURLE_OUT_OF_MEMORY ? TP_ERR_NOMEM : TP_ERR_INTERNAL,
                          "cannot set up the transfer: %s",
                          x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc));
        goto fail;
    }
    *out = x;
    return TP_OK;

fail:
    tp_http_transfer_free(x);
    return rc;
}

/* ---- finish -------------------------------------------------------------- */

/* CURLcode -> failure class; anything not listed is TP_FAIL_INTERNAL. */
static const struct {
    CURLcode code;
    enum tp_failure failure;
} failure_table[] = {
    {CURLE_UNSUPPORTED_PROTOCOL, TP_FAIL_PROTOCOL},
    {CURLE_URL_MALFORMAT, TP_FAIL_PROTOCOL},
    {CURLE_COULDNT_RESOLVE_PROXY, TP_FAIL_DNS},
    {CURLE_COULDNT_RESOLVE_HOST, TP_FAIL_DNS},
    {CURLE_COULDNT_CONNECT, TP_FAIL_CONNECT},
    {CURLE_WEIRD_SERVER_REPLY, TP_FAIL_PROTOCOL},
    {CURLE_HTTP2, TP_FAIL_PROTOCOL},
    {CURLE_PARTIAL_FILE, TP_FAIL_PROTOCOL},
    {CURLE_OPERATION_TIMEDOUT, TP_FAIL_TIMEOUT},
    {CURLE_SSL_CONNECT_ERROR, TP_FAIL_TLS},
    {CURLE_TOO_MANY_REDIRECTS, TP_FAIL_PROTOCOL},
    {CURLE_GOT_NOTHING, TP_FAIL_PROTOCOL},
    {CURLE_SSL_ENGINE_NOTFOUND, TP_FAIL_TLS},
    {CURLE_SSL_ENGINE_SETFAILED, TP_FAIL_TLS},
    {CURLE_SSL_CERTPROBLEM, TP_FAIL_TLS},
    {CURLE_SSL_CIPHER, TP_FAIL_TLS},
    {CURLE_PEER_FAILED_VERIFICATION, TP_FAIL_TLS},
    {CURLE_BAD_CONTENT_ENCODING, TP_FAIL_PROTOCOL},
    {CURLE_FILESIZE_EXCEEDED, TP_FAIL_BODY_TOO_LARGE},
    {CURLE_USE_SSL_FAILED, TP_FAIL_TLS},
    {CURLE_SSL_ENGINE_INITFAILED, TP_FAIL_TLS},
    {CURLE_SSL_CACERT_BADFILE, TP_FAIL_TLS},
    {CURLE_SSL_SHUTDOWN_FAILED, TP_FAIL_TLS},
    {CURLE_SSL_CRL_BADFILE, TP_FAIL_TLS},
    {CURLE_SSL_ISSUER_ERROR, TP_FAIL_TLS},
    {CURLE_SSL_PINNEDPUBKEYNOTMATCH, TP_FAIL_TLS},
    {CURLE_SSL_INVALIDCERTSTATUS, TP_FAIL_TLS},
    {CURLE_HTTP2_STREAM, TP_FAIL_PROTOCOL},
    {CURLE_SSL_CLIENTCERT, TP_FAIL_TLS},
    {CURLE_HTTP3, TP_FAIL_PROTOCOL},
    {CURLE_QUIC_CONNECT_ERROR, TP_FAIL_CONNECT},
};

static enum tp_failure classify(const struct tp_http_transfer *x, CURLcode result)
{
    if (result == CURLE_OK)
        return TP_FAIL_NONE;
    if (result == CURLE_WRITE_ERROR) {
        if (x->downgrade)
            return TP_FAIL_PROTOCOL;
        if (x->body_capped)
            return TP_FAIL_BODY_TOO_LARGE;
        if (x->headers_capped)
            return TP_FAIL_PROTOCOL;
        return TP_FAIL_INTERNAL;
    }
    if (result == CURLE_RECV_ERROR || result == CURLE_SEND_ERROR)
        return x->got_response ? TP_FAIL_PROTOCOL : TP_FAIL_CONNECT;
    for (size_t i = 0; i < sizeof failure_table / sizeof failure_table[0]; i++)
        if (failure_table[i].code == result)
            return failure_table[i].failure;
    return TP_FAIL_INTERNAL;
}

/* "host:port" of url in buf ("" when it does not parse). */
static const char *host_port(const char *url, char *buf, size_t size)
{
    CURLU *u = url ? curl_url() : NULL;
    char *host = NULL, *port = NULL;

    buf[0] = '\0';
    if (u && !curl_url_set(u, CURLUPART_URL, url, 0) &&
        !curl_url_get(u, CURLUPART_HOST, &host, 0) &&
        !curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT))
        snprintf(buf, size, "%s:%s", host, port);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return buf;
}

/* The scheme of url with "://" in buf ("file://"), "" when it has none. */
static const char *scheme_prefix(const char *url, char *buf, size_t size)
{
    const char *colon = url ? strchr(url, ':') : NULL;

    buf[0] = '\0';
    if (colon && colon > url && (size_t)(colon - url) + 4 <= size)
        snprintf(buf, size, "%.*s://", (int)(colon - url), url);
    return buf;
}

/* "CLASS: detail" for a person, "" without a failure. Never request headers,
 * bodies or cookies. */
static void describe(const struct tp_http_transfer *x, CURLcode result, enum tp_failure f,
                     const struct tp_response *resp, curl_off_t connect_us, char *msg, size_t size)
{
    const char *name = tp_failure_name(f);
    const char *detail = x->errbuf[0] ? x->errbuf : curl_easy_strerror(result);
    const char *url = resp->effective_url ? resp->effective_url : x->req.url;
    char hp[300];

    if (f == TP_FAIL_NONE) {
        snprintf(msg, size, "%s", "");
        return; /* the common case: no URL to parse */
    }
    host_port(url, hp, sizeof hp);
    switch (f) {
    case TP_FAIL_TIMEOUT:
        if (!x->got_response && connect_us == 0 && !resp->reused)
            snprintf(msg, size, "timeout: no connection to %s within %ld ms", hp,
                     x->req.connect_timeout_ms < x->req.timeout_ms ? x->req.connect_timeout_ms
                                                                   : x->req.timeout_ms);
        else if (!x->got_response)
            snprintf(msg, size, "timeout: no response within %ld ms (%s)", x->req.timeout_ms, hp);
        else
            snprintf(msg, size,
                     "timeout: response not complete within %ld ms (%s, %zu body "
                     "bytes so far)",
                     x->req.timeout_ms, hp, resp->body_len);
        break;
    case TP_FAIL_BODY_TOO_LARGE:
        snprintf(msg, size, "body_too_large: body over the %zu-byte cap", x->req.max_body);
        break;
    case TP_FAIL_PROTOCOL:
        if (result == CURLE_UNSUPPORTED_PROTOCOL && resp->redirects > 0) {
            char scheme[40];
            snprintf(msg, size, "protocol: redirect to a disallowed scheme (%s)",
                     scheme_prefix(url, scheme, sizeof scheme));
        } else if (x->downgrade) {
            snprintf(msg, size, "protocol: refused a redirect from https to http (%s)", hp);
        } else if (result == CURLE_TOO_MANY_REDIRECTS)
            snprintf(msg, size, "protocol: more than %ld redirects (%s)", x->req.max_redirects, hp);
        else if (x->headers_capped)
            snprintf(msg, size, "protocol: response headers over %u bytes (%s)", HEADER_BYTES_MAX,
                     hp);
        else
            snprintf(msg, size, "protocol: %s (%s)", detail, hp);
        break;
    case TP_FAIL_CONNECT: {
        /* curl 7.88 says "Couldn't connect to server"; the errno says why */
        char why[128] = "";
        long os_errno = 0;
        curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &os_errno);
        if (os_errno > 0 && os_errno <= INT_MAX && strerror_r((int)os_errno, why, sizeof why) != 0)
            why[0] = '\0';
        if (result == CURLE_COULDNT_CONNECT)
            snprintf(msg, size, "connect: %s%s%s%s", detail, why[0] ? " (" : "", why,
                     why[0] ? ")" : "");
        else
            snprintf(msg, size, "connect: %s (%s)", detail, hp);
        break;
    }
    case TP_FAIL_INTERNAL:
        snprintf(msg, size, "internal: %s", x->oom ? "out of memory" : detail);
        break;
    default:
        snprintf(msg, size, "%s: %s", name ? name : "internal", detail);
        break;
    }
}

static double ms_between(curl_off_t from_us, curl_off_t to_us)
{
    return to_us > from_us ? (double)(to_us - from_us) / 1000.0 : 0.0;
}

/* libcurl before 8.3.0 sets STARTTRANSFER when it starts sending a request body
 * (curl/curl#11669), which puts the server's wait into "download" for every POST.
 * Then the first byte's time comes from our own timestamp of the first status
 * line: total minus the time from that line to now (the transfer just ended). */
static curl_off_t first_byte_us(const struct tp_http_transfer *x, curl_off_t start,
                                curl_off_t pre, curl_off_t total)
{
    struct timespec now;
    long long since_us;
    if (!x->req.body && !x->mime)
        return start;
    if (curl_version_info(CURLVERSION_NOW)->version_num >= 0x080300 || !x->got_response)
        return start;
    clock_gettime(CLOCK_MONOTONIC, &now);
    since_us = (long long)(now.tv_sec - x->first_status.tv_sec) * 1000000 +
               (now.tv_nsec - x->first_status.tv_nsec) / 1000;
    if (since_us < 0 || total - since_us <= pre)
        return total; /* no better clock: a small reply's time is all server wait */
    return total - since_us;
}

static void read_timings(const struct tp_http_transfer *x, CURL *e, struct tp_response *resp,
                         curl_off_t *connect_us)
{
    curl_off_t lookup = 0, conn = 0, app = 0, pre = 0, start = 0, total = 0;
    long nconnects = 0;
    struct tp_timings *t = &resp->timings;

    curl_easy_getinfo(e, CURLINFO_NAMELOOKUP_TIME_T, &lookup);
    curl_easy_getinfo(e, CURLINFO_CONNECT_TIME_T, &conn);
    curl_easy_getinfo(e, CURLINFO_APPCONNECT_TIME_T, &app);
    curl_easy_getinfo(e, CURLINFO_PRETRANSFER_TIME_T, &pre);
    curl_easy_getinfo(e, CURLINFO_STARTTRANSFER_TIME_T, &start);
    curl_easy_getinfo(e, CURLINFO_TOTAL_TIME_T, &total);
    curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &nconnects);
    start = first_byte_us(x, start, pre, total);
    t->dns_ms = ms_between(0, lookup);
    t->connect_ms = ms_between(lookup, conn);
    t->tls_ms = app > 0 ? ms_between(conn, app) : 0.0;
    /* no first byte (a timeout, a reset): the wait so far is server wait */
    t->ttfb_ms = start > 0 ? ms_between(pre, start) : pre > 0 ? ms_between(pre, total) : 0.0;
    t->download_ms = start > 0 ? ms_between(start, total) : 0.0;
    t->total_ms = ms_between(0, total);
    /* no new connection, yet the request went out: it rode an existing one */
    if (nconnects == 0 && pre > 0) {
        resp->reused = 1;
        t->connect_ms = 0.0;
        t->tls_ms = 0.0;
    }
    *connect_us = conn;
}

/* Splits a Netscape cookie line in place at tabs into at most n fields. */
static size_t split_tabs(char *line, char **fields, size_t n)
{
    size_t k = 0;
    char *p = line;

    while (k < n) {
        fields[k++] = p;
        p = strchr(p, '\t');
        if (!p)
            break;
        *p++ = '\0';
    }
    return k;
}

/* CURLINFO_COOKIELIST lines: domain, subdomains, path, secure, expiry, name, value. */
static void read_cookies(CURL *e, struct tp_response *resp)
{
    struct curl_slist *list = NULL, *it;
    size_t n = 0;

    if (curl_easy_getinfo(e, CURLINFO_COOKIELIST, &list) != CURLE_OK || !list)
        return;
    for (it = list; it; it = it->next)
        n++;
    resp->cookies = calloc(n, sizeof *resp->cookies);
    for (it = list; resp->cookies && it; it = it->next) {
        char *f[7], *line = strdup(it->data);
        struct tp_cookie *c = &resp->cookies[resp->ncookies];
        const char *domain;
        size_t nf;

        if (!line)
            break;
        nf = split_tabs(line, f, 7);
        if (nf < 6) {
            free(line);
            continue;
        }
        domain = f[0];
        if (strncmp(domain, "#HttpOnly_", 10) == 0)
            domain += 10;
        c->domain = strdup(domain);
        c->path = strdup(f[2]);
        c->name = strdup(f[5]);
        c->value = strdup(nf == 7 ? f[6] : "");
        free(line);
        if (!c->domain || !c->path || !c->name || !c->value) {
            free(c->domain);
            free(c->path);
            free(c->name);
            free(c->value);
            memset(c, 0, sizeof *c);
            break;
        }
        resp->ncookies++;
    }
    curl_slist_free_all(list);
}

static void copy_bounded(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

enum tp_failure tp_http_transfer_finish(tp_http_transfer *x, CURLcode result,
                                        struct tp_response *resp, char *msg, size_t size)
{
    CURL *e;
    char *s = NULL;
    long status = 0, version = 0, redirects = 0;
    curl_off_t connect_us = 0;
    enum tp_failure f;

    tp_response_clear(resp);
    if (!x) {
        snprintf(msg, size, "internal: no transfer");
        return TP_FAIL_INTERNAL;
    }
    e = x->easy;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    resp->status = status;
    curl_easy_getinfo(e, CURLINFO_REDIRECT_COUNT, &redirects);
    resp->redirects = redirects > 0 ? (unsigned)redirects : 0;
    if (curl_easy_getinfo(e, CURLINFO_EFFECTIVE_URL, &s) == CURLE_OK && s)
        resp->effective_url = strdup(s);
    s = NULL;
    if (curl_easy_getinfo(e, CURLINFO_PRIMARY_IP, &s) == CURLE_OK)
        copy_bounded(resp->primary_ip, sizeof resp->primary_ip, s);
    curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &version);
    copy_bounded(resp->http_version, sizeof resp->http_version,
                 version == CURL_HTTP_VERSION_1_0   ? "1.0"
                 : version == CURL_HTTP_VERSION_1_1 ? "1.1"
                 : version == CURL_HTTP_VERSION_2_0 ? "2"
                 : version == CURL_HTTP_VERSION_3   ? "3"
                                                    : "");
    read_timings(x, e, resp, &connect_us);
    if (x->req.read_cookies)
        read_cookies(e, resp);

    resp->headers = x->headers;
    resp->nheaders = x->nheaders;
    x->headers = NULL;
    x->nheaders = x->headers_cap = 0;
    if (!x->body)
        x->body = malloc(1);
    if (x->body) {
        x->body[x->body_len] = '\0'; /* body_cap > body_len: on_body keeps room for it */
        if (x->body_cap > x->body_len + 1) { /* a kept response holds only its bytes */
            char *fit = realloc(x->body, x->body_len + 1);
            if (fit)
                x->body = fit;
        }
        resp->body = x->body;
        resp->body_len = x->body_len;
        x->body = NULL;
        x->body_len = x->body_cap = 0;
    }

    f = classify(x, result);
    describe(x, result, f, resp, connect_us, msg, size);
    return f;
}

/* ---- trace (run -v) ----------------------------------------------------- */

/* Appends n bytes of s for a terminal: tab and well-formed UTF-8 as they are,
 * control characters (C0 but tab, DEL, C1) and bytes that are not UTF-8 as \xNN. */
static int add_escaped(struct tp_strbuf *b, const char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned long cp = 0;
        size_t len = tp_utf8_next(s + i, n - i, &cp);
        size_t run = i;

        /* a run of printable characters goes in one append */
        while (len > 0 && (cp == '\t' || (cp >= 0x20 && cp != 0x7f && (cp < 0x80 || cp > 0x9f)))) {
            i += len;
            len = i < n ? tp_utf8_next(s + i, n - i, &cp) : 0;
        }
        if (i > run && tp_strbuf_add(b, s + run, i - run) != 0)
            return -1;
        if (i == n)
            break;
        for (size_t k = 0; k < (len ? len : 1); k++)
            if (tp_strbuf_addf(b, "\\x%02x", (unsigned char)s[i + k]) != 0)
                return -1;
        i += len ? len : 1;
    }
    return 0;
}

/* Appends text (n bytes, no NUL) line by line, each as prefix + escaped line:
 * "\r\n" and "\n" end a line, a last line without one is ended too. */
static int add_lines(struct tp_strbuf *b, const char *prefix, const char *text, size_t n,
                     int skip_first, int skip_empty)
{
    size_t start = 0;

    while (start < n) {
        const char *nl = memchr(text + start, '\n', n - start);
        size_t end = nl ? (size_t)(nl - text) : n, cut = end;

        if (nl && cut > start && text[cut - 1] == '\r')
            cut--;
        if (!skip_first && !(skip_empty && cut == start) &&
            (tp_strbuf_str(b, prefix) != 0 || add_escaped(b, text + start, cut - start) != 0 ||
             tp_strbuf_add(b, "\n", 1) != 0))
            return -1;
        skip_first = 0;
        start = end + 1;
    }
    return 0;
}

/* Masks text (NUL-terminated) and appends it as add_lines does. */
static int add_masked(struct tp_strbuf *b, const char *prefix, const char *text,
                      const tp_secrets *secrets, int skip_first, int skip_empty)
{
    char *m = tp_secrets_mask(secrets, text ? text : "");
    int rc = m ? add_lines(b, prefix, m, strlen(m), skip_first, skip_empty) : -1;
    free(m);
    return rc;
}

/* Media types whose bodies a trace shows as text (when the bytes agree). */
static int textual_media(const char *media)
{
    static const char *const prefixes[] = {"text/", "multipart/"};
    static const char *const types[] = {"application/json", "application/xml",
                                        "application/javascript", "application/ecmascript",
                                        "application/x-www-form-urlencoded",
                                        "application/x-ndjson"};
    size_t len = strlen(media);

    if (!media[0])
        return 1; /* none said: the bytes decide */
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(media, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(media, types[i]) == 0)
            return 1;
    return (len > 5 && strcmp(media + len - 5, "+json") == 0) ||
           (len > 4 && strcmp(media + len - 4, "+xml") == 0);
}

/* Text: a textual media type, and n bytes of well-formed UTF-8 without a NUL. */
static int is_text(const char *media, const char *data, size_t n)
{
    if (!textual_media(media))
        return 0;
    for (size_t i = 0, len; i < n; i += len) {
        unsigned long cp = 0;
        len = tp_utf8_next(data + i, n - i, &cp);
        if (len == 0 || cp == 0)
            return 0;
    }
    return 1;
}

/* A body of total bytes, n of them at data: masked whole, then its first
 * trace_limit bytes (at a character boundary) as lines; a line says when it
 * was cut, or that it is not text. */
static int add_body(struct tp_strbuf *b, const struct tp_http_transfer *x, char mark,
                    const char *media, const char *data, size_t n, size_t total,
                    const tp_secrets *secrets)
{
    char prefix[3] = {mark, ' ', '\0'};
    size_t limit = trace_limit(x), mlen, shown;
    char *copy, *m;
    int rc;

    if (total == 0)
        return 0;
    if (tp_strbuf_addf(b, "%c\n", mark) != 0)
        return -1;
    if (!is_text(media, data, n))
        return tp_strbuf_addf(b, "%s[%zu bytes, not text]\n", prefix, total);
    copy = copy_range(data, n); /* the NUL tp_secrets_mask needs */
    m = copy ? tp_secrets_mask(secrets, copy) : NULL;
    free(copy);
    if (!m)
        return -1;
    mlen = strlen(m);
    shown = mlen > limit ? tp_utf8_clip(m, limit) : mlen;
    rc = add_lines(b, prefix, m, shown, 0, 0);
    free(m);
    if (rc == 0 && (shown < mlen || total > n))
        rc = tp_strbuf_addf(b, "%s[first %zu of %zu bytes; %s]\n", prefix, shown, total,
                            x->req.trace >= 2 ? "cut at the body cap" : "-vv shows whole bodies");
    return rc;
}

/* The media type of a request from its Content-Type header line, lower case. */
static void request_media(const struct curl_slist *h, char *buf, size_t size)
{
    buf[0] = '\0';
    for (; h; h = h->next) {
        size_t i = 0;
        const char *v;
        if (strncasecmp(h->data, "Content-Type:", 13) != 0)
            continue;
        for (v = h->data + 13; *v == ' ' || *v == '\t'; v++)
            ;
        for (; v[i] && v[i] != ';' && !is_blank(v[i]) && i + 1 < size; i++)
            buf[i] = (char)tolower((unsigned char)v[i]);
        buf[i] = '\0';
    }
}

/* Masks and appends one line made from fmt. */
#ifdef __GNUC__
__attribute__((format(printf, 4, 5)))
#endif
static int add_linef(struct tp_strbuf *b, const char *prefix, const tp_secrets *secrets,
                     const char *fmt, ...)
{
    struct tp_strbuf line = {0};
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = tp_strbuf_vaddf(&line, fmt, ap);
    va_end(ap);
    if (!rc)
        rc = add_masked(b, prefix, line.data, secrets, 0, 0);
    tp_strbuf_free(&line);
    return rc;
}

char *tp_http_transfer_trace(const tp_http_transfer *x, const char *title,
                             const struct tp_response *resp, const char *failure,
                             const tp_secrets *secrets)
{
    struct tp_strbuf b = {0};
    char media[128];
    int rc;

    if (!x || !x->req.trace || !resp)
        return NULL;
    rc = add_linef(&b, "* ", secrets, "%s", title ? title : "");
    if (!rc)
        rc = add_linef(&b, "> ", secrets, "%s %s", x->req.method ? x->req.method : "GET",
                       x->req.url);
    if (!rc && x->sent_headers.len > 0) /* without its request line: METHOD URL above */
        rc = add_masked(&b, "> ", x->sent_headers.data, secrets, 1, 1);
    else /* nothing went out: the headers as set */
        for (const struct curl_slist *h = x->req.headers; !rc && h; h = h->next)
            rc = add_masked(&b, "> ", h->data, secrets, 0, 0);
    if (!rc && x->mime) {
        rc = add_body(&b, x, '>', "multipart/form-data",
                      x->sent_body.data ? x->sent_body.data : "", x->sent_body.len,
                      x->sent_body_len, secrets);
    } else if (!rc && x->req.body) {
        request_media(x->req.headers, media, sizeof media);
        rc = add_body(&b, x, '>', media, x->req.body, x->req.body_len, x->req.body_len, secrets);
    }
    if (!rc && x->status_line) {
        rc = add_masked(&b, "< ", x->status_line, secrets, 0, 0);
        for (size_t i = 0; !rc && i < resp->nheaders; i++)
            rc = add_linef(&b, "< ", secrets, "%s: %s", resp->headers[i].name,
                           resp->headers[i].value);
    }
    if (!rc && resp->body)
        rc = add_body(&b, x, '<', tp_response_media_type(resp, media, sizeof media), resp->body,
                      resp->body_len, resp->body_len, secrets);
    if (!rc && resp->redirects > 0)
        rc = add_linef(&b, "* ", secrets, "followed %u redirect%s to %s", resp->redirects,
                       resp->redirects == 1 ? "" : "s",
                       resp->effective_url ? resp->effective_url : "");
    if (!rc && failure && failure[0])
        rc = add_linef(&b, "* ", secrets, "failure: %s", failure);
    if (rc) {
        tp_strbuf_free(&b);
        return NULL;
    }
    return b.data;
}

void tp_http_transfer_free(tp_http_transfer *x)
{
    if (!x)
        return;
    /* the handle must not keep pointers into what is freed here */
    curl_easy_reset(x->easy);
    curl_mime_free(x->mime);
    curl_slist_free_all(x->connect_to);
    curl_slist_free_all(x->cross_headers);
    free(x->hop_url);
    tp_http_request_clear(&x->req);
    drop_headers(x);
    free(x->headers);
    free(x->body);
    tp_strbuf_free(&x->sent_headers);
    tp_strbuf_free(&x->sent_body);
    free(x->status_line);
    free(x);
}
