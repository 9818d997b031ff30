/* Documents as the comparison walks them: which nodes are kept, their
 * normalized texts, the steps of their paths, subtree hashes, the nodes ignore
 * XPaths select, and the bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <libxml/HTMLparser.h>
#include <libxml/xpath.h>

#include "twinprobe/doctree.h"

static xmlDocPtr html(const char *s)
{
    xmlDocPtr d = htmlReadMemory(s, (int)strlen(s), NULL, "UTF-8",
                                 HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING);
    assert_non_null(d);
    return d;
}

/* The full path of node x: its ancestors' steps, then its own. */
static void path_of(const struct tp_doctree *t, size_t x, struct tp_strbuf *b)
{
    size_t chain[64], n = 0;
    for (size_t at = x; at > 0;) {
        size_t parent = 0;
        chain[n++] = at;
        for (size_t p = 0; p < t->count; p++)
            if (at >= t->n[p].first && at < t->n[p].first + t->n[p].count)
                parent = p;
        at = parent;
    }
    while (n > 0)
        assert_int_equal(tp_doctree_add_step(b, t, chain[--n]), 0);
}

/* Every kept node's path, in tree order, one per line. */
static char *all_paths(const struct tp_doctree *t)
{
    struct tp_strbuf b = {NULL, 0, 0};
    for (size_t i = 1; i < t->count; i++) {
        path_of(t, i, &b);
        if (t->n[i].is_text)
            tp_strbuf_addf(&b, " \"%.*s\"", (int)t->n[i].len, t->texts.data + t->n[i].text);
        tp_strbuf_str(&b, "\n");
    }
    return b.data;
}

static void test_paths(void **state)
{
    static const struct {
        const char *doc, *paths;
    } cases[] = {
        {"<html><head><title> Shop \n</title></head><body>\n  <h1>Hi</h1>\n</body></html>",
         "/html\n/html/head\n/html/body\n/html/head/title\n/html/body/h1\n"
         "/html/head/title/text() \"Shop\"\n/html/body/h1/text() \"Hi\"\n"},
        {"<body><div>a</div><div id=\"x\">b</div><!-- c --><div>c</div></body>",
         "/html\n/html/body\n/html/body/div[1]\n/html/body/div[@id='x']\n/html/body/div[3]\n"
         "/html/body/div[1]/text() \"a\"\n/html/body/div[@id='x']/text() \"b\"\n"
         "/html/body/div[3]/text() \"c\"\n"},
        {"<body><p>one <br> two\t three</p><a rel=\"next\" name=\"n\">x</a>"
         "<a rel=\"next\" name=\"m\">y</a><a id=\"it's\" rel=\"prev\">z</a></body>",
         "/html\n/html/body\n/html/body/p\n/html/body/a[@name='n']\n/html/body/a[@name='m']\n"
         "/html/body/a[@id=\"it's\"]\n/html/body/p/text()[1] \"one\"\n/html/body/p/br\n"
         "/html/body/p/text()[2] \"two three\"\n/html/body/a[@name='n']/text() \"x\"\n"
         "/html/body/a[@name='m']/text() \"y\"\n/html/body/a[@id=\"it's\"]/text() \"z\"\n"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tp_doctree t;
        xmlDocPtr d = html(cases[i].doc);
        char *paths;
        memset(&t, 0, sizeof t);
        assert_int_equal(tp_doctree_build(&t, d, NULL, 0), TP_OK);
        paths = all_paths(&t);
        if (strcmp(paths, cases[i].paths) != 0)
            print_error("case %zu:\n%s", i, paths);
        assert_string_equal(paths, cases[i].paths);
        free(paths);
        tp_doctree_clear(&t);
        xmlFreeDoc(d);
    }
}

/* Equal subtrees hash alike whatever their whitespace; any other change does not. */
static void test_hashes(void **state)
{
    static const char *const same[] = {"<p class=\"a\">x <b>y</b></p>",
                                        "<p class=\"a\">\n  x\n  <b> y </b>\n</p>"};
    static const char *const other[] = {"<p class=\"b\">x <b>y</b></p>", "<p class=\"a\">x <i>y</i></p>",
                                        "<p class=\"a\">x <b>z</b></p>", "<p class=\"a\" id=\"q\">x <b>y</b></p>"};
    struct tp_doctree a, b;
    xmlDocPtr da = html(same[0]), db = html(same[1]);
    (void)state;

    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    assert_int_equal(tp_doctree_build(&a, da, NULL, 0), TP_OK);
    assert_int_equal(tp_doctree_build(&b, db, NULL, 0), TP_OK);
    assert_true(a.n[0].hash == b.n[0].hash);
    assert_true(tp_doctree_same_kind(&a, 1, &b, 1));
    tp_doctree_clear(&b);
    xmlFreeDoc(db);
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        db = html(other[i]);
        memset(&b, 0, sizeof b);
        assert_int_equal(tp_doctree_build(&b, db, NULL, 0), TP_OK);
        assert_true(a.n[0].hash != b.n[0].hash);
        tp_doctree_clear(&b);
        xmlFreeDoc(db);
    }
    tp_doctree_clear(&a);
    tp_doctree_clear(NULL);
    xmlFreeDoc(da);
}

static void test_selected_and_values(void **state)
{
    xmlDocPtr d = html("<body><div id=\"ads\"><a href=\"/x\">x</a></div><p>caf\xc3\xa9 &amp; co</p></body>");
    xmlXPathCompExprPtr q[2] = {xmlXPathCompile((const xmlChar *)"//div[@id='ads']"),
                                xmlXPathCompile((const xmlChar *)"//a/@href")};
    struct tp_doctree t;
    struct tp_strbuf v = {NULL, 0, 0};
    size_t div = 0, a = 0, p = 0;
    (void)state;

    memset(&t, 0, sizeof t);
    assert_int_equal(tp_doctree_build(&t, d, (void *const *)q, 2), TP_OK);
    assert_int_equal(t.nignored, 2);
    for (size_t i = 1; i < t.count; i++) {
        const char *name = t.n[i].is_text ? "" : (const char *)t.n[i].node->name;
        div = strcmp(name, "div") == 0 ? i : div;
        a = strcmp(name, "a") == 0 ? i : a;
        p = strcmp(name, "p") == 0 ? i : p;
    }
    assert_true(tp_doctree_selected(&t, t.n[div].node));
    assert_false(tp_doctree_selected(&t, t.n[a].node)); /* below a selected node, not itself */
    assert_true(tp_doctree_selected(&t, t.n[a].node->properties));
    assert_int_equal(tp_doctree_add_value(&v, &t, p), 0);
    assert_string_equal(v.data, "<p>caf\xc3\xa9 &amp; co</p>");
    tp_strbuf_free(&v);
    assert_int_equal(tp_doctree_add_value(&v, &t, t.n[p].first), 0);
    assert_string_equal(v.data, "caf\xc3\xa9 & co");
    tp_strbuf_free(&v);
    tp_doctree_clear(&t);
    xmlXPathFreeCompExpr(q[0]);
    xmlXPathFreeCompExpr(q[1]);
    xmlFreeDoc(d);
}

/* What makes an XPath unfit to ignore nodes, found without a document. */
static void test_xpath_problem(void **state)
{
    static const struct {
        const char *xpath, *why; /* why NULL: fit */
    } cases[] = {
        {"//meta[@name='csrf']/@content", NULL},
        {"/html/body/footer | //aside", NULL},
        {"/", NULL},
        {"count(//a)", "yields a number"},
        {"string(//a)", "yields a string"},
        {"//a = 'x'", "yields a boolean"},
        {"//a | nosuch(//b)", "does not evaluate"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        xmlXPathCompExprPtr q = xmlXPathCompile((const xmlChar *)cases[i].xpath);
        int nomem = 1;
        const char *why;
        assert_non_null(q);
        why = tp_doctree_xpath_problem(q, &nomem);
        assert_int_equal(nomem, 0);
        if (!cases[i].why)
            assert_null(why);
        else
            assert_non_null(strstr(why ? why : "", cases[i].why));
        xmlXPathFreeCompExpr(q);
    }
}

/* Past TP_DOCTREE_MAX_NODES nodes: TP_ERR_LIMIT, and t still clears. */
static void test_bounds(void **state)
{
    size_t n = TP_DOCTREE_MAX_NODES + 1, len = 0;
    char *s = malloc(n * 7 + 32);
    struct tp_doctree t;
    xmlDocPtr d;
    (void)state;

    assert_non_null(s);
    len += (size_t)snprintf(s, 32, "<body>");
    for (size_t i = 0; i < n; i++, len += 7)
        memcpy(s + len, "<i></i>", 7);
    s[len] = '\0';
    d = html(s);
    memset(&t, 0, sizeof t);
    assert_int_equal(tp_doctree_build(&t, d, NULL, 0), TP_ERR_LIMIT);
    tp_doctree_clear(&t);
    xmlFreeDoc(d);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_hashes),
        cmocka_unit_test(test_selected_and_values),
        cmocka_unit_test(test_xpath_problem),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
