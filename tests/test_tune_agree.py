#!/usr/bin/env python3
"""bench/tune_agree.py (a multi-GPU tuning run against a one-GPU run) on synthetic databases."""
import io
import json
import os
import sys
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
import tune_agree  # noqa: E402


def entry(n, m, kernel, us, scheme="w4a16"):
    return {"scheme": scheme, "n": n, "k": 4096, "group_size": 128, "zero_point": True,
            "act_dtype": "bf16", "out_dtype": "bf16", "weight_scale": "per-row",
            "act_scale": "per-row", "m_bucket": m, "kernel": kernel, "median_us": us,
            "tuned_at": "2026-12-07T10:00:00Z", "catalog_hash": "x"}


class Compare(unittest.TestCase):
    def test_agree_same_kernel_or_within_tolerance(self):
        a = [entry(4096, 1, "k1", 10.0), entry(4096, 16, "k2", 20.0)]
        b = [entry(4096, 1, "k1", 11.0), entry(4096, 16, "k3", 20.9)]  # 4.5% apart
        lines, ok = tune_agree.compare(a, b)
        self.assertTrue(ok, lines)
        self.assertEqual(lines[-1], "2 and 2 problems; 1 same kernel, 1 other kernel within 5%: agree")

    def test_disagreement_missing_and_duplicate(self):
        a = [entry(4096, 1, "k1", 10.0), entry(4096, 16, "k2", 20.0), entry(4096, 16, "k2", 20.0),
             entry(8192, 1, "k1", 5.0)]
        b = [entry(4096, 1, "k9", 11.0), entry(4096, 16, "k2", 20.0), entry(4096, 1, "k1", 5.0,
                                                                              scheme="w8a16")]
        lines, ok = tune_agree.compare(a, b)
        self.assertFalse(ok)
        text = "\n".join(lines)
        self.assertIn("A has w4a16 N=4096 K=4096 M=16 more than once", text)
        self.assertIn("only in A: w4a16 N=8192 K=4096 M=1", text)
        self.assertIn("only in B: w8a16 N=4096 K=4096 M=1", text)
        self.assertIn("disagree: w4a16 N=4096 K=4096 M=1: A k1 10.00 us, B k9 11.00 us (0.91x)", text)
        self.assertTrue(lines[-1].endswith("DO NOT AGREE"))

    def test_main_exit_codes(self):
        with tempfile.TemporaryDirectory() as d:
            pa, pb, bad = (os.path.join(d, f) for f in ("a.json", "b.json", "bad.json"))
            for path, entries in ((pa, [entry(1, 1, "k", 1.0)]), (pb, [entry(1, 1, "j", 2.0)])):
                with open(path, "w") as f:
                    json.dump({"schema_version": 1, "metadata": {}, "entries": entries}, f)
            with open(bad, "w") as f:
                f.write("[]")
            with redirect_stdout(io.StringIO()):
                self.assertEqual(tune_agree.main([pa, pa]), 0)
                self.assertEqual(tune_agree.main([pa, pb]), 1)
                self.assertEqual(tune_agree.main([pa, pb, "--tolerance", "1.5"]), 0)
            err = io.StringIO()
            with redirect_stderr(err):
                self.assertEqual(tune_agree.main([pa, bad]), 2)
                self.assertEqual(tune_agree.main([pa, os.path.join(d, "none.json")]), 2)
            self.assertIn("not a qgemm tuning database", err.getvalue())


if __name__ == "__main__":
    unittest.main()
