/* One HTTP transfer over a libcurl easy handle: every option set from a prepared
 * request, the body cap enforced in the write callback, headers collected, phase
 * timings taken after the transfer, and the outcome classified. runner.c adds the
 * easy handle to its multi handle; nothing here parses a body. */
#ifndef TWINPROBE_HTTP_H
#define TWINPROBE_HTTP_H

#include <curl/curl.h>
#include <stddef.h>

#include "twinprobe/error.h"
#include "twinprobe/journey.h"
#include "twinprobe/mask.h"
#include "twinprobe/response.h"

/* Body bytes a trace shows at level 1 (run -v); level 2 (-vv) shows whole bodies. */
#define TP_HTTP_TRACE_BODY 512u

/* A multipart part, expanded. */
struct tp_http_part {
    char *name;
    char *value;         /* text part, or NULL */
    char *file;          /* file part: path to read at send time, or NULL */
    char *filename;      /* NULL = basename of file */
    char *content_type;  /* NULL = libcurl's default */
};

/* Everything one attempt needs, all strings expanded. Owned by the request
 * (tp_http_request_clear frees) except the borrowed fields marked so. */
struct tp_http_request {
    char *method;                /* "GET", "POST", ... */
    char *url;                   /* absolute, query included */
    struct curl_slist *headers;  /* "Name: value" lines, in send order */
    char *body;                  /* raw, JSON or urlencoded form body, or NULL */
    size_t body_len;
    struct tp_http_part *parts;  /* multipart, or NULL */
    size_t nparts;
    long timeout_ms;
    long connect_timeout_ms;
    int follow_redirects;
    long max_redirects;
    size_t max_body;             /* body cap in bytes */
    int fresh_connect;           /* first step of a journey run: a new connection */
    const char *connect_to;      /* borrowed: CURLOPT_CONNECT_TO entry, or NULL */
    const char *ca_file;         /* borrowed, or NULL */
    int insecure;                /* TLS verification off (explicit opt-in) */
    const char *cookie;          /* borrowed: "a=b; c=d" sent with every request, or NULL */
    int read_cookies;            /* copy the cookie jar into the response after the
                                    transfer (only a step that reads a cookie needs it) */
    int trace;                   /* 0 off; 1 or 2: keep what tp_http_transfer_trace shows
                                    (the request headers as sent, through
                                    CURLOPT_DEBUGFUNCTION; the status line) */
};

void tp_http_request_clear(struct tp_http_request *req); /* frees owned fields, zeroes */

typedef struct tp_http_transfer tp_http_transfer; /* one attempt in flight (opaque) */

/* Resets easy (curl_easy_reset: the cookie jar and connections stay with the
 * handle) and sets every option for req: method and body (multipart through
 * curl_mime), headers, timeouts, protocols http and https only (redirects too),
 * redirects off unless asked (then max_redirects hops), TLS verification on
 * unless insecure, CA file, CONNECT_TO, the cookie engine on with an in-memory
 * jar (through CURLOPT_COOKIELIST: CURLOPT_COOKIEFILE "" leaks on every reset in
 * libcurl 7.88.1), no signals, a write callback that stops past max_body, a
 * header callback that keeps the final response's headers. req is taken in
 * every case (moved into the transfer; on failure freed, and left zeroed).
 * *out is new, NULL on failure. Set CURLOPT_PRIVATE after this call (the reset
 * clears it). A file part that cannot be read is TP_ERR_IO. */
tp_err tp_http_transfer_start(CURL *easy, struct tp_http_request *req, tp_http_transfer **out,
                              struct tp_error *err);

/* After the multi handle reports the transfer done with result (and the handle
 * is out of the multi handle): clears resp (tp_response_clear, so it must be
 * zeroed or a response filled before), fills it as far as the transfer got,
 * also on failure (status, the final response's headers, the body moved in and
 * never NULL, the cookie jar from CURLINFO_COOKIELIST, effective URL, phases from
 * CURLINFO_*_TIME_T clamped at 0, reused when no new connection was made yet a
 * request went out (then connect and tls are 0), http_version, primary_ip) and
 * returns the failure class: TP_FAIL_NONE, DNS (COULDNT_RESOLVE_*), CONNECT
 * (COULDNT_CONNECT; RECV/SEND_ERROR before a status line), TLS (SSL_*,
 * PEER_FAILED_VERIFICATION), TIMEOUT (OPERATION_TIMEDOUT), BODY_TOO_LARGE (the
 * cap), PROTOCOL (UNSUPPORTED_PROTOCOL, TOO_MANY_REDIRECTS, WEIRD_SERVER_REPLY,
 * GOT_NOTHING, PARTIAL_FILE, RECV/SEND_ERROR after a status line, headers over
 * 256 KiB), or INTERNAL. msg gets "CLASS: detail" for a person, never a request
 * header, body or cookie ("connect: Failed to connect to 127.0.0.1 port 9 after
 * 0 ms: Couldn't connect to server (Connection refused)", "timeout: no response
 * within 500 ms (127.0.0.1:8080)", "body_too_large: body over the 8388608-byte
 * cap", "protocol: redirect to a disallowed scheme (file://)"); "" for NONE. */
enum tp_failure tp_http_transfer_finish(tp_http_transfer *x, CURLcode result,
                                        struct tp_response *resp, char *msg, size_t size);

/* With req.trace set: the transfer for a person, as a block of lines (new
 * string, NULL on no memory or when trace is off), to be printed once the
 * transfer is over. Call after tp_http_transfer_finish filled resp (borrowed).
 *   * TITLE
 *   > METHOD URL
 *   > Name: value          the request headers as sent (as set when none went out)
 *   >
 *   > body                 when there is one
 *   < HTTP/1.1 200 OK      the final response's status line and headers
 *   < Name: value
 *   <
 *   < body
 *   * followed N redirect(s) to URL
 *   * failure: FAILURE     when failure is neither NULL nor ""
 * A body shows its first TP_HTTP_TRACE_BODY bytes at trace level 1 (a line
 * "[first N of M bytes; -vv shows whole bodies]" says when it was cut), all of
 * it up to the body cap (max_body) at level 2; one that is not text (a media
 * type that is not textual, a NUL byte, bytes that are not UTF-8) shows "[M bytes, not text]". Every line is masked with secrets (which
 * may be NULL), whole bodies before they are cut, so no part of a secret shows;
 * then control characters (below 0x20 except tab, DEL, U+0080..U+009F) and
 * bytes that are not UTF-8 are written as \xNN, so a server cannot drive the
 * terminal and a body line cannot pass for a line of the block. Linear in the
 * size of the bodies. */
char *tp_http_transfer_trace(const tp_http_transfer *x, const char *title,
                             const struct tp_response *resp, const char *failure,
                             const tp_secrets *secrets);

/* Frees x and resets its easy handle (which must not be in a multi handle and
 * must not have been cleaned up yet) so it keeps no pointer into x.
 * NULL is a no-op. */
void tp_http_transfer_free(tp_http_transfer *x);

#endif
