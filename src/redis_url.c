/* Redis addresses: redis://[user@]host[:port][/db] and unix:///path[?db=N], parsed
 * with libcurl's URL API. No I/O. */
#include "twinprobe/redis_url.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

/* Digits only, within [lo, hi]. */
static int parse_int(const char *s, size_t len, long lo, long hi, long *out)
{
    long v = 0;
    if (len == 0 || len > 9)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static tp_err parse_unix_url(const char *url, struct tp_redis_url *out, struct tp_error *err)
{
    const char *path = url + strlen("unix://");
    const char *q = strchr(path, '?');
    size_t plen = q ? (size_t)(q - path) : strlen(path);
    long db = 0;

    if (plen == 0 || path[0] != '/')
        return tp_error_set(err, TP_ERR_INVALID, "unix URL needs an absolute socket path: "
                                                 "unix:///path/to/redis.sock[?db=N]");
    if (q) {
        if (strncmp(q, "?db=", 4) != 0 || parse_int(q + 4, strlen(q + 4), 0, 1000000, &db))
            return tp_error_set(err, TP_ERR_INVALID,
                                "unix URL takes one query parameter, db=N (a number)");
    }
    out->kind = TP_REDIS_UNIX;
    out->path = strndup(path, plen);
    out->db = (int)db;
    return out->path ? TP_OK : tp_error_set(err, TP_ERR_NOMEM, "out of memory");
}

/* curl_url_get of one part into *out (NULL when absent); 1 when memory ran out. */
static int url_part(CURLU *u, CURLUPart what, char **out, unsigned flags)
{
    return curl_url_get(u, what, out, flags) == CURLUE_OUT_OF_MEMORY;
}

tp_err tp_redis_url_parse(const char *url, struct tp_redis_url *out, struct tp_error *err)
{
    CURLU *u = NULL;
    char *scheme = NULL, *user = NULL, *password = NULL, *host = NULL, *port = NULL,
         *path = NULL, *query = NULL;
    CURLUcode uc;
    tp_err rc = TP_OK;
    long n;

    memset(out, 0, sizeof *out);
    if (strncmp(url, "unix://", 7) == 0)
        return parse_unix_url(url, out, err);
    if (strncmp(url, "redis://", 8) != 0) {
        if (strncmp(url, "rediss://", 9) == 0)
            return tp_error_set(err, TP_ERR_INVALID,
                                "rediss:// (TLS) is not supported by hiredis 0.14: run a local "
                                "stunnel client and use redis://127.0.0.1:PORT (docs/redis-schema.md)");
        return tp_error_set(err, TP_ERR_INVALID,
                            "Redis URL must be redis://[user@]host[:port][/db] or "
                            "unix:///path[?db=N]");
    }
    u = curl_url();
    if (!u)
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    uc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
    if (uc == CURLUE_OUT_OF_MEMORY) {
        rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        goto done;
    }
    if (uc != CURLUE_OK) {
        rc = tp_error_set(err, TP_ERR_INVALID, "Redis URL does not parse: \"%s\"", url);
        goto done;
    }
    /* a part that is not there is NULL; memory running out is an error */
    if (url_part(u, CURLUPART_SCHEME, &scheme, 0) |
        url_part(u, CURLUPART_USER, &user, CURLU_URLDECODE) |
        url_part(u, CURLUPART_PASSWORD, &password, 0) | url_part(u, CURLUPART_HOST, &host, 0) |
        url_part(u, CURLUPART_PORT, &port, 0) | url_part(u, CURLUPART_PATH, &path, 0) |
        url_part(u, CURLUPART_QUERY, &query, 0)) {
        rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        goto done;
    }
    if (password) {
        rc = tp_error_set(err, TP_ERR_INVALID,
                          "a password in the Redis URL is refused (it would show in files and "
                          "process lists): put it in an environment variable and name it in "
                          "\"password_env\"");
        goto done;
    }
    if (!host || !host[0]) {
        rc = tp_error_set(err, TP_ERR_INVALID, "Redis URL has no host");
        goto done;
    }
    if (query) {
        rc = tp_error_set(err, TP_ERR_INVALID, "Redis URL takes no query string");
        goto done;
    }
    out->kind = TP_REDIS_TCP;
    out->port = 6379;
    if (port && parse_int(port, strlen(port), 1, 65535, &n) != 0) {
        rc = tp_error_set(err, TP_ERR_INVALID, "Redis URL port must be 1 to 65535, got \"%s\"",
                          port);
        goto done;
    }
    if (port)
        out->port = (int)n;
    if (path && strcmp(path, "/") != 0) {
        if (parse_int(path + 1, strlen(path + 1), 0, 1000000, &n) != 0) {
            rc = tp_error_set(err, TP_ERR_INVALID,
                              "Redis URL path must be a database number (/0), got \"%s\"", path);
            goto done;
        }
        out->db = (int)n;
    }
    out->host = strdup(host[0] == '[' ? host + 1 : host);
    if (out->host && host[0] == '[')
        out->host[strlen(out->host) - 1] = '\0';
    out->user = user && user[0] ? strdup(user) : NULL;
    if (!out->host || (user && user[0] && !out->user))
        rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
done:
    curl_free(scheme);
    curl_free(user);
    curl_free(password);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_url_cleanup(u);
    if (rc != TP_OK)
        tp_redis_url_clear(out);
    return rc;
}

tp_err tp_redis_hostport_parse(const char *s, char **host, int *port, struct tp_error *err)
{
    const char *colon, *h = s;
    size_t hlen;
    long n;

    *host = NULL;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        colon = close && close[1] == ':' ? close + 1 : NULL;
        h = s + 1;
        hlen = close ? (size_t)(close - h) : 0;
    } else {
        colon = strrchr(s, ':');
        hlen = colon ? (size_t)(colon - s) : 0;
        if (colon && memchr(s, ':', hlen))
            colon = NULL; /* an IPv6 address needs its brackets */
    }
    if (!colon || hlen == 0 || strpbrk(s, "/@? \t") ||
        parse_int(colon + 1, strlen(colon + 1), 1, 65535, &n) != 0)
        return tp_error_set(err, TP_ERR_INVALID,
                            "a sentinel is host:port or [IPv6]:port (port 1 to 65535), got \"%s\"",
                            s);
    if (!(*host = strndup(h, hlen)))
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    *port = (int)n;
    return TP_OK;
}

void tp_redis_url_clear(struct tp_redis_url *u)
{
    if (!u)
        return;
    free(u->user);
    free(u->host);
    free(u->path);
    memset(u, 0, sizeof *u);
}
