"""`qgemm ... --json` (docs/cli_json.md): each command's JSON against an independent source —
the text output, the files written here, the source tree's tuning_db/ — on the CPU. With the
build tree's fake driver (tests/fake_cuda.c) `info` and `explain` also run their GPU paths."""
import glob
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
INSTALLED = os.environ.get("QGEMM_TEST_INSTALLED") == "1"


def cli_path():
    """$QGEMM_CLI; else the installed `qgemm` (wheel tests) or the one beside the library."""
    if os.environ.get("QGEMM_CLI"):
        return os.environ["QGEMM_CLI"]
    if INSTALLED:  # the console script beside the venv's python
        exe = os.path.join(os.path.dirname(sys.executable), "qgemm")
        return exe if os.path.isfile(exe) else shutil.which("qgemm")
    lib = os.environ.get("QGEMM_LIBRARY", "")
    exe = os.path.join(os.path.dirname(lib), "qgemm")
    return exe if os.path.isfile(exe) else None


QGEMM = cli_path()
pytestmark = pytest.mark.skipif(QGEMM is None, reason="no qgemm command (build it, or QGEMM_CLI)")
FAKE_CUDA = None if INSTALLED or not QGEMM else os.path.join(os.path.dirname(QGEMM), "tests",
                                                             "libqg_fake_cuda.so")


def run(*args, env=None, rc=0):
    e = {k: v for k, v in os.environ.items()
         if k not in ("QGEMM_DATA_DIR", "QGEMM_TUNING_DB", "QGEMM_CACHE_DIR",
                      "QGEMM_DISABLE_DISK_CACHE", "QGEMM_CUDA_LIBRARY")}
    e.update(env or {})
    p = subprocess.run([QGEMM, *args], capture_output=True, text=True, env=e, timeout=120)
    assert p.returncode == rc, (args, p.returncode, p.stdout, p.stderr)
    return p


def run_json(*args, **kw):
    return json.loads(run(*args, "--json", **kw).stdout)


def entry(kernel, m_bucket=1, n=4096, k=4096):
    return {"scheme": "w4a16", "n": n, "k": k, "group_size": 128, "zero_point": True,
            "act_dtype": "bf16", "out_dtype": "bf16", "weight_scale": "per-row",
            "act_scale": "per-row", "m_bucket": m_bucket, "kernel": kernel, "median_us": 10.5,
            "p20_us": 10.0, "p80_us": 11.0, "rel_error": 0.001,
            "tuned_at": "2026-11-23T10:00:00Z"}


def write_db(path, entries, gpu="NVIDIA H100 80GB HBM3", cc="9.0"):
    with open(path, "w") as f:
        json.dump({"schema_version": 1, "metadata": {"gpu_name": gpu, "compute_capability": cc},
                   "entries": entries}, f)
    return str(path)


def shipped_dir():
    if INSTALLED:
        import qgemm
        return os.path.join(os.path.dirname(qgemm.__file__), "share", "qgemm", "tuning_db")
    return os.path.join(ROOT, "tuning_db")


def test_info_without_gpu_names_cache_and_databases(tmp_path):
    info = run_json("info", env={"QGEMM_CUDA_LIBRARY": str(tmp_path / "no-libcuda.so")})
    assert info["version"] == run("--version").stdout.split()[1]
    assert info["device"] is None and info["device_error"]["status"].startswith("QG_ERR_NO_")
    assert info["catalog_size"] == len(run("list").stdout.splitlines())
    home_cache = os.path.join(os.environ.get("XDG_CACHE_HOME") or
                              os.path.join(os.environ["HOME"], ".cache"), "qgemm",
                              info["version"])
    assert info["cache_dir"] == home_cache
    # found relative to the library (no path compiled in): the shipped files, all of them
    d = info["data_dir"]
    assert d["source"] == "library"
    assert os.path.samefile(d["path"], shipped_dir())
    assert d["databases"] == sorted(os.path.basename(p)
                                    for p in glob.glob(os.path.join(shipped_dir(), "*.json")))
    assert d["databases"], "no shipped database found"
    assert info["tuning_db"] == {"path": None, "source": None}  # chosen by GPU name


def test_info_environment_overrides(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write_db(data / "b-gpu.json", [])
    write_db(data / "a-gpu.json", [])
    (data / "notes.txt").write_text("not a database")
    db = write_db(tmp_path / "mine.json", [])
    info = run_json("info", env={"QGEMM_DATA_DIR": str(data), "QGEMM_TUNING_DB": db,
                                 "QGEMM_CACHE_DIR": str(tmp_path / "c")})
    assert info["data_dir"] == {"path": str(data), "source": "QGEMM_DATA_DIR",
                                "databases": ["a-gpu.json", "b-gpu.json"]}
    assert info["tuning_db"] == {"path": db, "source": "QGEMM_TUNING_DB"}
    assert info["cache_dir"] == str(tmp_path / "c")
    assert run_json("info", env={"QGEMM_DISABLE_DISK_CACHE": "1"})["cache_dir"] is None
    text = run("info", env={"QGEMM_DATA_DIR": str(data), "QGEMM_TUNING_DB": db}).stdout
    assert f"shipped databases: {data} (QGEMM_DATA_DIR): 2 files" in text
    assert f"tuning database: {db} (QGEMM_TUNING_DB)" in text


def test_list_matches_text_output():
    text = [line.split()[0] for line in run("list", "w8a8").stdout.splitlines()]
    doc = run_json("list", "w8a8")
    assert [v["id"] for v in doc] == text and text
    for v in doc:
        assert v["id"].startswith(v["family"] + ".")
        assert v["schemes"] and all(s.startswith(("w8a8", "sp24")) or s for s in v["schemes"])
        assert isinstance(v["experimental"], bool) and isinstance(v["jit"], bool)
        assert v["min_cc"] in (80, 89, 90, 0)
    assert run_json("list", "no-such-prefix") == []


def test_db_show_round_trips_the_file(tmp_path):
    entries = [entry("w4a16_decode.act2.mt1"), entry("w4a16_decode.act2.mt2", m_bucket=16)]
    db = write_db(tmp_path / "a.json", entries)
    doc = run_json("db", "show", db)
    assert doc["path"] == db and doc["count"] == 2
    assert doc["metadata"]["gpu_name"] == "NVIDIA H100 80GB HBM3"
    got = sorted(doc["entries"], key=lambda e: e["m_bucket"])
    for want, e in zip(entries, got):
        assert e["current"] is False  # no catalog hash: timed against unknown kernels
        assert {k: e[k] for k in want} == want


def test_db_validate_reports_each_bad_entry(tmp_path):
    good = write_db(tmp_path / "g.json", [entry("w4a16_decode.act2.mt1")])
    doc = run_json("db", "validate", good)
    assert doc["valid"] is True and doc["errors"] == [] and doc["count"] == 1
    assert doc["stale"] == 1
    bad = write_db(tmp_path / "b.json", [entry("w4a16_decode.act2.mt1"),
                                         entry("no_such_kernel.x1", m_bucket=16)])
    doc = run_json("db", "validate", bad, rc=1)
    assert doc["valid"] is False and len(doc["errors"]) == 1
    e = doc["errors"][0]
    assert e["kernel"] == "no_such_kernel.x1" and "not in this catalog" in e["message"]
    assert doc["errors"][0]["entry"] in (0, 1)


def test_db_validate_fresh_lists_stale_entries(tmp_path):
    # no catalog hash: timed before code hashes on unknown sources, so stale without compiling
    db = write_db(tmp_path / "s.json", [entry("w4a16_decode.act2.mt1"),
                                        entry("w4a16_decode.act2.mt2", m_bucket=16)])
    doc = run_json("db", "validate", db)  # stale entries fail only --fresh
    assert doc["valid"] is True and doc["stale"] == 2 and doc["freshness_decided"] is True
    doc = run_json("db", "validate", db, "--fresh", rc=1)
    assert doc["valid"] is True and doc["stale"] == 2
    assert sorted((s["entry"], s["kernel"]) for s in doc["stale_entries"]) == [
        (0, "w4a16_decode.act2.mt1"), (1, "w4a16_decode.act2.mt2")]
    assert {s["reason"] for s in doc["stale_entries"]} == {
        "timed before code hashes, on other kernel sources"}
    text = run("db", "validate", db, "--fresh", rc=1).stdout
    assert text.count("stale: w4a16 ") == 2


def test_shipped_databases_validate():
    for f in glob.glob(os.path.join(shipped_dir(), "*.json")):
        assert run_json("db", "validate", f)["valid"] is True


def test_json_refused_where_unsupported(tmp_path):
    p = run("check", "--json", rc=2)
    assert "--json is not supported" in p.stderr and p.stdout == ""
    run("db", "merge", "a", "-o", "b", "--json", rc=2)
    (tmp_path / "bad.json").write_text('{"schema_version": 1, "metadata": {')
    p = run("db", "show", str(tmp_path / "bad.json"), "--json", rc=1)
    assert p.stdout == "" and "QG_ERR_CORRUPT" in p.stderr


@pytest.mark.skipif(not FAKE_CUDA or not os.path.exists(FAKE_CUDA), reason="needs the fake driver")
def test_explain_and_info_on_the_fake_gpu(tmp_path):
    fake = {"QGEMM_CUDA_LIBRARY": FAKE_CUDA, "QGEMM_CACHE_DIR": str(tmp_path / "cache")}
    args = ("explain", "--scheme", "w4a16", "--n", "4096", "--k", "4096", "--m", "1",
            "--zero-point", "1")
    doc = run_json(*args, env=fake)
    assert doc["level"] == "heuristic" and doc["entry"] is None and doc["tuning_db"] is None
    assert doc["kernel"] in [v["id"] for v in run_json("list")]
    # a database for this GPU with another kernel for this exact problem: dispatch takes it if
    # the entry is fresh (dispatch skips stale ones): timed on this build's w4a16 kernel sources,
    # the hash `db show` names for an entry without one (docs/tuning_db.md: before code hashes)
    other = next(v["id"] for v in run_json("list", "w4a16_decode") if v["id"] != doc["kernel"])
    db = write_db(tmp_path / "fake-gpu.json", [entry(other)], gpu="Fake GPU")
    doc = run_json(*args, "--db", db, env=fake)
    assert doc["level"] == "heuristic", "a stale entry is not used"
    sources = re.search(r"this build's: ([0-9a-f]+)\)", run("db", "show", db).stdout).group(1)
    write_db(db, [dict(entry(other), catalog_hash=sources)], gpu="Fake GPU")
    assert run_json("db", "show", db)["entries"][0]["current"] is True
    doc = run_json(*args, "--db", db, env=fake)
    assert doc == {"kernel": other, "level": "exact", "tuning_db": db,
                   "entry": {"n": 4096, "k": 4096, "m_bucket": 1, "median_us": 10.5,
                             "tuned_at": "2026-11-23T10:00:00Z"}}
    # info: the device, and the shipped file named after it in QGEMM_DATA_DIR
    info = run_json("info", env=dict(fake, QGEMM_DATA_DIR=str(tmp_path)))
    assert info["device"]["name"] == "Fake GPU" and info["device_error"] is None
    assert info["device"]["compute_capability"] == "9.0"
    assert info["tuning_db"] == {"path": db, "source": "shipped"}
    assert info["cache_dir"] == str(tmp_path / "cache")
