/* The baseline of the benchmark: the requests of bench/journey.json made with a
 * plain libcurl easy handle in a loop, and nothing else: no templates, no
 * parsing, no checks beyond the status code, bodies thrown away.
 *
 * usage: rawcurl [--fresh-per-pass] BASE_URL PASSES
 *
 * One pass is the journey's five requests in order, with the bytes twinprobe
 * sends (same methods, paths, bodies and headers; the traceparent is a fixed
 * string of the same length; the session cookie is sent as the header
 * twinprobe's cookie engine produces). One easy handle is reused for every
 * request, so libcurl keeps one keep-alive connection. --fresh-per-pass opens
 * a new connection at the start of each pass, as twinprobe does for every
 * journey run (CURLOPT_FRESH_CONNECT on a run's first request).
 *
 * --extract (only in the build named rawcurl-extract, compiled with
 * -DRAWCURL_EXTRACT=1 and linked with libxml2 and jansson; the plain build links
 * libcurl alone) also does the journey's captures and checks, with the libraries
 * and calls twinprobe uses for them, and nothing else (no templates, no report):
 *   login-page   body contains "Sign in" (strstr); htmlReadMemory with
 *                twinprobe's options, then XPath
 *                string(//input[@name='csrf']/@value): the csrf capture, which
 *                the login form of the same pass sends (urlencoded with
 *                curl_easy_escape, as the password)
 *   login        Location equals "/account" (curl_easy_header); cookie sid in
 *                libcurl's cookie engine (CURLINFO_COOKIELIST), which then sends
 *                it: the fixed Cookie header is not used
 *   account      htmlReadMemory, XPath string(//span[@id='user']) equals "alice"
 *   search       json_loadb; some results[i] with sku "A-100" has a price;
 *                count equals 12
 *   add-to-cart  json_loadb; capture cart.id; cart.items[0].sku equals "A-100",
 *                cart.items[0].qty equals 2
 * The cookie jar is emptied at the start of every pass. No PCRE2: this journey
 * has no regex check, so twinprobe runs no pattern either.
 *
 * Prints the CPU time of the loop (getrusage RUSAGE_SELF, user + sys) and per
 * request. Exit status 0 when every status code (and with --extract, every
 * check) was the expected one. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#ifndef RAWCURL_EXTRACT
#define RAWCURL_EXTRACT 0
#endif
#if RAWCURL_EXTRACT
#include <jansson.h>
#include <libxml/HTMLparser.h>
#include <libxml/xpath.h>
#endif

#define NSTEPS 5
#define URL_MAX 512
#define BODY_MAX 512

/* Kept in step with bench/journey.json and bench/www/ (see bench/run.sh --check). */
#define USER_AGENT "User-Agent: twinprobe/0.1.0 (local)"
#define TRACEPARENT "traceparent: 00-953a72b3ca8809c421527dadf6f41ce3-a7dec8af75c031c1-01"
#define COOKIE "Cookie: sid=3b9f0c1e7a2d4f65"
#define CSRF "c5f1e0b2a9d84c7e9f3a6b1d2e4f7a8c"

struct step {
    const char *method;     /* "GET" or "POST" */
    const char *path;       /* appended to BASE_URL */
    const char *headers[6]; /* in twinprobe's order; NULL ends a shorter list */
    const char *body;       /* POST body; NULL: the form body built in main() */
    long status;            /* the expected status code */
};

static const struct step steps[NSTEPS] = {
    {"GET", "/login", {"Accept: text/html", USER_AGENT, TRACEPARENT, NULL}, NULL, 200},
    {"POST",
     "/login",
     {"Accept: application/json", USER_AGENT, TRACEPARENT,
      "Content-Type: application/x-www-form-urlencoded", "Expect:", NULL},
     NULL,
     303},
    {"GET", "/account", {COOKIE, "Accept: text/html", USER_AGENT, TRACEPARENT, NULL}, NULL, 200},
    {"GET",
     "/api/search?q=widget",
     {COOKIE, "Accept: application/json", USER_AGENT, TRACEPARENT, NULL},
     NULL,
     200},
    {"POST",
     "/api/cart",
     {COOKIE, "Accept: application/json", USER_AGENT, TRACEPARENT, "Content-Type: application/json",
      "Expect:"},
     "{\"sku\":\"A-100\",\"qty\":2}",
     201},
};

static size_t discard(char *data, size_t size, size_t nmemb, void *userdata)
{
    (void)data;
    (void)userdata;
    return size * nmemb;
}

#if RAWCURL_EXTRACT
/* One response body, reused by every request; always NUL-terminated. */
struct body {
    char *data;
    size_t len, cap;
};

static size_t keep(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct body *b = userdata;
    size_t n = size * nmemb;

    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char *p;
        while (cap < b->len + n + 1)
            cap *= 2;
        if (!(p = realloc(b->data, cap)))
            return 0;
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

/* XPath string(EXPR) over an HTML body parsed as twinprobe parses it; the
 * result goes to OUT (bounded). 0 on success. */
static int html_xpath_string(const struct body *b, const char *expr, char *out, size_t outsz)
{
    htmlDocPtr doc = htmlReadMemory(b->data, (int)b->len, NULL, NULL,
                                    HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                        HTML_PARSE_NONET);
    xmlXPathContextPtr ctx = doc ? xmlXPathNewContext(doc) : NULL;
    xmlXPathObjectPtr obj = ctx ? xmlXPathEvalExpression((const xmlChar *)expr, ctx) : NULL;
    int rc = -1;

    if (obj && obj->type == XPATH_STRING && obj->stringval) {
        snprintf(out, outsz, "%s", (const char *)obj->stringval);
        rc = 0;
    }
    xmlXPathFreeObject(obj);
    xmlXPathFreeContext(ctx);
    xmlFreeDoc(doc);
    return rc;
}

static int has_cookie(CURL *easy, const char *name)
{
    struct curl_slist *list = NULL;
    size_t nlen = strlen(name);
    int found = 0;

    if (curl_easy_getinfo(easy, CURLINFO_COOKIELIST, &list) != CURLE_OK)
        return 0;
    /* domain, subdomains, path, secure, expiry, name, value: tab-separated */
    for (struct curl_slist *l = list; l && !found; l = l->next) {
        const char *f = l->data;
        for (int i = 0; i < 5 && f; i++)
            f = strchr(f, '\t') ? strchr(f, '\t') + 1 : NULL;
        found = f && strncmp(f, name, nlen) == 0 && f[nlen] == '\t';
    }
    curl_slist_free_all(list);
    return found;
}

static int json_str_is(json_t *v, const char *want)
{
    return json_is_string(v) && strcmp(json_string_value(v), want) == 0;
}

/* The captures and checks of step S on the body B just received. CSRF and
 * CART_ID receive the captures. 0 when every check passes; otherwise writes
 * which one failed to stderr. */
static int evaluate(size_t s, CURL *easy, const struct body *b, char *csrf, size_t csrfsz,
                    char *cart_id, size_t cartsz)
{
    char text[256];
    struct curl_header *h = NULL;
    json_t *root = NULL, *v;
    const char *failed = NULL;

    switch (s) {
    case 0:
        if (!strstr(b->data, "Sign in"))
            failed = "body contains \"Sign in\"";
        else if (html_xpath_string(b, "string(//input[@name='csrf']/@value)", csrf, csrfsz) ||
                 !*csrf)
            failed = "capture csrf";
        break;
    case 1:
        if (curl_easy_header(easy, "Location", 0, CURLH_HEADER, -1, &h) != CURLHE_OK ||
            strcmp(h->value, "/account") != 0)
            failed = "header Location equals /account";
        else if (!has_cookie(easy, "sid"))
            failed = "cookie sid exists";
        break;
    case 2:
        if (html_xpath_string(b, "string(//span[@id='user'])", text, sizeof text) ||
            strcmp(text, "alice") != 0)
            failed = "xpath //span[@id='user'] equals alice";
        break;
    case 3: {
        size_t i;
        json_t *r, *results;
        int found = 0;
        if (!(root = json_loadb(b->data, b->len, 0, NULL))) {
            failed = "JSON body";
            break;
        }
        results = json_object_get(root, "results");
        json_array_foreach (results, i, r) {
            if (json_str_is(json_object_get(r, "sku"), "A-100") && json_object_get(r, "price"))
                found = 1;
        }
        v = json_object_get(root, "count");
        if (!found)
            failed = "$.results[?@.sku == 'A-100'].price exists";
        else if (!json_is_number(v) || json_number_value(v) != 12.0)
            failed = "$.count equals 12";
        break;
    }
    case 4: {
        json_t *cart, *item;
        if (!(root = json_loadb(b->data, b->len, 0, NULL))) {
            failed = "JSON body";
            break;
        }
        cart = json_object_get(root, "cart");
        v = json_object_get(cart, "id");
        item = json_array_get(json_object_get(cart, "items"), 0);
        if (json_is_string(v))
            snprintf(cart_id, cartsz, "%s", json_string_value(v));
        else
            failed = "capture cart_id";
        v = json_object_get(item, "qty");
        if (!failed && !json_str_is(json_object_get(item, "sku"), "A-100"))
            failed = "$.cart.items[0].sku equals A-100";
        else if (!failed && (!json_is_number(v) || json_number_value(v) != 2.0))
            failed = "$.cart.items[0].qty equals 2";
        break;
    }
    default:
        break;
    }
    json_decref(root);
    if (failed)
        fprintf(stderr, "rawcurl: step %zu: check failed: %s\n", s + 1, failed);
    return failed ? -1 : 0;
}
#endif

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int usage(void)
{
    fprintf(stderr, "usage: rawcurl [--fresh-per-pass] [--extract] BASE_URL PASSES\n");
    return 2;
}

int main(int argc, char **argv)
{
    char urls[NSTEPS][URL_MAX], form[BODY_MAX];
    struct curl_slist *headers[NSTEPS] = {NULL};
    const char *password = getenv("BENCH_PASSWORD");
    char *epassword = NULL, *end;
    int fresh = 0, extract = 0, argi = 1, status = 1;
    long passes;
    double cpu0, cpu;
    CURL *easy = NULL;
#if RAWCURL_EXTRACT
    struct body body = {NULL, 0, 0};
    char csrf[128] = "", cart_id[128] = "";
#endif

    for (; argi < argc && strncmp(argv[argi], "--", 2) == 0; argi++) {
        if (strcmp(argv[argi], "--fresh-per-pass") == 0)
            fresh = 1;
        else if (strcmp(argv[argi], "--extract") == 0)
            extract = 1;
        else
            return usage();
    }
    if (argc - argi != 2)
        return usage();
    if (extract && !RAWCURL_EXTRACT) {
        fprintf(stderr, "rawcurl: --extract: this build has no extraction (use rawcurl-extract)\n");
        return 2;
    }
    passes = strtol(argv[argi + 1], &end, 10);
    if (!*argv[argi + 1] || *end || passes < 1)
        return usage();
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;

    /* Everything a request needs is prepared once, outside the loop; with
     * --extract, the form (it carries the captured csrf) is built in each pass. */
    easy = curl_easy_init();
    epassword = curl_easy_escape(NULL, password ? password : "", 0);
    if (!easy || !epassword)
        goto done;
    snprintf(form, sizeof form, "user=alice&password=%s&csrf=" CSRF, epassword);
    for (size_t s = 0; s < NSTEPS; s++) {
        snprintf(urls[s], sizeof urls[s], "%s%s", argv[argi], steps[s].path);
        for (size_t h = 0; h < 6 && steps[s].headers[h]; h++) {
            struct curl_slist *next;
            if (extract && strcmp(steps[s].headers[h], COOKIE) == 0)
                continue; /* the cookie engine sends the captured one */
            if (!(next = curl_slist_append(headers[s], steps[s].headers[h])))
                goto done;
            headers[s] = next;
        }
    }
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
#if RAWCURL_EXTRACT
    if (extract) {
        xmlInitParser();
        if (!(body.data = malloc(body.cap = 4096)))
            goto done;
        curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, keep);
        curl_easy_setopt(easy, CURLOPT_WRITEDATA, &body);
        curl_easy_setopt(easy, CURLOPT_COOKIELIST, "# rawcurl: cookie engine on");
    }
#endif

    cpu0 = cpu_seconds();
    for (long p = 0; p < passes; p++) {
#if RAWCURL_EXTRACT
        if (extract)
            curl_easy_setopt(easy, CURLOPT_COOKIELIST, "ALL"); /* a new jar per pass */
#endif
        for (size_t s = 0; s < NSTEPS; s++) {
            const struct step *st = &steps[s];
            const char *body_out = st->body ? st->body : form;
            long code = 0;
            CURLcode cc;

            curl_easy_setopt(easy, CURLOPT_URL, urls[s]);
            curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers[s]);
            curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, fresh && s == 0 ? 1L : 0L);
            if (strcmp(st->method, "POST") == 0) {
                curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long)strlen(body_out));
                curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body_out);
            } else {
                curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
            }
#if RAWCURL_EXTRACT
            body.len = 0;
            if (body.data)
                body.data[0] = '\0';
#endif
            cc = curl_easy_perform(easy);
            curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
            if (cc != CURLE_OK || code != st->status) {
                fprintf(stderr, "rawcurl: pass %ld, %s %s: %s, status %ld (expected %ld)\n", p + 1,
                        st->method, urls[s], curl_easy_strerror(cc), code, st->status);
                goto done;
            }
#if RAWCURL_EXTRACT
            if (extract) {
                if (evaluate(s, easy, &body, csrf, sizeof csrf, cart_id, sizeof cart_id))
                    goto done;
                if (s == 0) {
                    char *ecsrf = curl_easy_escape(easy, csrf, 0);
                    if (!ecsrf)
                        goto done;
                    snprintf(form, sizeof form, "user=alice&password=%s&csrf=%s", epassword, ecsrf);
                    curl_free(ecsrf);
                }
            }
#endif
        }
    }
    cpu = cpu_seconds() - cpu0;
    printf("rawcurl: %ld requests (%ld passes of %d)%s%s: loop CPU %.3f s, %.1f us per request\n",
           passes * NSTEPS, passes, NSTEPS, fresh ? ", a new connection per pass" : "",
           extract ? ", with the captures and checks" : "", cpu,
           cpu * 1e6 / (double)(passes * NSTEPS));
    status = 0;

done:
    for (size_t s = 0; s < NSTEPS; s++)
        curl_slist_free_all(headers[s]);
    curl_free(epassword);
    curl_easy_cleanup(easy);
    curl_global_cleanup();
#if RAWCURL_EXTRACT
    free(body.data);
    if (extract)
        xmlCleanupParser();
#endif
    return status;
}
