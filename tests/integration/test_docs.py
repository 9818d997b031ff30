"""docs/journey-format.md against the code: every key of the loaders' field tables,
every predicate and every value source is documented (in backticks), and every
complete journey example in the page validates."""
import json
import os
import re
import tempfile
import unittest

from support import ROOT, BinaryTest, run

DOC = os.path.join(ROOT, "docs", "journey-format.md")


def read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return f.read()


def names(source, pattern):
    """The quoted names of table entries like {"key", TP_T_STRING, 1}."""
    return set(re.findall(r'\{\s*"([A-Za-z0-9_.-]+)"\s*,\s*' + pattern, source))


class DocumentsEveryKey(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(DOC, encoding="utf-8") as f:
            cls.doc = f.read()
        journey = read("src", "journey.c")
        probe = read("src", "probe.c")
        cls.tables = {
            "journey.c field tables": names(journey, r"TP_T_"),
            "probe.c field tables": names(probe, r"TP_T_"),
            "journey.c preds": names(journey, r"TP_PRED_"),
            "extract.c sources": names(read("src", "extract.c"), r"TP_SRC_"),
        }

    def test_tables_were_found(self):
        # Guards the regex: if the tables change shape, this fails instead of
        # the test below passing over nothing.
        must = {
            "journey.c field tables": {"name", "steps", "timeout_ms", "url", "multipart",
                                       "backoff_ms", "critical_steps", "content_type"},
            "probe.c field tables": {"location", "targets", "base_url", "connect_to",
                                     "password_env", "pass_score", "spool_dir"},
            "journey.c preds": {"equals", "in", "count", "type", "matches"},
            "extract.c sources": {"status", "header", "jsonpath", "xpath", "tls_ms"},
        }
        for table, expected in must.items():
            with self.subTest(table=table):
                self.assertLessEqual(expected, self.tables[table])
        self.assertEqual(len(self.tables["journey.c preds"]), 13)
        self.assertEqual(len(self.tables["extract.c sources"]), 14)

    def test_every_key_is_documented(self):
        for table, keys in sorted(self.tables.items()):
            for key in sorted(keys):
                with self.subTest(table=table, key=key):
                    self.assertIn(f"`{key}`", self.doc,
                                  f"{key} ({table}) is not documented in docs/journey-format.md")


class DocExamplesValidate(BinaryTest):
    def test_journey_examples(self):
        with open(DOC, encoding="utf-8") as f:
            doc = f.read()
        blocks = re.findall(r"^```json\n(.*?)^```", doc, re.S | re.M)
        journeys = []
        for block in blocks:
            try:
                value = json.loads(block)
            except ValueError:
                continue  # a fragment, not a whole file
            if isinstance(value, dict) and "steps" in value:
                journeys.append(block)
        self.assertGreaterEqual(len(journeys), 1)
        with tempfile.TemporaryDirectory() as tmp:
            for i, block in enumerate(journeys):
                path = os.path.join(tmp, f"example{i}.json")
                with open(path, "w", encoding="utf-8") as f:
                    f.write(block)
                with self.subTest(example=i):
                    r = run("validate", path)
                    self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main()
