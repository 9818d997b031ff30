/* Journey loader: valid files load into the model; each kind of problem is
 * reported at its JSON path (or line:column for syntax), all of them in one pass. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "twinprobe/journey.h"

static struct tp_journey *load(const char *text, struct tp_diags *d)
{
    return tp_journey_load("j.json", text, strlen(text), d);
}

static void test_valid_journey_model(void **state)
{
    (void)state;
    const char *text =
        "{\"name\": \"shop\", \"variables\": {\"sku\": \"A-1\", \"both\": \"{{sku}}-x\"},"
        " \"secrets\": [\"PW\"],"
        " \"defaults\": {\"timeout_ms\": 3000, \"headers\": {\"Accept\": \"application/json\"},"
        "   \"retry\": {\"count\": 2, \"on\": [\"connect\", \"http\"], \"backoff_ms\": 50}},"
        " \"compare\": {\"ignore\": [\"$..id\"], \"noise\": \"learn\", \"margin_pct\": 15,"
        "   \"critical_steps\": [\"cart\"]},"
        " \"steps\": ["
        "  {\"name\": \"page\", \"request\": {\"url\": \"/login\"},"
        "   \"capture\": {\"csrf\": {\"xpath\": \"string(//input/@value)\"},"
        "                 \"code\": {\"status\": true}},"
        "   \"expect\": [{\"status\": 200}, {\"status\": [200, 201]},"
        "                {\"duration_ms\": {\"lt\": 800, \"ge\": 0}}]},"
        "  {\"name\": \"cart\", \"timeout_ms\": 100, \"follow_redirects\": true, \"always\": true,"
        "   \"request\": {\"method\": \"post\", \"url\": \"/cart?x={{csrf}}\","
        "     \"json\": {\"sku\": \"{{sku}}\", \"qty\": 1}},"
        "   \"expect\": [{\"jsonpath\": \"$.items[0].sku\", \"equals\": \"{{sku}}\"},"
        "                {\"header\": \"Location\", \"exists\": false},"
        "                {\"regex\": \"id=(\\\\d+)\", \"matches\": \"^[0-9]+$\"}]}]}";
    struct tp_diags d = {0};
    struct tp_journey *j = load(text, &d);
    for (size_t i = 0; i < d.count; i++)
        print_message("unexpected: %s: %s\n", d.items[i].path, d.items[i].text);
    assert_non_null(j);
    assert_int_equal(d.count, 0);
    assert_string_equal(j->name, "shop");
    assert_int_equal(j->variables.count, 2);
    assert_int_equal(j->nsecrets, 1);
    assert_int_equal(j->nsteps, 2);
    assert_int_equal(j->compare.noise, TP_NOISE_LEARN);
    assert_true(j->compare.margin_pct == 15);
    assert_true(j->compare.margin_ms < 0);

    const struct tp_step *page = &j->steps[0], *cart = &j->steps[1];
    assert_string_equal(page->method, "GET");
    assert_int_equal(page->timeout_ms, 3000);
    assert_int_equal(page->retry.count, 2);
    assert_true(page->retry.on & (1u << TP_FAIL_HTTP));
    assert_false(page->retry.on & (1u << TP_FAIL_TIMEOUT));
    assert_int_equal(page->ncaptures, 2);
    assert_int_equal(page->captures[0].source.kind, TP_SRC_XPATH);
    assert_non_null(page->captures[0].source.xpath);
    assert_int_equal(page->nexpects, 3);
    assert_int_equal(page->expects[0].preds[0].kind, TP_PRED_EQUALS);
    assert_int_equal(page->expects[1].preds[0].kind, TP_PRED_IN);
    assert_int_equal(page->expects[2].npreds, 2);
    assert_true(page->has_status_expect);

    assert_string_equal(cart->method, "POST");
    assert_int_equal(cart->timeout_ms, 100);
    assert_true(cart->follow_redirects);
    assert_int_equal(cart->max_redirects, TP_MAX_REDIRECTS);
    assert_true(cart->always);
    assert_false(cart->has_status_expect);
    assert_int_equal(cart->body_kind, TP_BODY_JSON);
    assert_non_null(cart->body_tpl);
    assert_string_equal(tp_template_source(cart->body_tpl), "{\"sku\":\"{{sku}}\",\"qty\":1}");
    assert_non_null(cart->expects[0].source.jsonpath);
    assert_non_null(cart->expects[0].preds[0].tpl);
    assert_non_null(cart->expects[2].source.regex);
    assert_non_null(cart->expects[2].preds[0].regex);
    assert_non_null(tp_journey_step(j, "cart"));
    assert_null(tp_journey_step(j, "nope"));
    tp_journey_free(j);
    tp_diags_clear(&d);
}

/* One broken file, one expected problem: where and what. */
struct bad_case {
    const char *label;
    const char *json;
    const char *path;  /* expected JSON path, or NULL for a syntax error */
    const char *text;  /* a substring of the message */
    int line;          /* for syntax errors */
};

#define STEP(x) "{\"name\": \"j\", \"steps\": [" x "]}"
#define OK_STEP "{\"name\": \"a\", \"request\": {\"url\": \"/\"}}"
#define COMPARE(x) "{\"name\": \"j\", \"compare\": " x ", \"steps\": [" OK_STEP "]}"

static const struct bad_case bad_cases[] = {
    {"empty", "", "", "file is empty", 0},
    {"whitespace only", "  \n\t ", "", "file is empty", 0},
    {"not an object", "[1, 2]", "", "a journey is a JSON object, got array", 0},
    {"syntax error line 2", "{\"name\": \"j\",\n \"steps\": [}", NULL, "JSON syntax error", 2},
    {"duplicate key", "{\"name\": \"j\", \"name\": \"k\", \"steps\": []}", NULL, "duplicate", 1},
    {"trailing garbage", "{\"name\": \"j\", \"steps\": [" OK_STEP "]} x", NULL, "syntax", 1},
    {"binary", "\x7f" "ELF\x02\x01\x01", NULL, "not a JSON text: control byte 0x7f", 1},
    {"bad utf8", "{\"name\": \"\xff\xfe\"}", NULL, "not a JSON text", 1},
    {"missing name", "{\"steps\": [" OK_STEP "]}", "", "missing required key \"name\"", 0},
    {"missing steps", "{\"name\": \"j\"}", "", "missing required key \"steps\"", 0},
    {"empty steps", "{\"name\": \"j\", \"steps\": []}", "steps", "at least one step", 0},
    {"unknown top key", "{\"name\": \"j\", \"stpes\": [], \"steps\": [" OK_STEP "]}", "",
     "unknown key \"stpes\" in journey (did you mean \"steps\"?)", 0},
    {"wrong type name", "{\"name\": 5, \"steps\": [" OK_STEP "]}", "name",
     "expected string, got integer", 0},
    {"step not object", STEP("3"), "steps[0]", "expected a step object, got integer", 0},
    {"step missing request", STEP("{\"name\": \"a\"}"), "steps[0]",
     "missing required key \"request\" in step", 0},
    {"request missing url", STEP("{\"name\": \"a\", \"request\": {}}"), "steps[0].request",
     "missing required key \"url\"", 0},
    {"unknown step key", STEP("{\"name\": \"a\", \"request\": {\"url\": \"/\"}, \"expct\": []}"),
     "steps[0]", "unknown key \"expct\" in step (did you mean \"expect\"?)", 0},
    {"duplicate step", STEP(OK_STEP "," OK_STEP), "steps[1].name",
     "duplicate step name \"a\" (also steps[0])", 0},
    {"unknown predicate",
     STEP("{\"name\": \"a\", \"request\": {\"url\": \"/\"}, \"expect\": [{\"status\": 200},"
          "{\"header\": \"X\", \"eqauls\": \"y\"}]}"),
     "steps[0].expect[1]", "unknown predicate \"eqauls\" (did you mean \"equals\"?)", 0},
    {"unknown source",
     STEP("{\"name\": \"a\", \"request\": {\"url\": \"/\"}, \"expect\": [{\"stauts\": 200}]}"),
     "steps[0].expect[0]", "unknown value source \"stauts\" (did you mean \"status\"?)", 0},
    {"two sources",
     STEP("{\"name\": \"a\", \"request\": {\"url\": \"/\"}, \"expect\": [{\"status\": 200, "
          "\"body\": \"x\"}]}"),
     "steps[0].expect[0]", "more than one value source", 0},
    {"no predicate",
     STEP("{\"name\": \"a\", \"request\": {\"url\": \"/\"}, \"expect\": [{\"header\": \"X\"}]}"),
     "steps[0].expect[0]", "needs a predicate", 0},
    {"predicate type",
     STEP("{\"name\": \"a\", \"request\": {\"url\": \"/\"}, \"expect\": [{\"duration_ms\": "
          "{\"lt\": \"fast\"}}]}"),
     "steps[0].expect[0].duration_ms.lt", "\"lt\" takes a number, got string", 0},
    {"bad jsonpath",
     STEP("{\"name\": \"a\", \"request\": {\"url\": \"/\"}, \"expect\": [{\"jsonpath\": "
          "\"$.a[\", \"exists\": true}]}"),
     "steps[0].expect[0].jsonpath", "", 0},
    {"bad xpath",
     STEP("{\"name\": \"a\", \"request\": {\"url\": \"/\"}, \"capture\": {\"x\": {\"xpath\": "
          "\"//a[\"}}}"),
     "steps[0].capture.x.xpath", "XPath does not compile", 0},
    {"bad regex",
     STEP("{\"name\": \"a\", \"request\": {\"url\": \"/\"}, \"expect\": [{\"regex\": \"(a\", "
          "\"exists\": true}]}"),
     "steps[0].expect[0].regex", "regex does not compile at offset 2", 0},
    {"bad matches regex",
     STEP("{\"name\": \"a\", \"request\": {\"url\": \"/\"}, \"expect\": [{\"body\": "
          "{\"matches\": \"[z-a]\"}}]}"),
     "steps[0].expect[0].body.matches", "regex does not compile", 0},
    {"undefined variable",
     STEP("{\"name\": \"a\", \"request\": {\"url\": \"/x/{{nope}}\"}}"), "steps[0].request.url",
     "template uses \"nope\", which no variable defines and no earlier step captures", 0},
    {"captured later",
     STEP("{\"name\": \"a\", \"request\": {\"url\": \"/{{tok}}\"}},"
          "{\"name\": \"b\", \"request\": {\"url\": \"/\"}, \"capture\": {\"tok\": "
          "{\"body\": true}}}"),
     "steps[0].request.url", "before it is defined (steps[1] captures it later)", 0},
    {"bad template", STEP("{\"name\": \"a\", \"request\": {\"url\": \"/{{x\"}}"),
     "steps[0].request.url", "bad template", 0},
    {"template in json body",
     STEP("{\"name\": \"a\", \"request\": {\"url\": \"/\", \"json\": {\"k\": [\"{{who}}\"]}}}"),
     "steps[0].request.json", "\"who\"", 0},
    {"two bodies",
     STEP("{\"name\": \"a\", \"request\": {\"url\": \"/\", \"json\": {}, \"body\": \"x\"}}"),
     "steps[0].request", "one body", 0},
    {"retry class",
     STEP("{\"name\": \"a\", \"request\": {\"url\": \"/\"}, \"retry\": {\"count\": 1, \"on\": "
          "[\"timout\"]}}"),
     "steps[0].retry.on[0]", "unknown failure class \"timout\" (did you mean \"timeout\"?)", 0},
    {"timeout range", STEP("{\"name\": \"a\", \"request\": {\"url\": \"/\"}, \"timeout_ms\": 0}"),
     "steps[0].timeout_ms", "out of range", 0},
    {"bad header name",
     STEP("{\"name\": \"a\", \"request\": {\"url\": \"/\", \"headers\": {\"Bad Name\": \"v\"}}}"),
     "steps[0].request.headers[\"Bad Name\"]", "not a valid HTTP header name", 0},
    {"capture without source",
     STEP("{\"name\": \"a\", \"request\": {\"url\": \"/\"}, \"capture\": {\"x\": {}}}"),
     "steps[0].capture.x", "one value source", 0},
    {"capture status arg",
     STEP("{\"name\": \"a\", \"request\": {\"url\": \"/\"}, \"capture\": {\"x\": "
          "{\"status\": 1}}}"),
     "steps[0].capture.x.status", "takes no argument", 0},
    {"unknown type name",
     STEP("{\"name\": \"a\", \"request\": {\"url\": \"/\"}, \"expect\": [{\"jsonpath\": \"$\", "
          "\"type\": \"strng\"}]}"),
     "steps[0].expect[0].type", "unknown type \"strng\" (did you mean \"string\"?)", 0},
    {"critical step unknown",
     "{\"name\": \"j\", \"compare\": {\"critical_steps\": [\"zz\"]}, \"steps\": [" OK_STEP "]}",
     "compare.critical_steps[0]", "no step is named \"zz\"", 0},
    {"noise value",
     "{\"name\": \"j\", \"compare\": {\"noise\": \"lean\"}, \"steps\": [" OK_STEP "]}",
     "compare.noise", "expected \"rounds\", \"learn\" or \"off\"", 0},
    {"bad ignore path",
     "{\"name\": \"j\", \"compare\": {\"ignore\": [\"$$\"]}, \"steps\": [" OK_STEP "]}",
     "compare.ignore[0]", "", 0},
    {"ignore not a string", COMPARE("{\"ignore\": [\"$.a\", 3]}"), "compare.ignore[1]",
     "expected a JSONPath, XPath, /regex/, capture:NAME or header:NAME string, got integer", 0},
    {"ignore of no kind", COMPARE("{\"ignore\": [\"server_time\"]}"), "compare.ignore[0]",
     "\"server_time\" is none of: a JSONPath ($...), an XPath (/...)", 0},
    {"ignore XPath does not compile", COMPARE("{\"ignore\": [\"$.a\", \"/html/[\"]}"),
     "compare.ignore[1]", "XPath does not compile", 0},
    {"ignore XPath yields a number", COMPARE("{\"ignore\": [\"/html/x\", \"/x/y\", "
                                             "\"/html/head/title/text()\", \"//a/@x * 2\"]}"),
     "compare.ignore[3]", "the XPath yields a number; an ignore XPath must select nodes", 0},
    {"ignore XPath yields a boolean", COMPARE("{\"ignore\": [\"//a = 'x'\"]}"),
     "compare.ignore[0]", "the XPath yields a boolean; an ignore XPath must select nodes", 0},
    {"ignore XPath unknown function", COMPARE("{\"ignore\": [\"//a | nosuch(//b)\"]}"),
     "compare.ignore[0]", "the XPath does not evaluate", 0},
    {"ignore regex does not compile", COMPARE("{\"ignore\": [\"/(a/\"]}"), "compare.ignore[0]",
     "regex does not compile", 0},
    {"ignore empty regex", COMPARE("{\"ignore\": [\"$.a\", \"//\"]}"), "compare.ignore[1]",
     "an empty /regex/ would ignore every line", 0},
    {"ignore capture nobody makes", COMPARE("{\"ignore\": [\"capture:csrf\"]}"),
     "compare.ignore[0]", "no step captures \"csrf\"", 0},
    {"ignore capture without a name", COMPARE("{\"ignore\": [\"capture:\"]}"),
     "compare.ignore[0]", "\"capture:\" names no capture", 0},
    {"ignore bad header name", COMPARE("{\"ignore\": [\"header:Bad Name\"]}"),
     "compare.ignore[0]", "\"header:Bad Name\" names no header", 0},
    {"secret name", "{\"name\": \"j\", \"secrets\": [\"a b\"], \"steps\": [" OK_STEP "]}",
     "secrets[0]", "not an environment variable name", 0},
    {"variable uses later variable",
     "{\"name\": \"j\", \"variables\": {\"a\": \"{{b}}\", \"b\": \"x\"}, \"steps\": [" OK_STEP
     "]}",
     "variables.a", "\"b\"", 0},
    {"bad method", STEP("{\"name\": \"a\", \"request\": {\"url\": \"/\", \"method\": \"GE T\"}}"),
     "steps[0].request.method", "not a valid HTTP method", 0},
    {"request key written for another",
     STEP("{\"name\": \"a\", \"request\": {\"url\": \"/\", \"data\": \"x\"}}"),
     "steps[0].request", "unknown key \"data\" in request (did you mean \"body\" or \"json\"?)",
     0},
    {"request key params", STEP("{\"name\": \"a\", \"request\": {\"url\": \"/\", \"params\": {}}}"),
     "steps[0].request", "unknown key \"params\" in request (did you mean \"query\"?)", 0},
    {"template name typo",
     STEP("{\"name\": \"a\", \"request\": {\"url\": \"/\"}, \"capture\": {\"csrf\": "
          "{\"body\": true}}}, {\"name\": \"b\", \"request\": {\"url\": \"/{{csfr}}\"}}"),
     "steps[1].request.url",
     "template uses \"csfr\", which no variable defines and no earlier step captures (did you "
     "mean \"csrf\"?)",
     0},
    {"template name typo of a built-in",
     STEP("{\"name\": \"a\", \"request\": {\"url\": \"/{{taget}}\"}}"),
     "steps[0].request.url", "(did you mean \"target\"?)", 0},
    {"default on a built-in", STEP("{\"name\": \"a\", \"request\": {\"url\": \"/{{uuid|x}}\"}}"),
     "steps[0].request.url", "bad template: the built-in {{uuid}} takes no default", 0},
    {"auth without password",
     STEP("{\"name\": \"a\", \"request\": {\"url\": \"/\", \"auth\": {\"basic\": "
          "{\"user\": \"u\"}}}}"),
     "steps[0].request.auth.basic", "missing required key \"password\" in basic auth", 0},
    {"auth scheme",
     STEP("{\"name\": \"a\", \"request\": {\"url\": \"/\", \"auth\": {\"bearer\": \"t\"}}}"),
     "steps[0].request.auth", "unknown key \"bearer\" in auth", 0},
    {"auth key typo",
     STEP("{\"name\": \"a\", \"request\": {\"url\": \"/\", \"auth\": {\"basic\": "
          "{\"username\": \"u\", \"password\": \"p\"}}}}"),
     "steps[0].request.auth.basic",
     "unknown key \"username\" in basic auth (did you mean \"user\"?)", 0},
    {"auth undefined name",
     STEP("{\"name\": \"a\", \"request\": {\"url\": \"/\", \"auth\": {\"basic\": "
          "{\"user\": \"u\", \"password\": \"{{pw}}\"}}}}"),
     "steps[0].request.auth.basic.password", "template uses \"pw\"", 0},
    {"auth bad template",
     STEP("{\"name\": \"a\", \"request\": {\"url\": \"/\", \"auth\": {\"basic\": "
          "{\"user\": \"{{\", \"password\": \"p\"}}}}"),
     "steps[0].request.auth.basic.user", "bad template: unterminated", 0},
    {"matches template never compiles",
     "{\"name\": \"j\", \"variables\": {\"v\": \"x\"}, \"steps\": [{\"name\": \"a\", "
     "\"request\": {\"url\": \"/\"}, \"expect\": [{\"body\": {\"matches\": \"({{v}}\"}}]}]}",
     "steps[0].expect[0].body.matches", "(with every placeholder as \"x\")", 0},
    {"matches template undefined name",
     STEP("{\"name\": \"a\", \"request\": {\"url\": \"/\"}, \"expect\": [{\"body\": "
          "{\"matches\": \"^{{who}}$\"}}]}"),
     "steps[0].expect[0].body.matches", "template uses \"who\"", 0},
};

static void test_bad_case(void **state)
{
    const struct bad_case *c = *state;
    struct tp_diags d = {0};
    struct tp_journey *j = load(c->json, &d);
    int found = 0;
    assert_null(j);
    assert_true(d.count >= 1);
    for (size_t i = 0; i < d.count; i++) {
        const struct tp_error *e = &d.items[i];
        assert_string_equal(e->file, "j.json");
        int path_ok = c->path ? strcmp(e->path, c->path) == 0 : e->line == c->line;
        if (path_ok && strstr(e->text, c->text))
            found = 1;
    }
    if (!found) {
        for (size_t i = 0; i < d.count; i++)
            print_message("%s: got %d:%d %s: %s\n", c->label, d.items[i].line,
                          d.items[i].column, d.items[i].path, d.items[i].text);
    }
    assert_true(found);
    tp_diags_clear(&d);
}

/* compare.ignore: each entry goes to the array of its kind; noise defaults to "rounds". */
static void test_compare_block(void **state)
{
    static const struct {
        const char *compare; /* NULL: no compare block */
        enum tp_noise noise;
        size_t njson, nxpath, nlines, nlabels;
        const char *labels[2];
    } cases[] = {
        {NULL, TP_NOISE_ROUNDS, 0, 0, 0, 0, {NULL}},
        {"{}", TP_NOISE_ROUNDS, 0, 0, 0, 0, {NULL}},
        {"{\"noise\": \"rounds\"}", TP_NOISE_ROUNDS, 0, 0, 0, 0, {NULL}},
        {"{\"noise\": \"learn\"}", TP_NOISE_LEARN, 0, 0, 0, 0, {NULL}},
        {"{\"noise\": \"off\"}", TP_NOISE_OFF, 0, 0, 0, 0, {NULL}},
        {"{\"ignore\": [\"$..id\", \"/html/head/meta[@name='csrf']\", \"//input/@value\","
         " \"/^Generated at .*$/\", \"capture:csrf\", \"header:ETag\", \"/\", \"/a/b/\"]}",
         TP_NOISE_ROUNDS, 1, 3, 2, 2, {"capture csrf", "header etag"}},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[1024];
        struct tp_diags d = {0};
        struct tp_journey *j;
        if (cases[i].compare)
            snprintf(text, sizeof text,
                     "{\"name\": \"j\", \"compare\": %s, \"steps\": [{\"name\": \"a\", "
                     "\"request\": {\"url\": \"/\"}, \"capture\": {\"csrf\": {\"xpath\": "
                     "\"string(//input/@value)\"}}}]}",
                     cases[i].compare);
        else
            snprintf(text, sizeof text, "{\"name\": \"j\", \"steps\": [" OK_STEP "]}");
        j = load(text, &d);
        for (size_t k = 0; k < d.count; k++)
            print_message("case %zu: unexpected %s: %s\n", i, d.items[k].path, d.items[k].text);
        assert_non_null(j);
        assert_int_equal(j->compare.noise, cases[i].noise);
        assert_int_equal(j->compare.nignore, cases[i].njson);
        assert_int_equal(j->compare.nignore_xpath, cases[i].nxpath);
        assert_int_equal(j->compare.nignore_lines, cases[i].nlines);
        assert_int_equal(j->compare.nignore_labels, cases[i].nlabels);
        for (size_t k = 0; k < cases[i].nlabels; k++)
            assert_string_equal(j->compare.ignore_labels[k], cases[i].labels[k]);
        for (size_t k = 0; k < cases[i].nxpath; k++)
            assert_non_null(j->compare.ignore_xpath[k]);
        for (size_t k = 0; k < cases[i].nlines; k++)
            assert_non_null(j->compare.ignore_lines[k]);
        tp_journey_free(j);
    }
}

static void test_every_problem_reported(void **state)
{
    (void)state;
    /* Three independent problems: all three, not the first alone. */
    const char *text = "{\"name\": \"j\", \"stpes\": 1, \"steps\": ["
                       "{\"name\": \"a\", \"request\": {\"url\": \"/{{x}}\"}},"
                       "{\"name\": \"a\", \"request\": {\"url\": \"/\"}}]}";
    struct tp_diags d = {0};
    assert_null(load(text, &d));
    assert_int_equal(d.count, 3);
    tp_diags_clear(&d);
}

static void test_hostile_inputs(void **state)
{
    (void)state;
    struct tp_diags d = {0};
    /* 10,000 levels deep: jansson's depth limit, reported, no crash. */
    size_t depth = 10000;
    char *deep = malloc(2 * depth + 1);
    assert_non_null(deep);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    deep[2 * depth] = '\0';
    assert_null(tp_journey_load("deep.json", deep, 2 * depth, &d));
    assert_int_equal(d.count, 1);
    assert_non_null(strstr(d.items[0].text, "nested too deeply"));
    free(deep);
    tp_diags_clear(&d);

    /* Over the size limit: refused before parsing. */
    size_t big = TP_JOURNEY_MAX_BYTES + 1;
    char *huge = malloc(big);
    assert_non_null(huge);
    memset(huge, ' ', big);
    huge[0] = '{';
    assert_null(tp_journey_load("big.json", huge, big, &d));
    assert_int_equal(d.count, 1);
    assert_non_null(strstr(d.items[0].text, "limit"));
    free(huge);
    tp_diags_clear(&d);

    /* NUL bytes inside. */
    assert_null(tp_journey_load("nul.json", "{\"a\0\": 1}", 9, &d));
    assert_int_equal(d.count, 1);
    tp_diags_clear(&d);
}

/* Loads text, which must load; its warnings stay in d. */
static struct tp_journey *load_ok(const char *text, const struct tp_journey_opts *opts,
                                  struct tp_diags *d)
{
    struct tp_journey *j = tp_journey_load_with("j.json", text, strlen(text), opts, d);
    for (size_t i = 0; i < d->count; i++)
        print_message("unexpected: %s: %s\n", d->items[i].path, d->items[i].text);
    assert_non_null(j);
    assert_int_equal(d->count, 0);
    return j;
}

/* A name with a default need not be defined; the default is kept. */
static void test_defaults_are_no_errors(void **state)
{
    const char *text = STEP("{\"name\": \"a\", \"request\": {\"url\": \"/{{page|1}}\","
                            " \"headers\": {\"X\": \"{{env.TOKEN|none}}\"}}}");
    struct tp_diags d = {0};
    const char *names[4];
    (void)state;

    struct tp_journey *j = load_ok(text, NULL, &d);
    size_t n = 0;
    const struct tp_tpl_part *parts = tp_template_parts(j->steps[0].url, &n);
    assert_int_equal(n, 2);
    assert_string_equal(parts[1].text, "page");
    assert_string_equal(parts[1].fallback, "1");
    /* the run needs no TOKEN: it has a default */
    assert_int_equal(tp_journey_env_names(j, names, 4), 0);
    tp_journey_free(j);
    tp_diags_clear(&d);
}

/* Names from the command line: defined everywhere; with values, the first
 * variables, and a journey variable of the same name left out. */
static void test_outside_variables(void **state)
{
    const char *text =
        "{\"name\": \"j\", \"variables\": {\"host\": \"file\", \"url\": \"{{host}}/{{user}}\"},"
        " \"steps\": [{\"name\": \"a\", \"request\": {\"url\": \"/{{user}}/{{url}}\"}}]}";
    tp_vars *outside = tp_vars_create();
    struct tp_journey_opts names_only = {outside, 0}, with_values = {outside, 1};
    struct tp_diags d = {0};
    struct tp_journey *j;
    (void)state;

    assert_non_null(outside);
    /* without them "user" is undefined */
    assert_null(tp_journey_load("j.json", text, strlen(text), &d));
    assert_true(d.count >= 1);
    tp_diags_clear(&d);

    assert_int_equal(tp_vars_set(outside, "user", "{{not a template}}"), TP_OK);
    assert_int_equal(tp_vars_set(outside, "host", "cli"), TP_OK);
    j = load_ok(text, &names_only, &d);
    assert_int_equal(j->variables.count, 2); /* the file's own */
    assert_string_equal(j->variables.items[0].name, "host");
    assert_string_equal(tp_template_source(j->variables.items[0].value), "file");
    tp_journey_free(j);

    j = load_ok(text, &with_values, &d);
    assert_int_equal(j->variables.count, 3); /* user, host (the command line's), url */
    assert_string_equal(j->variables.items[0].name, "user");
    assert_true(tp_template_is_literal(j->variables.items[0].value));
    assert_string_equal(tp_template_source(j->variables.items[0].value), "{{not a template}}");
    assert_string_equal(j->variables.items[1].name, "host");
    assert_string_equal(tp_template_source(j->variables.items[1].value), "cli");
    assert_string_equal(j->variables.items[2].name, "url");
    tp_journey_free(j);
    tp_diags_clear(&d);
    tp_vars_free(outside);
}

/* Warnings: listed apart from problems; the journey still loads. */
static void test_warnings(void **state)
{
    static const struct {
        const char *label;
        const char *json;
        const char *path; /* NULL: no warning */
        const char *text;
    } cases[] = {
        {"always step uses a skippable capture",
         STEP(OK_STEP ", {\"name\": \"b\", \"request\": {\"url\": \"/\"}, \"capture\": "
              "{\"cart\": {\"body\": true}}}, {\"name\": \"c\", \"always\": true, "
              "\"request\": {\"url\": \"/{{cart}}\", \"headers\": {\"X\": \"{{cart}}\"}}}"),
         "steps[2].request.url",
         "an always step uses \"cart\", captured by steps[1] (\"b\"), which an earlier failure "
         "skips"},
        {"the capturing step is the first: never skipped",
         STEP("{\"name\": \"b\", \"request\": {\"url\": \"/\"}, \"capture\": {\"cart\": "
              "{\"body\": true}}}, {\"name\": \"c\", \"always\": true, \"request\": "
              "{\"url\": \"/{{cart}}\"}}"),
         NULL, NULL},
        {"steps before it continue on failure",
         STEP("{\"name\": \"a\", \"continue_on_failure\": true, \"request\": {\"url\": "
              "\"/\"}}, {\"name\": \"b\", \"request\": {\"url\": \"/\"}, \"capture\": "
              "{\"cart\": {\"body\": true}}}, {\"name\": \"c\", \"always\": true, "
              "\"request\": {\"url\": \"/{{cart}}\"}}"),
         NULL, NULL},
        {"a default covers it",
         STEP(OK_STEP ", {\"name\": \"b\", \"request\": {\"url\": \"/\"}, \"capture\": "
              "{\"cart\": {\"body\": true}}}, {\"name\": \"c\", \"always\": true, "
              "\"request\": {\"url\": \"/{{cart|none}}\"}}"),
         NULL, NULL},
        {"noise learn with a POST",
         "{\"name\": \"j\", \"compare\": {\"noise\": \"learn\"}, \"steps\": [" OK_STEP
         ", {\"name\": \"pay\", \"request\": {\"method\": \"post\", \"url\": \"/\"}},"
         " {\"name\": \"del\", \"request\": {\"method\": \"DELETE\", \"url\": \"/\"}}]}",
         "compare.noise",
         "\"learn\" runs the baseline twice in every round, side by side, and steps[1] (\"pay\") "
         "sends POST (and 1 more step)"},
        {"noise learn with GET and HEAD only",
         "{\"name\": \"j\", \"compare\": {\"noise\": \"learn\"}, \"steps\": [" OK_STEP
         ", {\"name\": \"h\", \"request\": {\"method\": \"HEAD\", \"url\": \"/\"}}]}",
         NULL, NULL},
        {"noise off with a POST",
         "{\"name\": \"j\", \"steps\": [{\"name\": \"pay\", \"request\": {\"method\": "
         "\"POST\", \"url\": \"/\"}}]}",
         NULL, NULL},
    };
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tp_diags d = {0};
        struct tp_journey *j;

        j = load_ok(cases[i].json, NULL, &d);
        if (tp_diags_warnings(&d) != (cases[i].path ? 1u : 0u))
            print_message("%s: %zu warnings\n", cases[i].label, tp_diags_warnings(&d));
        assert_int_equal(tp_diags_total(&d), 0);
        if (!cases[i].path) {
            assert_int_equal(tp_diags_warnings(&d), 0);
        } else {
            assert_int_equal(tp_diags_warnings(&d), 1); /* once per step and name */
            assert_string_equal(d.warnings[0].path, cases[i].path);
            assert_non_null(strstr(d.warnings[0].text, cases[i].text));
        }
        tp_journey_free(j);
        tp_diags_clear(&d);
    }
}

/* matches: a literal pattern is compiled at load; one with placeholders is kept
 * as a template, to be expanded and compiled when it is checked. */
static void test_matches_templates(void **state)
{
    const char *text =
        "{\"name\": \"j\", \"variables\": {\"sku\": \"A.1\"}, \"steps\": [{\"name\": \"a\","
        " \"request\": {\"url\": \"/\"}, \"expect\": [{\"body\": {\"matches\": \"^x+$\"}},"
        " {\"body\": {\"matches\": \"^{{sku}}-[0-9]+$\"}}]}]}";
    struct tp_diags d = {0};
    (void)state;

    struct tp_journey *j = load_ok(text, NULL, &d);
    const struct tp_predicate *literal = &j->steps[0].expects[0].preds[0],
                              *templated = &j->steps[0].expects[1].preds[0];
    assert_non_null(literal->regex);
    assert_null(literal->tpl);
    assert_null(templated->regex);
    assert_non_null(templated->tpl);
    assert_string_equal(tp_template_source(templated->tpl), "^{{sku}}-[0-9]+$");
    tp_journey_free(j);
    tp_diags_clear(&d);
}

static void test_auth_model(void **state)
{
    const char *text =
        "{\"name\": \"j\", \"variables\": {\"u\": \"ann\"}, \"steps\": [{\"name\": \"a\","
        " \"request\": {\"url\": \"/\", \"auth\": {\"basic\": {\"user\": \"{{u}}\","
        " \"password\": \"{{env.PW}}\"}}}}, {\"name\": \"b\", \"request\": {\"url\": \"/\"}}]}";
    struct tp_diags d = {0};
    const char *names[4];
    (void)state;

    struct tp_journey *j = load_ok(text, NULL, &d);
    assert_string_equal(tp_template_source(j->steps[0].auth.user), "{{u}}");
    assert_string_equal(tp_template_source(j->steps[0].auth.password), "{{env.PW}}");
    assert_null(j->steps[1].auth.user);
    /* the run checks PW is set before the first request */
    assert_int_equal(tp_journey_env_names(j, names, 4), 1);
    assert_string_equal(names[0], "PW");
    tp_journey_free(j);
    tp_diags_clear(&d);
}

static void test_failure_names(void **state)
{
    (void)state;
    for (int f = 1; f < TP_FAIL_COUNT_; f++)
        assert_int_equal(tp_failure_from_name(tp_failure_name((enum tp_failure)f)), f);
    assert_null(tp_failure_name(TP_FAIL_NONE));
    assert_int_equal(tp_failure_from_name("nope"), TP_FAIL_NONE);
    assert_string_equal(tp_pred_name(TP_PRED_NOT_CONTAINS), "not_contains");
}

int main(void)
{
    enum { NBAD = sizeof bad_cases / sizeof bad_cases[0] };
    struct CMUnitTest tests[NBAD + 12];
    size_t n = 0;
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_defaults_are_no_errors);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_outside_variables);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_warnings);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_matches_templates);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_auth_model);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_valid_journey_model);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_compare_block);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_every_problem_reported);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_hostile_inputs);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_failure_names);
    for (size_t i = 0; i < NBAD; i++) {
        tests[n] = (struct CMUnitTest){bad_cases[i].label, test_bad_case, NULL, NULL,
                                       (void *)&bad_cases[i]};
        n++;
    }
    return _cmocka_run_group_tests("journey", tests, n, NULL, NULL);
}
