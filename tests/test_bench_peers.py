#!/usr/bin/env python3
"""CPU tests of the peer comparison (bench/torch_compare.py --peers): the report's markdown and
issue 13's targets on synthetic rows, the catalog's parsing and plan, the shapes against the
model dimensions, and --dry-run end to end. Standard library only (no torch, no GPU)."""
import io
import json
import math
import os
import subprocess
import sys
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "bench"))
sys.path.insert(0, os.path.join(ROOT, "python"))

import peer_catalog  # noqa: E402
import peer_report  # noqa: E402
import torch_compare  # noqa: E402  (imports without torch: torch/numpy are None then)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def read(path):
    with open(path) as f:
        return f.read()


def row(scheme, shape, m, qgemm_us, **peers):
    return dict(scheme=scheme, shape=shape, n=4096, k=4096, m=m, qgemm_us=qgemm_us,
                peers={k.replace("_", "-"): v for k, v in peers.items()})


def points(results, title_start):
    res = next(r for r in results if r["target"].title.startswith(title_start))
    return {(p["shape"], p["m"]): p for p in res["points"]}, res


class Targets(unittest.TestCase):
    def test_best_peer_ratio_and_threshold(self):
        rows = [
            # M=128: best int4 peer is gemlite (19.0): 19 / 20 = 0.95 -> missed (needs 1.0).
            row("w4a16", "l8_qkv", 128, 20.0, torchao_int4=23.1, torchao_int4_tinygemm=200.0,
                gemlite_a16w4=19.0, cublas_bf16=21.5),
            # M=256: 72.7 / 50 = 1.454 met; vs bf16 61.1 / 50 = 1.222 met.
            row("w4a16", "l8_down", 256, 50.0, torchao_int4=72.7, cublas_bf16=61.1),
            # M=512: bf16 target is 0.95 above M=256: 47.5 / 50 = 0.95 exactly met.
            row("w4a16", "l8_down", 512, 50.0, torchao_int4=100.0, cublas_bf16=47.5),
            # M=16 is below every W4A16 g128 target's range (and not M=1 for decode).
            row("w4a16", "l8_qkv", 16, 5.0, torchao_int4=1.0, cublas_bf16=1.0),
        ]
        res = peer_report.evaluate(rows)
        pts, t = points(res, "W4A16 g128 >= 1.0x the best")
        self.assertEqual(set(pts), {("l8_qkv", 128), ("l8_down", 256), ("l8_down", 512)})
        p = pts[("l8_qkv", 128)]
        self.assertEqual(p["peer"], "gemlite-a16w4")
        self.assertAlmostEqual(p["ratio"], 0.95)
        self.assertFalse(p["met"])
        self.assertTrue(pts[("l8_down", 256)]["met"])
        self.assertAlmostEqual(t["geomean"], (0.95 * 72.7 / 50 * 2.0) ** (1 / 3))
        self.assertTrue(t["geomean_met"])  # 1.41 >= 1.15
        bf, _ = points(res, "W4A16 g128 vs cuBLAS bf16")
        self.assertEqual(bf[("l8_qkv", 128)]["need"], 1.0)
        self.assertEqual(bf[("l8_down", 512)]["need"], 0.95)
        self.assertTrue(bf[("l8_down", 512)]["met"])
        self.assertTrue(bf[("l8_qkv", 128)]["met"])  # 21.5 / 20 = 1.075

    def test_bf16_ratio_direction(self):
        rows = [row("w8a16", "l8_o", 128, 20.0, cublas_bf16=21.5),
                row("w8a16", "l8_o", 1024, 50.0, cublas_bf16=45.0)]
        pts, _ = points(peer_report.evaluate(rows), "W8A16 vs cuBLAS bf16")
        self.assertAlmostEqual(pts[("l8_o", 128)]["ratio"], 1.075)
        self.assertTrue(pts[("l8_o", 128)]["met"])
        self.assertAlmostEqual(pts[("l8_o", 1024)]["ratio"], 0.9)
        self.assertFalse(pts[("l8_o", 1024)]["met"])

    def test_sparse_and_dense_targets_use_their_own_ranges(self):
        rows = [row("sp24-fp8", "l8_gate_up", 1024, 100.0, torchao_sparse_fp8=154.9,
                    qgemm_dense_fp8=120.0),
                row("sp24-fp8", "l8_gate_up", 128, 40.0, torchao_sparse_fp8=41.3,
                    qgemm_dense_fp8=30.0),
                row("sp24-bf16", "l8_o", 128, 10.0, torchao_cusparselt=5.0),
                row("sp24-bf16", "l8_o", 256, 10.0, torchao_cusparselt=11.0),
                row("sp24-int8", "l8_o", 4096, 100.0, qgemm_dense_int8=131.0)]
        res = peer_report.evaluate(rows)
        cutlass, _ = points(res, "2:4 fp8 >= 1.0x torchao")
        self.assertEqual(len(cutlass), 2)
        self.assertTrue(cutlass[("l8_gate_up", 1024)]["met"])
        dense, _ = points(res, "2:4 fp8 >= 1.3x our dense")
        self.assertEqual(set(dense), {("l8_gate_up", 1024)})  # M=128 is below 1024
        self.assertFalse(dense[("l8_gate_up", 1024)]["met"])  # 1.2 < 1.3
        cslt, _ = points(res, "2:4 bf16")
        self.assertEqual(set(cslt), {("l8_o", 256)})
        self.assertAlmostEqual(cslt[("l8_o", 256)]["ratio"], 1.1)
        self.assertTrue(cslt[("l8_o", 256)]["met"])
        i8, _ = points(res, "2:4 int8")
        self.assertTrue(i8[("l8_o", 4096)]["met"])

    def test_w8a8_best_of_several_and_absent_peers(self):
        rows = [row("w8a8-fp8", "l8_down", 64, 30.0, torchao_fp8_rowwise=37.6, gemlite_a8w8_fp8=28.7),
                row("w8a8-int8", "l8_down", 64, 30.0),  # every peer failed: n/a
                row("w8a8-int8", "l8_down", 128, 30.0, torch_int_mm=40.0)]
        res = peer_report.evaluate(rows)
        fp8, _ = points(res, "W8A8 fp8")
        self.assertEqual(fp8[("l8_down", 64)]["peer"], "gemlite-a8w8-fp8")
        self.assertFalse(fp8[("l8_down", 64)]["met"])
        i8, t = points(res, "W8A8 int8")
        self.assertIsNone(i8[("l8_down", 64)]["ratio"])
        self.assertIsNone(i8[("l8_down", 64)]["met"])
        self.assertTrue(i8[("l8_down", 128)]["met"])
        lines, (met, missed, na) = peer_report.targets_text(rows)
        self.assertEqual((met, missed, na), (1, 1, 1))
        self.assertIn("n/a (no peer ran)", "\n".join(lines))
        self.assertEqual(lines[-1], "targets: 1 met, 1 missed, 1 n/a")

    def test_decode_targets(self):
        rows = [row("w4a16", "l8_qkv", 1, 10.0, gemlite_a16w4=9.0),
                row("w4a16", "l70tp8_o", 1, 10.0, gemlite_a16w4=11.0),
                row("w4a16", "l8_gate_up", 1, 10.0, gemlite_a16w4=1.0),  # not a small shape
                row("w4a16", "l8_qkv", 16, 10.0, gemlite_a16w4=1.0)]
        pts, _ = points(peer_report.evaluate(rows), "decode: W4A16 M=1")
        self.assertEqual(set(pts), {("l8_qkv", 1), ("l70tp8_o", 1)})
        self.assertFalse(pts[("l8_qkv", 1)]["met"])
        self.assertTrue(pts[("l70tp8_o", 1)]["met"])
        base = [row("w4a16", "l8_qkv", 1, 9.8), row("w4a16", "l8_qkv", 16, 10.0),
                row("w4a16", "l8_qkv", 64, 1.0)]
        reg = peer_report.decode_regressions(rows, base)
        got = {(r[1], r[2]): r for r in reg}
        self.assertEqual(set(got), {("l8_qkv", 1), ("l8_qkv", 16)})  # M=64 is not decode
        self.assertAlmostEqual(got[("l8_qkv", 1)][5], 0.98)
        self.assertTrue(got[("l8_qkv", 1)][6])    # 2% slower: within 3%
        self.assertTrue(got[("l8_qkv", 16)][6])
        slower = peer_report.decode_regressions([row("w4a16", "l8_qkv", 1, 10.5)], base)
        self.assertFalse(slower[0][6])             # 0.933x: a regression

    def test_geomean(self):
        self.assertAlmostEqual(peer_report.geomean([1.0, 4.0]), 2.0)
        self.assertTrue(math.isnan(peer_report.geomean([])))


class Markdown(unittest.TestCase):
    def test_table_columns_best_peer_and_failures(self):
        rows = [row("w4a16", "l8_qkv", 128, 47.9, torchao_int4=23.1, gemlite_a16w4=47.0,
                    cublas_bf16=10.0),
                row("w4a16", "l8_qkv", 1, 10.0, cublas_bf16=20.0)]
        rows[1]["failed"] = {"torchao-int4": "RuntimeError: capture failed"}
        rows.append(row("w8a8-int8", "l8_o", 64, 10.0, torch_int_mm=12.0))
        md = peer_report.markdown(rows, "t")
        lines = md.splitlines()
        hdr = next(line for line in lines if line.startswith("| shape") and "torchao-int4" in line)
        self.assertEqual(hdr, "| shape | M | qgemm | torchao-int4 | gemlite-a16w4 | cublas-bf16 "
                         "| best peer | qgemm / best |")
        self.assertIn("| l8_qkv | 128 | 47.9 | 23.1 | 47.0 | 10.0 | torchao-int4 | 0.48x |", lines)
        # bf16 is never the "best peer"; with no quantized peer the cells are '-'.
        self.assertIn("| l8_qkv | 1 | 10.0 | - | - | 20.0 | - | - |", lines)
        self.assertIn("failed: torchao-int4: RuntimeError: capture failed", md)
        self.assertIn("## w8a8-int8", md)
        self.assertLess(md.index("## w4a16"), md.index("## w8a8-int8"))

    def test_main_reads_file_and_rejects_bad_input(self):
        with tempfile.TemporaryDirectory() as d:
            good = os.path.join(d, "peers.json")
            write(good, json.dumps([row("w8a16", "l8_o", 128, 20.0, cublas_bf16=21.5)]))
            out = io.StringIO()
            with redirect_stdout(out):
                self.assertEqual(peer_report.main([good]), 0)
            self.assertIn("| l8_o | 128 | 20.0 | 21.5 |", out.getvalue())
            self.assertIn("targets: 1 met, 0 missed, 0 n/a", out.getvalue())
            bad = os.path.join(d, "bad.json")
            write(bad, json.dumps([{"scheme": "w4a16"}]))
            for path, why in ((bad, "row 0 lacks shape"), (os.path.join(d, "none.json"), "No such"),
                              (good + ".txt", "Expecting property name")):
                if path.endswith(".txt"):
                    write(path, "{not json")
                err = io.StringIO()
                with redirect_stderr(err):
                    self.assertEqual(peer_report.main([path]), 2)
                self.assertIn(why, err.getvalue())
        with self.assertRaises(ValueError):
            peer_report.validate({"rows": []})
        with self.assertRaises(ValueError):
            peer_report.validate([dict(row("w4a16", "x", 1, 1.0), peers=[1])])


class Catalog(unittest.TestCase):
    def test_every_peer_is_catalogued_and_every_scheme_has_a_qgemm_config(self):
        named = {p for ps in peer_report.SCHEME_PEERS.values() for p in ps}
        self.assertEqual(named, set(peer_catalog.PEERS))
        for t in peer_report.TARGETS:
            self.assertLessEqual(set(t.peers), named, t.title)
            self.assertIn(t.scheme, peer_catalog.QGEMM_CONFIGS)
        self.assertEqual(set(peer_catalog.QGEMM_CONFIGS), set(peer_report.SCHEME_PEERS))
        self.assertEqual(set(peer_catalog.QGEMM_WEIGHT_BYTES), set(peer_catalog.QGEMM_CONFIGS))
        import qgemm  # the configs are those of qgemm's public API (no torch needed)
        for scheme, (name, kw) in peer_catalog.QGEMM_CONFIGS.items():
            kw = {k: (getattr(qgemm, v)() if k == "granularity" else v) for k, v in kw.items()}
            self.assertEqual(getattr(qgemm, name)(**kw).scheme, scheme)

    def test_shapes_match_the_model_dimensions(self):
        # Llama-3-8B: hidden 4096, intermediate 14336, 32 heads, 8 KV heads of 128.
        # Llama-3-70B: hidden 8192, intermediate 28672, 64 heads, 8 KV heads, TP 8.
        for prefix, hid, inter, heads, kv, tp in (("l8", 4096, 14336, 32, 8, 1),
                                                  ("l70tp8", 8192, 28672, 64, 8, 8)):
            want = {"qkv": ((heads + 2 * kv) * 128 // tp, hid), "o": (hid, heads * 128 // tp),
                    "gate_up": (2 * inter // tp, hid), "down": (hid, inter // tp)}
            for name, nk in want.items():
                self.assertEqual(peer_catalog.SHAPES[f"{prefix}_{name}"], nk, name)

    def test_parse(self):
        P = peer_catalog
        self.assertEqual(P.parse_names("llama-3-70b-tp8,l8_o", P.SHAPES, "shape", P.SHAPE_GROUPS),
                         ["l70tp8_qkv", "l70tp8_o", "l70tp8_gate_up", "l70tp8_down", "l8_o"])
        self.assertEqual(P.parse_names("all", P.PEERS, "peer"), list(P.PEERS))
        self.assertEqual(P.parse_names("cublas-bf16, cublas-bf16", P.PEERS, "peer"),
                         ["cublas-bf16"])
        with self.assertRaisesRegex(ValueError, "unknown peer torchao-int3"):
            P.parse_names("torchao-int3", P.PEERS, "peer")
        with self.assertRaisesRegex(ValueError, "no scheme"):
            P.parse_names(" , ", P.QGEMM_CONFIGS, "scheme")
        self.assertEqual(P.parse_ms("128,1,16,1"), [1, 16, 128])
        for bad in ("", "0,1", "x", "-4"):
            with self.assertRaises(ValueError):
                P.parse_ms(bad)

    def test_plan_skips_peers_whose_modules_are_missing(self):
        have = {"torch", "torchao"}
        spec = lambda name: object() if name in have else None  # noqa: E731
        cases = peer_catalog.plan(["w4a16", "sp24-int8"], ["l8_o", "l70tp8_down"], [1, 128],
                                  ["torchao-int4", "torchao-int4-tinygemm", "gemlite-a16w4",
                                   "qgemm-dense-int8"], find_spec=spec)
        self.assertEqual(len(cases), 4)
        w4 = cases[0]
        self.assertEqual((w4["scheme"], w4["shape"], w4["n"], w4["k"]), ("w4a16", "l8_o", 4096, 4096))
        self.assertEqual(w4["run"], ["torchao-int4-tinygemm"])  # cublas-bf16 not selected
        self.assertEqual(w4["skip"], {"torchao-int4": "module mslk not found",
                                      "gemlite-a16w4": "module gemlite, triton not found"})
        self.assertEqual(cases[3]["run"], ["qgemm-dense-int8"])
        text = peer_catalog.plan_text(cases)
        self.assertEqual(text[-1], "4 cases, 16 timed points")  # 2 M x (qgemm + 1 peer) x 4
        self.assertIn("skip torchao-int4: module mslk not found", text[0])
        self.assertIn("  torchao-int4-tinygemm: torchao Int4WeightOnlyConfig(group_size=128, "
                      "int4_packing_format='tile_packed_to_4d'): tinygemm", text)


class TorchCompare(unittest.TestCase):
    def run_tc(self, *args):
        env = dict(os.environ, PYTHONPATH="")
        return subprocess.run([sys.executable, os.path.join(ROOT, "bench", "torch_compare.py"),
                               *args], capture_output=True, text=True, env=env, timeout=60)

    def test_dry_run_lists_the_plan(self):
        r = self.run_tc("--peers", "--dry-run", "--schemes", "w4a16,w8a8-fp8", "--shapes",
                        "llama-3-8b", "--m", "1,4096")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 9 + 7)  # 2 schemes x 4 shapes, 7 peers named, the count
        self.assertTrue(lines[0].startswith("w4a16     l8_qkv         6144x4096 M=1,4096: qgemm"))
        self.assertRegex(lines[-1], r"^8 cases, \d+ timed points$")

    def test_bad_flags_exit_2_with_a_reason(self):
        r = self.run_tc("--peers", "--dry-run", "--schemes", "w5a16")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown scheme w5a16", r.stderr)
        r = self.run_tc("--peers", "torchao-int3", "--dry-run")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown peer torchao-int3", r.stderr)
        r = self.run_tc("--dry-run")
        self.assertEqual(r.returncode, 2)
        self.assertIn("go with --peers", r.stderr)

    def test_helpers(self):
        self.assertEqual(torch_compare.gpu_slug("NVIDIA H100 80GB HBM3"), "nvidia-h100-80gb-hbm3")
        self.assertEqual(torch_compare.gpu_slug("NVIDIA H200 (MIG 1g.18gb)"),
                         "nvidia-h200-mig-1g-18gb")
        old = [row("w4a16", "a", 1, 1.0), row("w4a16", "a", 16, 2.0)]
        new = [row("w4a16", "a", 16, 3.0), row("w8a16", "a", 16, 4.0)]
        merged = torch_compare.merge_rows(old, new)
        self.assertEqual([(r["scheme"], r["m"], r["qgemm_us"]) for r in merged],
                         [("w4a16", 1, 1.0), ("w4a16", 16, 3.0), ("w8a16", 16, 4.0)])
        try:
            raise RuntimeError("first line\nsecond line")
        except RuntimeError as e:
            self.assertEqual(torch_compare.one_line(e), "RuntimeError: first line")

    def test_write_peers_writes_json_and_markdown(self):
        rows = [row("w8a16", "l8_o", 128, 20.0, cublas_bf16=21.5)]
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "gpu", "peers.json")
            torch_compare.write_peers(path, rows, "title")
            self.assertEqual(json.loads(read(path)), rows)
            md = read(os.path.join(d, "gpu", "peers.md"))
            self.assertTrue(md.startswith("# title"))
            self.assertIn("| l8_o | 128 | 20.0 | 21.5 |", md)


def _have_torch_and_lib():
    import importlib.util
    lib = os.environ.get("QGEMM_LIBRARY", "")
    return importlib.util.find_spec("torch") is not None and os.path.isfile(lib)


@unittest.skipUnless(_have_torch_and_lib(), "needs torch and $QGEMM_LIBRARY (CI has no torch)")
class SweepOnCpu(unittest.TestCase):
    """bench_peers_case end to end on the CPU: qgemm's torch ops and the peers that run there,
    with the CUDA-graph timer replaced by a plain one; a peer that fails to build or to run is
    reported per row and the others still measured."""

    def test_rows_errors_and_failures(self):
        import time
        import torch
        import peer_impls
        saved = (torch_compare.DEV, torch_compare.l2_bytes, torch_compare.time_calls,
                 torch_compare.cuda_alive, peer_impls.build_peer)
        real_build = peer_impls.build_peer

        def timer(calls, replays=1):
            if any(getattr(c, "broken", False) for c in calls):
                raise RuntimeError("operation not permitted when stream is capturing\nmore")
            t = time.perf_counter()
            for c in calls:
                c()
            return (time.perf_counter() - t) * 1e6 / len(calls)

        def build(name, w, copies):
            if name == "torchao-int8-dyn":
                raise ImportError("no torchao here")
            binds = real_build(name, w, copies)
            if name != "torch-int-mm":
                return binds

            def broken(b):  # _int_mm "fails under capture" at M=33 only
                def bind(x):
                    call, post = b(x)
                    call.broken = x.shape[0] == 33
                    return call, post
                return bind
            return [broken(b) for b in binds]
        try:
            torch_compare.DEV = torch.device("cpu")
            torch_compare.l2_bytes = lambda: 1 << 20
            torch_compare.time_calls = timer
            torch_compare.cuda_alive = lambda: True
            peer_impls.build_peer = build
            torch.manual_seed(0)
            w = (torch.randn(256, 512) * 0.02).to(torch.bfloat16)
            rows = []
            with redirect_stdout(io.StringIO()) as out:
                torch_compare.bench_peers_case("w8a8-int8", "l8_o", w, [1, 33],
                                               ["torch-int-mm", "torchao-int8-dyn", "cublas-bf16"],
                                               rows, {})
        finally:
            (torch_compare.DEV, torch_compare.l2_bytes, torch_compare.time_calls,
             torch_compare.cuda_alive, peer_impls.build_peer) = saved
        self.assertEqual([r["m"] for r in rows], [1, 33])
        r1, r33 = rows
        self.assertGreater(r1["qgemm_us"], 0)
        self.assertEqual(set(r1["peers"]), {"torch-int-mm", "cublas-bf16"})
        # int8 per-row x per-token: qgemm and the raw _int_mm agree (same quantization).
        self.assertLess(r1["err"]["qgemm"], 0.03)
        self.assertAlmostEqual(r1["err"]["qgemm"], r1["err"]["torch-int-mm"], delta=0.003)
        self.assertLess(r1["err"]["cublas-bf16"], 0.005)
        self.assertEqual(r1["failed"]["torchao-int8-dyn"], "build: ImportError: no torchao here")
        self.assertNotIn("torch-int-mm", r33["peers"])
        self.assertEqual(r33["failed"]["torch-int-mm"],
                         "RuntimeError: operation not permitted when stream is capturing")
        self.assertIn("cublas-bf16", r33["peers"])
        self.assertIn("torch-int-mm FAILED", out.getvalue())


if __name__ == "__main__":
    unittest.main(verbosity=1)
