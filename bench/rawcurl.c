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
 * Prints the CPU time of the loop (getrusage RUSAGE_SELF, user + sys) and per
 * request. Exit status 0 when every status code was the expected one. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>

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

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int usage(void)
{
    fprintf(stderr, "usage: rawcurl [--fresh-per-pass] BASE_URL PASSES\n");
    return 2;
}

int main(int argc, char **argv)
{
    char urls[NSTEPS][URL_MAX], form[BODY_MAX];
    struct curl_slist *headers[NSTEPS] = {NULL};
    const char *password = getenv("BENCH_PASSWORD");
    char *epassword = NULL, *end;
    int fresh = 0, argi = 1, status = 1;
    long passes;
    double cpu0, cpu;
    CURL *easy = NULL;

    if (argi < argc && strcmp(argv[argi], "--fresh-per-pass") == 0) {
        fresh = 1;
        argi++;
    }
    if (argc - argi != 2)
        return usage();
    passes = strtol(argv[argi + 1], &end, 10);
    if (!*argv[argi + 1] || *end || passes < 1)
        return usage();
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;

    /* Everything a request needs is prepared once, outside the loop. */
    easy = curl_easy_init();
    epassword = curl_easy_escape(NULL, password ? password : "", 0);
    if (!easy || !epassword)
        goto done;
    snprintf(form, sizeof form, "user=alice&password=%s&csrf=" CSRF, epassword);
    for (size_t s = 0; s < NSTEPS; s++) {
        snprintf(urls[s], sizeof urls[s], "%s%s", argv[argi], steps[s].path);
        for (size_t h = 0; h < 6 && steps[s].headers[h]; h++) {
            struct curl_slist *next = curl_slist_append(headers[s], steps[s].headers[h]);
            if (!next)
                goto done;
            headers[s] = next;
        }
    }
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);

    cpu0 = cpu_seconds();
    for (long p = 0; p < passes; p++) {
        for (size_t s = 0; s < NSTEPS; s++) {
            const struct step *st = &steps[s];
            const char *body = st->body ? st->body : form;
            long code = 0;
            CURLcode cc;

            curl_easy_setopt(easy, CURLOPT_URL, urls[s]);
            curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers[s]);
            curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, fresh && s == 0 ? 1L : 0L);
            if (strcmp(st->method, "POST") == 0) {
                curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
                curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
            } else {
                curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
            }
            cc = curl_easy_perform(easy);
            curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
            if (cc != CURLE_OK || code != st->status) {
                fprintf(stderr, "rawcurl: pass %ld, %s %s: %s, status %ld (expected %ld)\n", p + 1,
                        st->method, urls[s], curl_easy_strerror(cc), code, st->status);
                goto done;
            }
        }
    }
    cpu = cpu_seconds() - cpu0;
    printf("rawcurl: %ld requests (%ld passes of %d)%s: loop CPU %.3f s, %.1f us per request\n",
           passes * NSTEPS, passes, NSTEPS, fresh ? ", a new connection per pass" : "", cpu,
           cpu * 1e6 / (double)(passes * NSTEPS));
    status = 0;

done:
    for (size_t s = 0; s < NSTEPS; s++)
        curl_slist_free_all(headers[s]);
    curl_free(epassword);
    curl_easy_cleanup(easy);
    curl_global_cleanup();
    return status;
}
