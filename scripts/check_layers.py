#!/usr/bin/env python3
"""Checks that the code keeps to the folder map of docs/ARCHITECTURE.md.

  scripts/check_layers.py [--root DIR]   check the tree (default: this repository)
  scripts/check_layers.py --self-test    check that each rule catches a violation

The map's table ("| folder | role | may include |") is the rule: every `#include "..."` of a
file in a listed folder must resolve to a file in a folder (or be a file) that its row names.
A file belongs to the longest listed folder that holds it. Internal headers are included by
file name from several folders (CMakeLists.txt, QG_INTERNAL_INCLUDE), so a header name must be
unique across src/ and tuner/, every quoted include in src/ and tuner/ must resolve, and every
source in src/ must be in a listed folder (a file added to src/ itself goes into one).
Prints each violation and exits 1 if there is any.
"""
import argparse
import os
import re
import sys
import tempfile

MAP = "docs/ARCHITECTURE.md"
HEADER = re.compile(r"^\|\s*folder\s*\|\s*role\s*\|\s*may include\s*\|\s*$")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
CODE = (".c", ".h", ".cu", ".cuh", ".hip", ".cc", ".cpp")
STRICT = ("src/", "tuner/")  # includes must resolve, header names must be unique


def read_rules(root):
    """{folder or file: [allowed folder or file, ...]} from the map's table."""
    rules = {}
    with open(os.path.join(root, MAP), encoding="utf-8") as f:
        lines = f.read().splitlines()
    start = next((i for i, l in enumerate(lines) if HEADER.match(l)), None)
    if start is None:
        sys.exit(f"check_layers: {MAP} has no '| folder | role | may include |' table")
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3:
            sys.exit(f"check_layers: {MAP}: a row needs 3 cells: {line}")
        folders = re.findall(r"`([^`]+)`", cells[0])
        allowed = re.findall(r"`([^`]+)`", cells[2])
        for folder in folders:
            if not folder.endswith("/"):
                sys.exit(f"check_layers: {MAP}: '{folder}' in the folder column needs a final /")
            rules[folder] = allowed
    if not rules:
        sys.exit(f"check_layers: {MAP}: the table has no rows")
    return rules


def owner(path, rules):
    """The longest listed folder holding path (repository-relative), or None."""
    best = None
    for folder in rules:
        if path.startswith(folder) and (best is None or len(folder) > len(best)):
            best = folder
    return best


def allows(entry, target, rules):
    """Does one `may include` entry cover the target file?"""
    if entry.endswith("/"):
        return owner(target, rules) == entry
    return target == entry


def source_files(root, rules):
    for folder in sorted(rules):
        top = os.path.join(root, folder)
        for dirpath, _, names in os.walk(top):
            for name in sorted(names):
                if name.endswith(CODE):
                    path = os.path.relpath(os.path.join(dirpath, name), root)
                    if owner(path, rules) == folder:
                        yield path


def check(root):
    rules = read_rules(root)
    files = list(source_files(root, rules))
    problems = []
    for folder in rules:
        if not os.path.isdir(os.path.join(root, folder)):
            problems.append(f"{MAP}: folder {folder} does not exist")
    for dirpath, _, names in os.walk(os.path.join(root, "src")):
        for name in sorted(names):
            path = os.path.relpath(os.path.join(dirpath, name), root)
            if name.endswith(CODE) and owner(path, rules) is None:
                problems.append(f"{path} is in no folder of {MAP}: move it into the folder of "
                                f"its role")
    # The folders the build searches for internal headers (QG_INTERNAL_INCLUDE, plus tuner/).
    search = sorted({os.path.dirname(f) for f in files if f.startswith(STRICT)}) + ["src", "include"]
    names = {}
    for f in files:
        if f.startswith(STRICT) and f.endswith((".h", ".cuh")):
            names.setdefault(os.path.basename(f), []).append(f)
    for name, where in sorted(names.items()):
        if len(where) > 1:
            problems.append(f"header name {name} is not unique: {', '.join(where)}")
    for f in files:
        with open(os.path.join(root, f), encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        folder = owner(f, rules)
        for m in INCLUDE.finditer(text):
            inc = m.group(1)
            line = text.count("\n", 0, m.start()) + 1
            target = None
            for d in [os.path.dirname(f)] + search:
                cand = os.path.normpath(os.path.join(d, inc))
                if os.path.isfile(os.path.join(root, cand)):
                    target = cand
                    break
            if target is None:
                if f.startswith(STRICT):
                    problems.append(f'{f}:{line}: #include "{inc}" is found in no source folder')
                continue
            if owner(target, rules) == folder:
                continue
            if not any(allows(a, target, rules) for a in rules[folder]):
                problems.append(f'{f}:{line}: #include "{inc}" ({target}): {folder} may include '
                                f'only {", ".join(rules[folder]) or "nothing outside itself"} '
                                f"({MAP})")
    return files, problems


def self_test():
    """A small tree with one violation of each kind: each must be reported."""
    tree = {
        MAP: "| folder | role | may include |\n|---|---|---|\n"
             "| `include/` | api | |\n| `src/low/` | low | `include/`, `src/mid/mid.h` |\n"
             "| `src/mid/` | mid | `src/low/` |\n| `tuner/` | tool | `src/low/`, `src/mid/` |\n",
        "include/api.h": "",
        "src/low/low.h": '#include "api.h"\n',
        "src/low/low.c": '#include "low.h"\n#include "mid.h"\n#include "other.h"\n',
        "src/mid/mid.h": '#include "low.h"\n',
        "src/mid/other.h": "",
        "src/mid/mid.c": '#include "mid.h"\n#include "tool.h"\n#include "gone.h"\n',
        "src/mid/dup/low.h": "",
        "tuner/tool.h": '#include "mid.h"\n',
        "src/loose.c": "",
    }
    expect = [
        'src/low/low.c:3: #include "other.h"',  # a file of a folder not allowed
        'src/mid/mid.c:2: #include "tool.h"',   # the runtime including the tool
        'src/mid/mid.c:3: #include "gone.h" is found in no source folder',
        "header name low.h is not unique",
        "src/loose.c is in no folder",
    ]
    with tempfile.TemporaryDirectory() as root:
        for path, text in tree.items():
            os.makedirs(os.path.dirname(os.path.join(root, path)), exist_ok=True)
            with open(os.path.join(root, path), "w", encoding="utf-8") as f:
                f.write(text)
        _, problems = check(root)
    bad = 0
    for e in expect:
        if not any(p.startswith(e) for p in problems):
            print(f"self-test: not reported: {e}")
            bad += 1
    allowed = 'src/low/low.c:2: #include "mid.h"'  # named file: allowed
    if any(p.startswith(allowed) for p in problems):
        print(f"self-test: reported though allowed: {allowed}")
        bad += 1
    if len(problems) != len(expect):
        print(f"self-test: {len(problems)} problems, expected {len(expect)}:", *problems, sep="\n  ")
        bad += 1
    print("self-test: " + ("FAILED" if bad else f"ok ({len(expect)} violations caught)"))
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    ap.add_argument("--self-test", action="store_true", help="check that each rule catches a violation")
    a = ap.parse_args()
    if a.self_test:
        return self_test()
    files, problems = check(os.path.abspath(a.root))
    for p in problems:
        print(p)
    print(f"check_layers: {len(files)} files, {len(problems)} violation(s) of {MAP}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
