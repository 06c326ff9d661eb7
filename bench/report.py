#!/usr/bin/env python3
"""Renders bench/results/runs.tsv (written by bench/run.sh) as markdown with the targets checked.

  report.py --tsv runs.tsv --out latest.md [--docs docs/benchmarks.md] --corpus-info corpus.info.json
            --prefix-mb 100 --partition-mb 64

With --docs, the part of that file between the bench:results markers is replaced by the same report.
"""
import argparse
import csv
import datetime
import json
import os
import platform
import re
import subprocess

BEGIN = "<!-- bench:results:begin (written by bench/run.sh; edit outside the markers) -->"
END = "<!-- bench:results:end -->"


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception:
        return ""


def machine():
    model = sh("lscpu | sed -n 's/^Model name: *//p' | head -1") or platform.processor()
    cores = os.cpu_count()
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", open("/proc/meminfo").read()).group(1))
    head = sh("git rev-parse --short HEAD")
    dirty = " (+ uncommitted changes)" if sh("git status --porcelain --untracked-files=no") else ""
    return {
        "cpu": model, "cores": cores, "ram": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(), "compiler": sh("g++ --version | head -1"),
        "python": sh("python3 --version"), "commit": head + dirty,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def load(tsv):
    with open(tsv, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    out = {}
    for r in rows:
        r["np"] = int(r["np"])
        r["in_bytes"] = int(r["in_bytes"])
        r["in_records"] = int(r["in_records"])
        r["ok"] = r["status"] == "ok" and r["best_s"] not in ("", "-")
        r["secs"] = float(r["best_s"]) if r["ok"] else None
        r["mbps"] = r["in_bytes"] / 1e6 / r["secs"] if r["ok"] else None
        r["rss_mb"] = int(r["max_rss_kb"]) / 1024 if r["ok"] else None
        out[r["name"]] = r
    return out


def fmt(v, spec):
    return "—" if v is None else format(v, spec)


def render(rows, info, prefix_mb, part_mb):
    m = machine()
    floor = rows.get("floor")
    cpy = rows.get("cpython")
    floor_mbps = floor["mbps"] if floor and floor["ok"] else None
    cpy_mbps = cpy["mbps"] if cpy and cpy["ok"] else None

    def checks(r):
        """[(description, passed or None when it cannot be evaluated)] for one row."""
        name, c = r["name"], []
        mb = r["mbps"]
        if name.startswith(("text_length", "demo")):
            lim = 2 * r["np"] * part_mb + 200
            c.append((f"RSS < {lim} MiB", None if not r["ok"] else r["rss_mb"] < lim))
        if name == "text_length_np1":
            c.insert(0, ("≥ 0.8× floor", None if mb is None or floor_mbps is None else mb >= 0.8 * floor_mbps))
        if name == "text_length_np2":
            c.insert(0, ("≥ 1.8× floor", None if mb is None or floor_mbps is None else mb >= 1.8 * floor_mbps))
        if name.startswith("demo"):
            c.insert(0, ("≥ 100 MB/s/core", None if mb is None else mb / r["np"] >= 100))
        if name.startswith("demo_np") and name.endswith("every_partition"):
            d = rows.get(name.replace("every_partition", "disabled"))
            ok = None if not (r["ok"] and d and d["ok"]) else r["secs"] <= 1.05 * d["secs"]
            c.insert(1, ("≤ 5% slower than disabled", ok))
        if name == "demo_prefix_np1":
            c.insert(1, ("≥ 50× CPython", None if mb is None or cpy_mbps is None else mb >= 50 * cpy_mbps))
        return c

    def ratio(r):
        n, mb = r["name"], r["mbps"]
        if mb is None:
            return "—"
        if n == "floor":
            return "1.00× (reference)"
        if n == "cpython":
            return "1× (reference)"
        parts = []
        if n.startswith(("floor_", "text_length")) and floor_mbps:
            parts.append(f"{mb / floor_mbps:.2f}× floor")
        if (n.startswith("demo") or n == "cpython") and cpy_mbps:
            parts.append(f"{mb / cpy_mbps:.0f}× CPython")
        if n.startswith("demo_np") and n.endswith("every_partition"):
            d = rows.get(n.replace("every_partition", "disabled"))
            if d and d["ok"]:
                parts.append(f"{(r['secs'] / d['secs'] - 1) * 100:+.1f}% time vs disabled")
        return "; ".join(parts) or "—"

    labels = {
        "floor": "floor (bench/floor.cc, read())",
        "floor_mmap": "floor, --mmap (info)",
        "floor_raw": "floor, --raw: length from the escaped text (info)",
        "text_length_np1": "sluice text_length.yaml np 1",
        "text_length_np2": "sluice text_length.yaml np 2",
        "demo_np1_disabled": "sluice demo.yaml np 1, checkpoint disabled",
        "demo_np1_every_partition": "sluice demo.yaml np 1, checkpoint every_partition",
        "demo_np2_disabled": "sluice demo.yaml np 2, checkpoint disabled",
        "demo_np2_every_partition": "sluice demo.yaml np 2, checkpoint every_partition",
        "cpython": f"CPython baseline (bench/baseline_dj.py), {prefix_mb} MB prefix",
        "demo_prefix_np1": f"sluice demo.yaml np 1, {prefix_mb} MB prefix",
        "demo_prefix_np2": f"sluice demo.yaml np 2, {prefix_mb} MB prefix",
    }
    order = list(labels) + [n for n in rows if n not in labels]

    lines = []
    lines.append(f"Run {m['date']} — commit {m['commit']}.  ")
    lines.append(f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram']} RAM, Linux {m['kernel']}; "
                 f"{m['compiler']}; {m['python']}.  ")
    if info:
        lines.append(f"Corpus: `bench/data/corpus.jsonl`, {info['bytes'] / 1e9:.2f} GB, {info['docs']:,} documents "
                     f"(real English text: {info['base_emails']:,} SpamAssassin e-mails and "
                     f"{info['base_prose_docs']:,} nlp-corpus prose documents, then deterministic paragraph/sentence "
                     f"recombinations of them; see bench/make_corpus.py).  ")
    if cpy:
        lines.append(f"Prefix: first {cpy['in_bytes'] / 1e6:.0f} MB of it, {cpy['in_records']:,} documents.  ")
    lines.append("Each row: best wall time of the repetitions (the CPython row: of its repetitions), highest peak "
                 "RSS (GNU time, largest process). MB = 10^6 bytes of input JSONL; MB/s per core = MB/s ÷ np.")
    lines.append("")
    lines.append("| run | np | input | wall s | MB/s | MB/s per core | docs/s | peak RSS MiB | ratio | target | result |")
    lines.append("|---|---:|---|---:|---:|---:|---:|---:|---|---|---|")
    n_pass = n_fail = n_skip = 0
    for name in order:
        r = rows.get(name)
        if not r:
            continue
        c = checks(r)
        if not r["ok"]:
            result = "NOT RUN" if r["status"] == "not run" else f"FAIL ({r['status']})"
        elif not c:
            result = "—"
        elif any(p is False for _, p in c):
            result = "FAIL"
        elif any(p is None for _, p in c):
            result = "n/a"
        else:
            result = "PASS"
        if c:
            if result == "PASS":
                n_pass += 1
            elif result.startswith("FAIL"):
                n_fail += 1
            else:
                n_skip += 1
        target = "; ".join(("✗ " if p is False else "") + t for t, p in c) or "—"
        inp = "corpus" if r["input"].endswith("corpus.jsonl") else f"prefix {r['in_bytes'] / 1e6:.0f} MB"
        docs_s = r["in_records"] / r["secs"] if r["ok"] else None
        lines.append(
            f"| {labels.get(name, name)} | {r['np']} | {inp} | {fmt(r['secs'], '.2f')} | {fmt(r['mbps'], ',.1f')} | "
            f"{fmt(None if r['mbps'] is None else r['mbps'] / r['np'], ',.1f')} | {fmt(docs_s, ',.0f')} | "
            f"{fmt(r['rss_mb'], ',.0f')} | {ratio(r)} | {target} | {result} |")
    lines.append("")
    lines.append(f"Targets: {n_pass} PASS, {n_fail} FAIL, {n_skip} not evaluated. Partition size for the RSS "
                 f"bound: {part_mb} MB (bench/recipes/*.yaml `partition.max_size_mb`).")
    notes = []
    for name in order:
        r = rows.get(name)
        if r and r["ok"] and r["out_records"] not in ("", "-"):
            notes.append((name, int(r["out_records"])))
    if notes:
        lines.append("")
        lines.append("Output records: " + ", ".join(f"{n} {k:,}" for n, k in notes) + ".")
        fl = dict(notes)
        for a, b in (("floor", "text_length_np1"), ("floor", "text_length_np2"),
                     ("cpython", "demo_prefix_np1"), ("cpython", "demo_prefix_np2")):
            if a in fl and b in fl and fl[a] != fl[b]:
                lines.append(f"**Mismatch: {b} kept {fl[b]:,} records, {a} kept {fl[a]:,}.**")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tsv", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--docs")
    ap.add_argument("--corpus-info")
    ap.add_argument("--prefix-mb", default="100")
    ap.add_argument("--partition-mb", type=float, default=64)
    a = ap.parse_args()
    info = None
    if a.corpus_info and os.path.exists(a.corpus_info):
        with open(a.corpus_info) as f:
            info = json.load(f)
    part = a.partition_mb if a.partition_mb != int(a.partition_mb) else int(a.partition_mb)
    md = render(load(a.tsv), info, a.prefix_mb, part)
    with open(a.out, "w") as f:
        f.write("# sluice benchmark results (latest run)\n\n" + md)
    if a.docs:
        text = open(a.docs).read() if os.path.exists(a.docs) else "# Benchmarks\n"
        if BEGIN in text and END in text:
            pre, rest = text.split(BEGIN, 1)
            post = rest.split(END, 1)[1]
        else:
            pre, post = text.rstrip("\n") + "\n\n## Latest results\n\n", "\n"
        with open(a.docs, "w") as f:
            f.write(pre + BEGIN + "\n" + md + END + post)


if __name__ == "__main__":
    main()
