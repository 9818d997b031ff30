/* Unit tests for src/evaluate.c: steps loaded from a journey document, judged
 * against hand-made responses — captures feeding expectations, the failure class
 * and its precedence (http, capture, assertion), and the message forms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fake_env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/evaluate.h"
#include "twinprobe/journey.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

static const char journey_text[] =
    "{\"name\": \"checkout\","
    " \"variables\": {\"sku\": \"A-100\", \"qty\": \"2\"},"
    " \"steps\": ["
    "  {\"name\": \"login-page\", \"request\": {\"url\": \"/login\"},"
    "   \"capture\": {\"csrf\": {\"xpath\": \"string(//input[@name='csrf']/@value)\"}},"
    "   \"expect\": [{\"status\": 200}, {\"body\": {\"contains\": \"Sign in\"}}]},"
    "  {\"name\": \"login\", \"request\": {\"method\": \"POST\", \"url\": \"/login\","
    "     \"form\": {\"csrf\": \"{{csrf}}\"}},"
    "   \"expect\": [{\"status\": [302, 303]}, {\"header\": \"Location\", \"equals\": "
    "\"/account\"}]},"
    "  {\"name\": \"add-to-cart\", \"request\": {\"method\": \"POST\", \"url\": \"/api/cart\","
    "     \"json\": {\"sku\": \"{{sku}}\", \"qty\": 1}},"
    "   \"capture\": {\"cart_id\": {\"jsonpath\": \"$.cart.id\"},"
    "                 \"price\": {\"jsonpath\": \"$.cart.items[0].price\"},"
    "                 \"item\": {\"jsonpath\": \"$.cart.items[0]\"}},"
    "   \"expect\": [{\"status\": 201},"
    "                {\"jsonpath\": \"$.cart.items[0].sku\", \"equals\": \"{{sku}}\"},"
    "                {\"jsonpath\": \"$.cart.items[0].qty\", \"equals\": \"{{qty}}\"},"
    "                {\"header\": \"X-Cart\", \"equals\": \"{{cart_id}}\"},"
    "                {\"duration_ms\": {\"lt\": 800, \"ge\": 0}}]},"
    "  {\"name\": \"no-status\", \"request\": {\"url\": \"/health\"},"
    "   \"expect\": [{\"body\": {\"contains\": \"ok\"}}]},"
    "  {\"name\": \"token\", \"request\": {\"url\": \"/token\"},"
    "   \"capture\": {\"token\": {\"xpath\": \"//input[@name='token']/@value\"}},"
    "   \"expect\": [{\"header\": \"X-Token\", \"equals\": \"t-{{token}}\"},"
    "                {\"header\": \"X-Other\", \"exists\": true}]}"
    " ]}";

/* ---- fixtures: the journey, a variable set, hand-made responses ---------- */

struct fixture {
    struct tp_journey *journey;
    tp_vars *vars;
    struct tp_template_env env;
    struct tp_response resp;
    struct tp_step_eval out;
    struct tp_error err;
};

static int setup(void **state)
{
    struct tp_diags d = {0};
    struct fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->journey = tp_journey_load("checkout.json", journey_text, strlen(journey_text), &d);
    for (size_t i = 0; i < d.count; i++)
        print_message("journey: %s: %s\n", d.items[i].path, d.items[i].text);
    tp_diags_clear(&d);
    f->vars = tp_vars_create();
    if (!f->journey || !f->vars)
        return -1;
    /* what the runner does before the first step: journey variables into the set */
    for (size_t i = 0; i < f->journey->variables.count; i++)
        tp_vars_set(f->vars, f->journey->variables.items[i].name,
                    tp_template_source(f->journey->variables.items[i].value));
    f->env = (struct tp_template_env){var_lookup, no_env, four, epoch, f->vars};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    tp_step_eval_clear(&f->out);
    tp_response_clear(&f->resp);
    tp_vars_free(f->vars);
    tp_journey_free(f->journey);
    free(f);
    return 0;
}

static char *dup_str(const char *s)
{
    char *d = strdup(s);
    assert_non_null(d);
    return d;
}

static void add_header(struct tp_response *r, const char *name, const char *value)
{
    struct tp_header *h = realloc(r->headers, (r->nheaders + 1) * sizeof *h);
    assert_non_null(h);
    r->headers = h;
    h[r->nheaders].name = dup_str(name);
    h[r->nheaders].value = dup_str(value);
    r->nheaders++;
}

/* Resets f->resp (and the previous evaluation) to a new response. */
static void respond(struct fixture *f, long status, const char *content_type, const char *body,
                    double total_ms)
{
    tp_step_eval_clear(&f->out);
    tp_response_clear(&f->resp);
    f->resp.status = status;
    f->resp.body = dup_str(body);
    f->resp.body_len = strlen(body);
    f->resp.effective_url = dup_str("https://shop.example/");
    f->resp.timings.total_ms = total_ms;
    if (content_type)
        add_header(&f->resp, "Content-Type", content_type);
}

static tp_err evaluate(struct fixture *f, const char *step_name)
{
    const struct tp_step *step = tp_journey_step(f->journey, step_name);
    assert_non_null(step);
    tp_error_clear(&f->err);
    return tp_step_evaluate(step, &f->resp, &f->env, f->vars, &f->out, &f->err);
}

static void assert_error(const struct fixture *f, enum tp_failure failure, const char *message)
{
    if (f->out.failure != failure ||
        (message && (!f->out.error || strcmp(f->out.error, message) != 0)))
        print_message("want %s \"%s\", got %s \"%s\"\n",
                      tp_failure_name(failure) ? tp_failure_name(failure) : "none",
                      message ? message : "",
                      tp_failure_name(f->out.failure) ? tp_failure_name(f->out.failure) : "none",
                      f->out.error ? f->out.error : "");
    assert_int_equal(f->out.failure, failure);
    if (message)
        assert_string_equal(f->out.error, message);
    else
        assert_null(f->out.error);
}

static const char login_page[] = "<!DOCTYPE html><html><head><title>Sign in</title></head><body>"
                                 "<form method=post><input type=hidden name=csrf value=f1a9c3>"
                                 "<input name=user><button>Sign in</form></body>";

/* ---- captures feed expectations ----------------------------------------- */

static void test_login_page_passes(void **state)
{
    struct fixture *f = *state;

    respond(f, 200, "text/html; charset=utf-8", login_page, 12.5);
    assert_int_equal(evaluate(f, "login-page"), TP_OK);
    assert_error(f, TP_FAIL_NONE, NULL);
    assert_string_equal(json_string_value(json_object_get(f->out.captures, "csrf")), "f1a9c3");
    assert_string_equal(tp_vars_get(f->vars, "csrf"), "f1a9c3");
    assert_int_equal(f->out.nassertions, 2);
    assert_string_equal(f->out.assertions[0].source, "status");
    assert_string_equal(f->out.assertions[0].predicate, "equals");
    assert_int_equal(json_integer_value(f->out.assertions[0].expected), 200);
    assert_int_equal(json_integer_value(f->out.assertions[0].actual), 200);
    assert_true(f->out.assertions[0].ok);
    assert_null(f->out.assertions[0].message);
    assert_string_equal(f->out.assertions[1].source, "body");
    assert_string_equal(f->out.assertions[1].predicate, "contains");
    assert_true(f->out.assertions[1].ok);
}

static void test_cart_captures_and_templates(void **state)
{
    struct fixture *f = *state;
    static const char body[] =
        "{\"cart\": {\"id\": \"c-77\", \"items\": [{\"sku\": \"A-100\", \"qty\": 2,"
        " \"price\": 12.5}]}}";

    respond(f, 201, "application/json", body, 41.4);
    add_header(&f->resp, "X-Cart", "c-77");
    assert_int_equal(evaluate(f, "add-to-cart"), TP_OK);
    assert_error(f, TP_FAIL_NONE, NULL);
    /* captured values are kept as JSON and stored as text for templates */
    assert_string_equal(tp_vars_get(f->vars, "cart_id"), "c-77");
    assert_string_equal(tp_vars_get(f->vars, "price"), "12.5");
    assert_string_equal(tp_vars_get(f->vars, "item"),
                        "{\"sku\":\"A-100\",\"qty\":2,\"price\":12.5}");
    assert_true(json_is_real(json_object_get(f->out.captures, "price")));
    assert_true(json_is_object(json_object_get(f->out.captures, "item")));
    /* {{qty}} ("2") equals the number 2; {{cart_id}} was captured in this step */
    assert_int_equal(f->out.nassertions, 6);
    for (size_t i = 0; i < f->out.nassertions; i++)
        assert_true(f->out.assertions[i].ok);
    assert_string_equal(f->out.assertions[3].source, "header X-Cart");
    assert_string_equal(json_string_value(f->out.assertions[3].expected), "c-77");
    assert_string_equal(f->out.assertions[4].source, "duration_ms");
    assert_string_equal(f->out.assertions[4].predicate, "lt");
    assert_string_equal(f->out.assertions[5].predicate, "ge");
}

/* ---- failure classes and messages --------------------------------------- */

struct failure_case {
    const char *step;
    long status;
    const char *content_type;
    const char *body;
    const char *header_name, *header_value; /* optional */
    double total_ms;
    enum tp_failure failure;
    const char *error;
};

static const struct failure_case failure_cases[] = {
    {"login-page", 200, "text/html", "", NULL, NULL, 5, TP_FAIL_CAPTURE,
     "capture csrf: xpath string(//input[@name='csrf']/@value) found nothing"},
    {"login-page", 500, "text/html", "", NULL, NULL, 5, TP_FAIL_HTTP,
     "status: expected 200, got 500"},
    {"login-page", 200, "text/html", "<html><body><input name=csrf value=x>Sign up", NULL, NULL, 5,
     TP_FAIL_ASSERTION,
     "body: expected to contain \"Sign in\", got \"<html><body><input "
     "name=csrf value=x>Sign up\""},
    {"login", 500, "text/html", "oops", NULL, NULL, 5, TP_FAIL_HTTP,
     "status: expected one of [302, 303], got 500"},
    {"login", 303, NULL, "", "Location", "/account", 5, TP_FAIL_NONE, NULL},
    {"login", 302, NULL, "", "Location", "/home", 5, TP_FAIL_ASSERTION,
     "header Location: expected \"/account\", got \"/home\""},
    {"login", 302, NULL, "", NULL, NULL, 5, TP_FAIL_ASSERTION,
     "header Location: expected \"/account\", found nothing"},
    {"add-to-cart", 201, "application/json",
     "{\"cart\": {\"id\": \"c-1\", \"items\": [{\"sku\": \"A-101\", \"qty\": 2, \"price\": 1}]}}",
     "X-Cart", "c-1", 5, TP_FAIL_ASSERTION,
     "jsonpath $.cart.items[0].sku: expected \"A-100\", got \"A-101\""},
    {"add-to-cart", 201, "application/json",
     "{\"cart\": {\"id\": \"c-1\", \"items\": [{\"sku\": \"A-100\", \"qty\": 3, \"price\": 1}]}}",
     "X-Cart", "c-1", 5, TP_FAIL_ASSERTION, "jsonpath $.cart.items[0].qty: expected \"2\", got 3"},
    {"add-to-cart", 201, "application/json",
     "{\"cart\": {\"id\": \"c-1\", \"items\": [{\"sku\": \"A-100\", \"qty\": 2, \"price\": 1}]}}",
     "X-Cart", "c-1", 912.4, TP_FAIL_ASSERTION, "duration_ms: expected < 800, got 912.4"},
    {"add-to-cart", 201, "application/json", "not json", "X-Cart", "c-1", 5, TP_FAIL_CAPTURE,
     "capture cart_id: jsonpath $.cart.id found nothing"},
    /* no status expectation: 200-399 passes, anything else is http, first */
    {"no-status", 200, NULL, "ok", NULL, NULL, 5, TP_FAIL_NONE, NULL},
    {"no-status", 302, NULL, "ok", NULL, NULL, 5, TP_FAIL_NONE, NULL},
    {"no-status", 399, NULL, "ok", NULL, NULL, 5, TP_FAIL_NONE, NULL},
    {"no-status", 500, NULL, "down", NULL, NULL, 5, TP_FAIL_HTTP,
     "status: expected 200-399, got 500"},
    {"no-status", 404, NULL, "ok", NULL, NULL, 5, TP_FAIL_HTTP,
     "status: expected 200-399, got 404"},
    {"no-status", 199, NULL, "ok", NULL, NULL, 5, TP_FAIL_HTTP,
     "status: expected 200-399, got 199"},
    {"no-status", 200, NULL, "fine", NULL, NULL, 5, TP_FAIL_ASSERTION,
     "body: expected to contain \"ok\", got \"fine\""},
    /* a capture that found nothing: expectations that use it are not checked */
    {"token", 200, "text/html", "<html><body>no token", "X-Token", "t-", 5, TP_FAIL_CAPTURE,
     "capture token: xpath //input[@name='token']/@value found nothing"},
    {"token", 200, "text/html", "<html><body><input name=token value=9>", "X-Token", "t-9", 5,
     TP_FAIL_ASSERTION, "header X-Other: expected to exist, found nothing"},
    {"token", 503, "text/html", "<html><body>no token", NULL, NULL, 5, TP_FAIL_HTTP,
     "status: expected 200-399, got 503"},
};

static void test_failure_table(void **state)
{
    struct fixture *f = *state;
    size_t wrong = 0;

    for (size_t i = 0; i < COUNT_OF(failure_cases); i++) {
        const struct failure_case *c = &failure_cases[i];
        respond(f, c->status, c->content_type, c->body, c->total_ms);
        if (c->header_name)
            add_header(&f->resp, c->header_name, c->header_value);
        assert_int_equal(evaluate(f, c->step), TP_OK);
        if (f->out.failure != c->failure ||
            (c->error ? !f->out.error || strcmp(f->out.error, c->error) != 0
                      : f->out.error != NULL)) {
            print_message("case %zu (%s %ld): want %s \"%s\", got %s \"%s\"\n", i, c->step,
                          c->status, c->error ? tp_failure_name(c->failure) : "none",
                          c->error ? c->error : "",
                          f->out.error ? tp_failure_name(f->out.failure) : "none",
                          f->out.error ? f->out.error : "");
            wrong++;
        }
    }
    assert_int_equal(wrong, 0);
}

/* Every failed assertion carries "SOURCE: MESSAGE"; passing ones none. */
static void test_assertions_report_everything(void **state)
{
    struct fixture *f = *state;

    respond(f, 500, "text/html", "oops", 5);
    add_header(&f->resp, "Location", "/home");
    assert_int_equal(evaluate(f, "login"), TP_OK);
    assert_error(f, TP_FAIL_HTTP, "status: expected one of [302, 303], got 500");
    assert_int_equal(f->out.nassertions, 2);
    const struct tp_assertion *a = &f->out.assertions[0];
    assert_string_equal(a->source, "status");
    assert_string_equal(a->predicate, "in");
    json_t *want = json_loads("[302, 303]", 0, NULL);
    assert_true(json_equal(a->expected, want));
    json_decref(want);
    assert_int_equal(json_integer_value(a->actual), 500);
    assert_false(a->ok);
    a = &f->out.assertions[1];
    assert_string_equal(a->source, "header Location");
    assert_string_equal(a->message, "header Location: expected \"/account\", got \"/home\"");
    assert_false(a->ok);
}

static void test_not_checked_after_failed_capture(void **state)
{
    struct fixture *f = *state;

    respond(f, 200, "text/html", "<html><body>none", 5);
    add_header(&f->resp, "X-Token", "t-");
    add_header(&f->resp, "X-Other", "1");
    assert_int_equal(evaluate(f, "token"), TP_OK);
    assert_error(f, TP_FAIL_CAPTURE,
                 "capture token: xpath //input[@name='token']/@value found nothing");
    assert_null(tp_vars_get(f->vars, "token"));
    assert_int_equal(json_object_size(f->out.captures), 0);
    assert_int_equal(f->out.nassertions, 2);
    assert_false(f->out.assertions[0].ok);
    assert_string_equal(f->out.assertions[0].message,
                        "header X-Token: not checked: capture token found nothing");
    assert_string_equal(json_string_value(f->out.assertions[0].expected), "t-{{token}}");
    assert_true(f->out.assertions[1].ok);
}

/* An expectation naming a variable the run does not have is an error. */
static void test_undefined_variable_at_run_time(void **state)
{
    struct fixture *f = *state;
    tp_vars *empty = tp_vars_create();
    struct tp_template_env env = {var_lookup, no_env, four, epoch, empty};
    const struct tp_step *step = tp_journey_step(f->journey, "add-to-cart");

    respond(f, 201, "application/json", "{\"cart\": {\"items\": [{\"sku\": \"A-100\"}]}}", 5);
    tp_error_clear(&f->err);
    assert_int_equal(tp_step_evaluate(step, &f->resp, &env, empty, &f->out, &f->err),
                     TP_ERR_INVALID);
    assert_non_null(strstr(f->err.text, "sku"));
    tp_step_eval_clear(&f->out); /* safe after an error */
    assert_null(f->out.assertions);
    tp_vars_free(empty);
}

/* Captures are stored before expectations, and a later capture replaces an
 * earlier value of the same name. */
static void test_vars_persist_between_steps(void **state)
{
    struct fixture *f = *state;

    respond(f, 200, "text/html", login_page, 5);
    assert_int_equal(evaluate(f, "login-page"), TP_OK);
    respond(f, 200, "text/html", "<!doctype html><input name=csrf value=second>Sign in", 5);
    assert_int_equal(evaluate(f, "login-page"), TP_OK);
    assert_error(f, TP_FAIL_NONE, NULL);
    assert_string_equal(tp_vars_get(f->vars, "csrf"), "second");
}

static void test_clear_is_idempotent(void **state)
{
    (void)state;
    struct tp_step_eval out;
    memset(&out, 0, sizeof out);
    tp_step_eval_clear(&out);
    tp_step_eval_clear(&out);
    tp_step_eval_clear(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_login_page_passes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cart_captures_and_templates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_assertions_report_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_checked_after_failed_capture, setup, teardown),
        cmocka_unit_test_setup_teardown(test_undefined_variable_at_run_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vars_persist_between_steps, setup, teardown),
        cmocka_unit_test(test_clear_is_idempotent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
