"""What the peer comparison measures (bench/torch_compare.py --peers): the shapes, qgemm's schemes
with the public qgemm config a user would pick for each, and the peers a user would pick
instead, with the Python modules each needs. No torch here: --dry-run lists the plan from this
file alone. The code that builds and calls each peer is bench/peer_impls.py."""
import importlib.util
from dataclasses import dataclass

from peer_report import BF16, SCHEME_PEERS

# Linear shapes (N, K): Llama-3-8B, and Llama-3-70B under tensor parallelism 8 (tuner/models.c).
SHAPES = {
    "l8_qkv": (6144, 4096), "l8_o": (4096, 4096), "l8_gate_up": (28672, 4096),
    "l8_down": (4096, 14336),
    "l70tp8_qkv": (1280, 8192), "l70tp8_o": (8192, 1024), "l70tp8_gate_up": (7168, 8192),
    "l70tp8_down": (8192, 3584),
}
SHAPE_GROUPS = {"llama-3-8b": [s for s in SHAPES if s.startswith("l8_")],
                "llama-3-70b-tp8": [s for s in SHAPES if s.startswith("l70tp8_")]}
DEFAULT_M = [1, 16, 64, 128, 256, 512, 1024, 4096]

# qgemm scheme -> (qgemm config class name, its keyword arguments): the public qgemm API, as a
# user would quantize an nn.Linear (python/qgemm/config.py).
QGEMM_CONFIGS = {
    "w4a16": ("Int4WeightOnlyConfig", {"group_size": 128}),
    "w8a16": ("Int8WeightOnlyConfig", {}),
    "w8a8-fp8": ("Float8DynamicActivationFloat8WeightConfig", {"granularity": "PerRow"}),
    "w8a8-int8": ("Int8DynamicActivationInt8WeightConfig", {}),
    "w4a8-fp8": ("Float8DynamicActivationInt4WeightConfig", {}),
    "w4a8-int8": ("Int8DynamicActivationInt4WeightConfig", {"group_size": 128}),
    "sp24-bf16": ("SemiSparseWeightConfig", {}),
    "sp24-fp8": ("Float8DynamicActivationFloat8SemiSparseWeightConfig", {}),
    "sp24-int8": ("Int8DynamicActivationInt8SemiSparseWeightConfig", {}),
}
SPARSE_SCHEMES = ("sp24-bf16", "sp24-fp8", "sp24-int8")


@dataclass(frozen=True)
class Peer:
    what: str            # what a user calls, and the kernel behind it
    modules: tuple       # Python modules it needs (checked with importlib, not imported)
    weight_bytes: float  # bytes per weight element as stored (sizes the rotated copies)


PEERS = {
    BF16: Peer("torch.nn.functional.linear on bf16 weights (cuBLAS)", ("torch",), 2.0),
    "torchao-int4": Peer("torchao Int4WeightOnlyConfig(group_size=128), default plain packing: "
                         "mslk bf16i4bf16_rowwise (CUTLASS)", ("torch", "torchao", "mslk"), 0.53),
    "torchao-int4-tinygemm": Peer("torchao Int4WeightOnlyConfig(group_size=128, int4_packing_"
                                  "format='tile_packed_to_4d'): tinygemm", ("torch", "torchao"),
                                  0.53),
    "gemlite-a16w4": Peer("gemlite.helper.A16Wn 4-bit group 128, asymmetric (Triton)",
                          ("torch", "gemlite", "triton"), 0.53),
    "torchao-int8-wo": Peer("torchao Int8WeightOnlyConfig()", ("torch", "torchao"), 1.0),
    "torchao-fp8-rowwise": Peer("torchao Float8DynamicActivationFloat8WeightConfig(granularity="
                                "PerRow()): mslk f8f8bf16_rowwise, else torch._scaled_mm",
                                ("torch", "torchao"), 1.0),
    "torch-scaled-mm": Peer("torch._scaled_mm row-wise e4m3 (cuBLASLt), activations quantized "
                            "outside the timed call, M padded to 16", ("torch",), 1.0),
    "gemlite-a8w8-fp8": Peer("gemlite.helper.A8W8_fp8_dynamic (Triton)",
                             ("torch", "gemlite", "triton"), 1.0),
    "torchao-int8-dyn": Peer("torchao Int8DynamicActivationInt8WeightConfig()",
                             ("torch", "torchao"), 1.0),
    "torch-int-mm": Peer("torch._int_mm (cuBLASLt int8), activations quantized outside the "
                         "timed call, M padded to 32", ("torch",), 1.0),
    "gemlite-a8w8-int8": Peer("gemlite.helper.A8W8_int8_dynamic (Triton)",
                              ("torch", "gemlite", "triton"), 1.0),
    "torchao-fp8-int4": Peer("torchao Float8DynamicActivationInt4WeightConfig(): mslk "
                             "f8i4bf16_shuffled (CUTLASS)", ("torch", "torchao", "mslk"), 0.53),
    "torchao-sparse-fp8": Peer("torchao Float8DynamicActivationFloat8WeightConfig(granularity="
                               "PerRow(), packing_format='sparse_2d_data_2d_metadata'): CUTLASS "
                               "2:4 fp8", ("torch", "torchao"), 0.57),
    "torchao-cusparselt": Peer("torchao.sparsity.sparse_api.SemiSparseWeightConfig() via sparsify_: "
                               "cuSPARSELt 2:4 bf16", ("torch", "torchao"), 1.13),
    "qgemm-dense-fp8": Peer("qgemm's own W8A8 fp8 per-row on the same (2:4-pruned) weight",
                            ("torch",), 1.0),
    "qgemm-dense-int8": Peer("qgemm's own W8A8 int8 on the same (2:4-pruned) weight",
                             ("torch",), 1.0),
}
QGEMM_WEIGHT_BYTES = {"w4a16": 0.53, "w8a16": 1.0, "w8a8-fp8": 1.0, "w8a8-int8": 1.0,
                      "w4a8-fp8": 0.52, "w4a8-int8": 0.52, "sp24-bf16": 1.07, "sp24-fp8": 0.57,
                      "sp24-int8": 0.57}


def parse_names(text, known, what, groups=None):
    """A comma list of names (or 'all', or group names) -> the names in catalog order;
    ValueError naming the unknown ones."""
    groups = groups or {}
    out = []
    for tok in (t.strip() for t in text.split(",")):
        if not tok:
            continue
        names = list(known) if tok == "all" else groups.get(tok, [tok])
        bad = [n for n in names if n not in known]
        if bad:
            raise ValueError(f"unknown {what} {', '.join(bad)}; known: all, "
                             + ", ".join(list(groups) + list(known)))
        out += [n for n in names if n not in out]
    if not out:
        raise ValueError(f"no {what} given")
    return out


def parse_ms(text):
    try:
        ms = sorted({int(v) for v in text.split(",") if v.strip()})
    except ValueError:
        raise ValueError(f"--m wants a comma list of positive integers, got {text!r}") from None
    if not ms or ms[0] < 1:
        raise ValueError(f"--m wants a comma list of positive integers, got {text!r}")
    return ms


def missing_modules(peer, find_spec=importlib.util.find_spec):
    """The modules `peer` needs that this Python cannot find ([] when it can run)."""
    return [m for m in PEERS[peer].modules if find_spec(m) is None]


def plan(schemes, shapes, ms, peers, find_spec=importlib.util.find_spec):
    """The cases a run would measure: per scheme and shape, the M values, the peers that would
    run and those skipped with why (a peer not selected is left out)."""
    cases = []
    for scheme in schemes:
        chosen = [p for p in SCHEME_PEERS[scheme] if p in peers]
        run, skip = [], {}
        for p in chosen:
            miss = missing_modules(p, find_spec)
            if miss:
                skip[p] = "module " + ", ".join(miss) + " not found"
            else:
                run.append(p)
        for shape in shapes:
            n, k = SHAPES[shape]
            cases.append(dict(scheme=scheme, shape=shape, n=n, k=k, ms=list(ms), run=run,
                              skip=skip))
    return cases


def plan_text(cases):
    lines = []
    for c in cases:
        skip = "; ".join(f"skip {p}: {why}" for p, why in c["skip"].items())
        lines.append(f"{c['scheme']:9s} {c['shape']:14s} {c['n']}x{c['k']} M="
                     f"{','.join(map(str, c['ms']))}: qgemm"
                     + "".join(f", {p}" for p in c["run"]) + (f" ({skip})" if skip else ""))
    named = [p for p in PEERS if any(p in c["run"] or p in c["skip"] for c in cases)]
    lines += [f"  {p}: {PEERS[p].what}" for p in named]
    timed = sum(len(c["ms"]) * (1 + len(c["run"])) for c in cases)
    lines.append(f"{len(cases)} cases, {timed} timed points")
    return lines
