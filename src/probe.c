/* Probe files: load and validate one location's settings. */
#include "twinprobe/probe.h"

#include <ctype.h>
#include <curl/curl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/redis_url.h"
#include "twinprobe/schema.h"

#define PATH_MAX_LEN 256

char *tp_path_relative_to(const char *file, const char *path)
{
    const char *slash = strrchr(file, '/');
    size_t dirlen, plen = strlen(path);
    char *out;

    if (path[0] == '/' || !slash)
        return strdup(path);
    dirlen = (size_t)(slash - file) + 1;
    out = malloc(dirlen + plen + 1);
    if (!out)
        return NULL;
    memcpy(out, file, dirlen);
    memcpy(out + dirlen, path, plen + 1);
    return out;
}

struct loader {
    struct tp_schema s;
    struct tp_probe *p;
};

/* tp_path_relative_to(L->p->file, rel); on no memory reported at path, NULL. */
static char *relative_path(struct loader *L, const char *path, const char *rel)
{
    char *out = tp_path_relative_to(L->p->file, rel);
    if (!out)
        tp_diags_nomem(L->s.diags, L->s.file, path);
    return out;
}

/* {"Name": "value"} of plain strings. */
static void load_pairs(struct loader *L, const json_t *obj, const char *path,
                       struct tp_pair **out, size_t *count)
{
    const char *key;
    json_t *v;
    char sub[PATH_MAX_LEN];
    *out = calloc(json_object_size(obj) + 1, sizeof **out);
    if (!*out) {
        tp_diags_nomem(L->s.diags, L->s.file, path);
        return;
    }
    json_object_foreach((json_t *)obj, key, v) {
        tp_path_key(sub, sizeof sub, path, key);
        if (!json_is_string(v)) {
            tp_schema_error(&L->s, sub, "expected string, got %s", tp_schema_type_name(v));
            continue;
        }
        (*out)[*count].name = tp_schema_strdup(&L->s, sub, key);
        (*out)[*count].value = tp_schema_strdup(&L->s, sub, json_string_value(v));
        (*count)++;
    }
}

static void check_base_url(struct loader *L, const char *url, const char *path)
{
    CURLU *u = curl_url();
    char *scheme = NULL;
    CURLUcode uc;
    if (!u) {
        tp_diags_nomem(L->s.diags, L->s.file, path);
        return;
    }
    uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc == CURLUE_OK)
        uc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    if (uc == CURLUE_OUT_OF_MEMORY)
        tp_diags_nomem(L->s.diags, L->s.file, path);
    else if (uc != CURLUE_OK && !scheme)
        tp_schema_error(&L->s, path, "base_url \"%s\" does not parse as a URL", url);
    else if (uc != CURLUE_OK || (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
        tp_schema_error(&L->s, path, "base_url must be http:// or https://, got \"%s\"", url);
    curl_free(scheme);
    curl_url_cleanup(u);
}

/* connect_to: HOST:PORT:CONNECT-TO-HOST:CONNECT-TO-PORT (hosts may be empty or [v6]). */
static int connect_to_ok(const char *s)
{
    int colons = 0, in_brackets = 0;
    for (; *s; s++) {
        if (*s == '[')
            in_brackets = 1;
        else if (*s == ']')
            in_brackets = 0;
        else if (*s == ':' && !in_brackets)
            colons++;
        else if (isspace((unsigned char)*s))
            return 0;
    }
    return colons == 3 && !in_brackets;
}

static void load_target(struct loader *L, json_t *obj, const char *path, struct tp_target *t)
{
    static const struct tp_field fields[] = {
        {"name", TP_T_STRING, 1},      {"base_url", TP_T_STRING, 1}, {"connect_to", TP_T_STRING, 0},
        {"headers", TP_T_OBJECT, 0},   {"cookies", TP_T_OBJECT, 0},  {"ca_file", TP_T_STRING, 0},
        {"insecure", TP_T_BOOL, 0},    {"auth", TP_T_OBJECT, 0},
    };
    char sub[PATH_MAX_LEN];
    json_t *v;

    tp_schema_check(&L->s, obj, path, "target", fields, sizeof fields / sizeof fields[0]);
    if (json_is_string(v = json_object_get(obj, "name"))) {
        t->name = tp_schema_strdup(&L->s, path, json_string_value(v));
        if (json_string_length(v) == 0 || strpbrk(json_string_value(v), ": \t=")) {
            tp_path_key(sub, sizeof sub, path, "name");
            tp_schema_error(&L->s, sub, "target name must be non-empty without ':', '=' or "
                                        "spaces (it is part of Redis keys and --target NAME=URL)");
        }
    }
    if (json_is_string(v = json_object_get(obj, "base_url"))) {
        tp_path_key(sub, sizeof sub, path, "base_url");
        check_base_url(L, json_string_value(v), sub);
        t->base_url = tp_schema_strdup(&L->s, sub, json_string_value(v));
    }
    if (json_is_string(v = json_object_get(obj, "connect_to"))) {
        tp_path_key(sub, sizeof sub, path, "connect_to");
        if (!connect_to_ok(json_string_value(v)))
            tp_schema_error(&L->s, sub, "expected HOST:PORT:CONNECT-TO-HOST:CONNECT-TO-PORT, "
                                        "got \"%s\"", json_string_value(v));
        t->connect_to = tp_schema_strdup(&L->s, sub, json_string_value(v));
    }
    if (json_is_object(v = json_object_get(obj, "headers"))) {
        tp_path_key(sub, sizeof sub, path, "headers");
        load_pairs(L, v, sub, &t->headers, &t->nheaders);
    }
    if (json_is_object(v = json_object_get(obj, "cookies"))) {
        tp_path_key(sub, sizeof sub, path, "cookies");
        load_pairs(L, v, sub, &t->cookies, &t->ncookies);
    }
    if (json_is_string(v = json_object_get(obj, "ca_file"))) {
        tp_path_key(sub, sizeof sub, path, "ca_file");
        t->ca_file = relative_path(L, sub, json_string_value(v));
    }
    t->insecure = json_is_true(json_object_get(obj, "insecure"));
    if (json_is_object(v = json_object_get(obj, "auth"))) {
        tp_path_key(sub, sizeof sub, path, "auth");
        tp_auth_load(&L->s, v, sub, &t->auth);
    }
}

static int is_env_name(const char *s)
{
    if (!*s || isdigit((unsigned char)*s))
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return 0;
    return 1;
}

/* "sentinels": ["host:port", ...], "master", "min_replicas", "user", "db": the
 * master is asked of the sentinels at connect time. r->url becomes a display
 * form, sentinel://h:p,.../MASTER, for messages and for "publishes somewhere". */
static void load_sentinels(struct loader *L, json_t *obj, json_t *arr)
{
    struct tp_redis_conf *r = &L->p->redis;
    size_t n = json_array_size(arr), i, used;
    json_t *v;
    char *display = NULL, *at;
    size_t size;

    if (n == 0 || n > 64) {
        tp_schema_error(&L->s, "redis.sentinels", "name 1 to 64 sentinels (\"host:port\")");
        return;
    }
    if (!json_is_string(v = json_object_get(obj, "master")) || json_string_length(v) == 0 ||
        strpbrk(json_string_value(v), " \t\r\n"))
        tp_schema_error(&L->s, "redis.master",
                        "with \"sentinels\", name the master as the sentinels know it "
                        "(\"master\": \"NAME\", no spaces)");
    else
        r->master = tp_schema_strdup(&L->s, "redis.master", json_string_value(v));
    r->sentinels = calloc(n, sizeof *r->sentinels);
    if (!r->sentinels) {
        tp_diags_nomem(L->s.diags, L->s.file, "redis.sentinels");
        return;
    }
    size = 32 + (r->master ? strlen(r->master) : 0);
    json_array_foreach (arr, i, v) {
        char path[48];
        struct tp_error err;
        tp_err rc;
        snprintf(path, sizeof path, "redis.sentinels[%zu]", i);
        if (!json_is_string(v)) {
            tp_schema_error(&L->s, path, "a sentinel is a string, \"host:port\"");
            continue;
        }
        tp_error_clear(&err);
        rc = tp_redis_hostport_parse(json_string_value(v), &r->sentinels[r->nsentinels].host,
                                     &r->sentinels[r->nsentinels].port, &err);
        if (rc == TP_ERR_NOMEM)
            tp_diags_nomem(L->s.diags, L->s.file, path);
        else if (rc != TP_OK)
            tp_schema_error(&L->s, path, "%s", err.text);
        else {
            size += json_string_length(v) + 1;
            r->nsentinels++;
        }
    }
    r->addr.kind = TP_REDIS_TCP;
    r->addr.db = (int)tp_schema_int(&L->s, obj, "db", "redis", 0, 1000000, 0);
    if (json_is_string(v = json_object_get(obj, "user"))) {
        if (json_string_length(v) == 0)
            tp_schema_error(&L->s, "redis.user", "user must be non-empty (or left out)");
        else if (!(r->addr.user = strdup(json_string_value(v))))
            tp_diags_nomem(L->s.diags, L->s.file, "redis.user");
    }
    r->min_replicas = tp_schema_int(&L->s, obj, "min_replicas", "redis", 0, 100, 1);
    if (!(display = malloc(size))) {
        tp_diags_nomem(L->s.diags, L->s.file, "redis.sentinels");
        return;
    }
    used = (size_t)snprintf(display, size, "sentinel://");
    json_array_foreach (arr, i, v)
        if (json_is_string(v) && used < size)
            used += (size_t)snprintf(display + used, size - used, "%s%s", i ? "," : "",
                                     json_string_value(v));
    at = display + (used < size ? used : size - 1);
    snprintf(at, size - (size_t)(at - display), "/%s", r->master ? r->master : "");
    r->url = display;
}

static void load_redis(struct loader *L, json_t *obj)
{
    static const struct tp_field fields[] = {
        {"url", TP_T_STRING, 0},          {"prefix", TP_T_STRING, 0},
        {"maxlen", TP_T_INTEGER, 0},      {"password_env", TP_T_STRING, 0},
        {"password", TP_T_ANY, 0},        {"connect_timeout_ms", TP_T_INTEGER, 0},
        {"command_timeout_ms", TP_T_INTEGER, 0}, {"sentinels", TP_T_ARRAY, 0},
        {"master", TP_T_STRING, 0},       {"min_replicas", TP_T_INTEGER, 0},
        {"user", TP_T_STRING, 0},         {"db", TP_T_INTEGER, 0},
    };
    static const char *const sentinel_only[] = {"master", "min_replicas", "user", "db"};
    struct tp_redis_conf *r = &L->p->redis;
    struct tp_error err;
    json_t *v, *sentinels = json_object_get(obj, "sentinels");

    tp_schema_check(&L->s, obj, "redis", "redis", fields, sizeof fields / sizeof fields[0]);
    if (json_object_get(obj, "password"))
        tp_schema_error(&L->s, "redis.password",
                        "a password in a probe file is refused: put it in an environment "
                        "variable and name that in \"password_env\"");
    if (!json_object_get(obj, "url") == !sentinels)
        tp_schema_error(&L->s, "redis",
                        "name exactly one of \"url\" (one server) and \"sentinels\" "
                        "(Redis Sentinel); %s", sentinels ? "both are named" : "neither is named");
    else if (json_is_array(sentinels))
        load_sentinels(L, obj, sentinels);
    for (size_t i = 0; !sentinels && i < sizeof sentinel_only / sizeof *sentinel_only; i++)
        if (json_object_get(obj, sentinel_only[i])) {
            char path[32];
            snprintf(path, sizeof path, "redis.%s", sentinel_only[i]);
            tp_schema_error(&L->s, path,
                            "\"%s\" goes with \"sentinels\"; with \"url\" the URL carries "
                            "the user and db (redis://user@host:port/db)", sentinel_only[i]);
        }
    if (!sentinels && json_is_string(v = json_object_get(obj, "url"))) {
        tp_error_clear(&err);
        tp_err rc = tp_redis_url_parse(json_string_value(v), &r->addr, &err);
        if (rc == TP_ERR_NOMEM)
            tp_diags_nomem(L->s.diags, L->s.file, "redis.url");
        else if (rc != TP_OK)
            tp_schema_error(&L->s, "redis.url", "%s", err.text);
        r->url = tp_schema_strdup(&L->s, "redis.url", json_string_value(v));
    }
    v = json_object_get(obj, "prefix");
    r->prefix = tp_schema_strdup(&L->s, "redis.prefix", json_is_string(v) ? json_string_value(v) : "twinprobe");
    if (json_is_string(v) && (json_string_length(v) == 0 || strpbrk(json_string_value(v), " \t")))
        tp_schema_error(&L->s, "redis.prefix", "prefix must be non-empty without spaces");
    r->maxlen = tp_schema_int(&L->s, obj, "maxlen", "redis", 1, 1000000000L, 100000);
    r->connect_timeout_ms = tp_schema_int(&L->s, obj, "connect_timeout_ms", "redis", 1, 600000, 2000);
    r->command_timeout_ms = tp_schema_int(&L->s, obj, "command_timeout_ms", "redis", 1, 600000, 5000);
    if (json_is_string(v = json_object_get(obj, "password_env"))) {
        if (!is_env_name(json_string_value(v)))
            tp_schema_error(&L->s, "redis.password_env",
                            "\"%s\" is not an environment variable name (the variable's name, "
                            "not the password)", json_string_value(v));
        else
            r->password_env = tp_schema_strdup(&L->s, "redis.password_env", json_string_value(v));
    }
}

static void load_compare(struct loader *L, json_t *obj)
{
    static const struct tp_field fields[] = {
        {"margin_pct", TP_T_NUMBER, 0}, {"margin_ms", TP_T_NUMBER, 0},
        {"pass_score", TP_T_NUMBER, 0}, {"marginal_score", TP_T_NUMBER, 0},
    };
    struct tp_probe *p = L->p;
    tp_schema_check(&L->s, obj, "compare", "compare", fields, sizeof fields / sizeof fields[0]);
    p->margin_pct = tp_schema_number(&L->s, obj, "margin_pct", "compare", 0, 1000, p->margin_pct);
    p->margin_ms = tp_schema_number(&L->s, obj, "margin_ms", "compare", 0, 100000, p->margin_ms);
    p->pass_score = tp_schema_number(&L->s, obj, "pass_score", "compare", 0, 100, p->pass_score);
    p->marginal_score =
        tp_schema_number(&L->s, obj, "marginal_score", "compare", 0, 100, p->marginal_score);
    if (p->marginal_score > p->pass_score)
        tp_schema_error(&L->s, "compare.marginal_score",
                        "marginal_score %g is above pass_score %g", p->marginal_score,
                        p->pass_score);
}

static const struct tp_field probe_fields[] = {
    {"location", TP_T_STRING, 1},  {"targets", TP_T_ARRAY, 1},
    {"baseline", TP_T_STRING, 0},  {"journeys", TP_T_ARRAY, 1},
    {"rounds", TP_T_INTEGER, 0},   {"pairing", TP_T_STRING, 0},
    {"max_concurrency", TP_T_INTEGER, 0}, {"redis", TP_T_OBJECT, 0},
    {"spool_dir", TP_T_STRING, 0}, {"compare", TP_T_OBJECT, 0},
    {"jitter_s", TP_T_INTEGER, 0}, {"max_runtime_s", TP_T_INTEGER, 0},
};

static void load_targets(struct loader *L, json_t *arr)
{
    struct tp_probe *p = L->p;
    char sub[PATH_MAX_LEN];
    size_t i;
    json_t *v;

    if (json_array_size(arr) == 0)
        tp_schema_error(&L->s, "targets", "a probe needs at least one target");
    p->targets = calloc(json_array_size(arr) + 1, sizeof *p->targets);
    if (!p->targets) {
        tp_diags_nomem(L->s.diags, L->s.file, "targets");
        return;
    }
    json_array_foreach(arr, i, v) {
        tp_path_index(sub, sizeof sub, "targets", i);
        if (!json_is_object(v)) {
            tp_schema_error(&L->s, sub, "expected a target object, got %s", tp_schema_type_name(v));
            continue;
        }
        struct tp_target *t = &p->targets[p->ntargets++];
        load_target(L, v, sub, t);
        for (size_t k = 0; t->name && k + 1 < p->ntargets; k++)
            if (p->targets[k].name && strcmp(p->targets[k].name, t->name) == 0)
                tp_schema_error(&L->s, sub, "duplicate target name \"%s\"", t->name);
    }
}

static void load_baseline(struct loader *L, json_t *v)
{
    struct tp_probe *p = L->p;
    const char *names[64];
    size_t n = 0;
    p->baseline = 0;
    if (!json_is_string(v))
        return;
    for (size_t i = 0; i < p->ntargets; i++) {
        if (p->targets[i].name && strcmp(p->targets[i].name, json_string_value(v)) == 0) {
            p->baseline = i;
            return;
        }
        if (p->targets[i].name && n < 64)
            names[n++] = p->targets[i].name;
    }
    char hint[128];
    tp_schema_error(&L->s, "baseline", "baseline \"%s\" names no target%s", json_string_value(v),
                    tp_schema_did_you_mean(json_string_value(v), names, n, hint, sizeof hint));
}

static void load_probe(struct loader *L, json_t *root)
{
    struct tp_probe *p = L->p;
    char sub[PATH_MAX_LEN];
    json_t *v;
    size_t i;

    tp_schema_check(&L->s, root, "", "probe file", probe_fields,
                    sizeof probe_fields / sizeof probe_fields[0]);
    if (json_is_string(v = json_object_get(root, "location"))) {
        p->location = tp_schema_strdup(&L->s, "location", json_string_value(v));
        if (json_string_length(v) == 0 || strpbrk(json_string_value(v), ": \t"))
            tp_schema_error(&L->s, "location", "location must be non-empty without ':' or spaces "
                                               "(it is part of Redis keys)");
    }
    if (json_is_array(v = json_object_get(root, "targets")))
        load_targets(L, v);
    load_baseline(L, json_object_get(root, "baseline"));
    if (json_is_array(v = json_object_get(root, "journeys"))) {
        json_t *e;
        if (json_array_size(v) == 0)
            tp_schema_error(&L->s, "journeys", "a probe needs at least one journey");
        p->journeys = calloc(json_array_size(v) + 1, sizeof *p->journeys);
        if (!p->journeys)
            tp_diags_nomem(L->s.diags, L->s.file, "journeys");
        json_array_foreach(v, i, e) {
            tp_path_index(sub, sizeof sub, "journeys", i);
            if (!json_is_string(e) || json_string_length(e) == 0) {
                tp_schema_error(&L->s, sub, "expected a journey file path");
                continue;
            }
            if (p->journeys)
                p->journeys[p->njourneys++] = relative_path(L, sub, json_string_value(e));
        }
    }
    p->rounds = tp_schema_int(&L->s, root, "rounds", "", 1, 100000, 1);
    p->max_concurrency = tp_schema_int(&L->s, root, "max_concurrency", "", 1, 10000, 64);
    p->jitter_s = tp_schema_int(&L->s, root, "jitter_s", "", 0, 86400, 0);
    p->max_runtime_s = tp_schema_int(&L->s, root, "max_runtime_s", "", 0, 604800, 0);
    if (json_is_string(v = json_object_get(root, "pairing"))) {
        if (strcmp(json_string_value(v), "alternate") == 0)
            p->pairing = TP_PAIR_ALTERNATE;
        else if (strcmp(json_string_value(v), "simultaneous") != 0)
            tp_schema_error(&L->s, "pairing", "expected \"simultaneous\" or \"alternate\", got \"%s\"",
                            json_string_value(v));
    }
    if (json_is_object(v = json_object_get(root, "redis")))
        load_redis(L, v);
    if (json_is_string(v = json_object_get(root, "spool_dir")))
        p->spool_dir = relative_path(L, "spool_dir", json_string_value(v));
    if (json_is_object(v = json_object_get(root, "compare")))
        load_compare(L, v);
}

struct tp_probe *tp_probe_parse(const char *file, const char *bytes, size_t len,
                                struct tp_diags *diags)
{
    struct loader L;
    json_t *root;

    memset(&L, 0, sizeof L);
    L.s.file = file;
    L.s.diags = diags;
    root = tp_schema_parse(&L.s, bytes, len, TP_PROBE_MAX_BYTES, "probe file");
    if (!root)
        return NULL;
    L.p = calloc(1, sizeof *L.p);
    if (!L.p || !(L.p->file = strdup(file))) {
        tp_diags_nomem(L.s.diags, L.s.file, "");
        free(L.p);
        json_decref(root);
        return NULL;
    }
    L.p->margin_pct = 10;
    L.p->margin_ms = 5;
    L.p->pass_score = 95;
    L.p->marginal_score = 75;
    load_probe(&L, root);
    json_decref(root);
    return L.p;
}

struct tp_probe *tp_probe_load(const char *file, const char *bytes, size_t len,
                               struct tp_diags *diags)
{
    size_t before = tp_diags_total(diags);
    struct tp_probe *p = tp_probe_parse(file, bytes, len, diags);
    if (p && tp_diags_total(diags) != before) {
        tp_probe_free(p);
        return NULL;
    }
    return p;
}

static void pairs_free(struct tp_pair *pairs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(pairs[i].name);
        free(pairs[i].value);
    }
    free(pairs);
}

void tp_probe_free(struct tp_probe *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->ntargets; i++) {
        struct tp_target *t = &p->targets[i];
        free(t->name);
        free(t->base_url);
        free(t->connect_to);
        pairs_free(t->headers, t->nheaders);
        pairs_free(t->cookies, t->ncookies);
        free(t->ca_file);
        tp_auth_clear(&t->auth);
    }
    free(p->targets);
    for (size_t i = 0; i < p->njourneys; i++)
        free(p->journeys[i]);
    free(p->journeys);
    free(p->redis.url);
    for (size_t i = 0; i < p->redis.nsentinels; i++)
        free(p->redis.sentinels[i].host);
    free(p->redis.sentinels);
    free(p->redis.master);
    tp_redis_url_clear(&p->redis.addr);
    free(p->redis.prefix);
    free(p->redis.password_env);
    free(p->spool_dir);
    free(p->location);
    free(p->file);
    free(p);
}
