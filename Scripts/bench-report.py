#!/usr/bin/env python3
"""The benchmark's host half: summarises a results.json written by bench-guest.py.

    bench-report.py RESULTS_DIR [--docs REPO]

Prints the table (shape, command, oracle ms, ours ms, ratio, target, peak RSS) on stdout and
writes RESULTS_DIR/summary.csv, RESULTS_DIR/runs.csv and RESULTS_DIR/summary.json. With
--docs, also regenerates REPO/Docs/Benchmarks.md and REPO/Docs/benchmarks.svg; the text
between the `<!-- notes:begin -->` and `<!-- notes:end -->` markers of an existing
Benchmarks.md (the hand-written analysis) is kept.
"""

import argparse
import csv
import json
import math
import os
import statistics
import sys

NOTES_BEGIN = "<!-- notes:begin -->"
NOTES_END = "<!-- notes:end -->"
COMMAND_ORDER = ["-R", "-Ln", "-Sn", "-Z", "-C", "-Ln --json", "--apply 16", "-v"]
MEMORY_TARGET = ("16000x1", "-Sn", 2.0)   # peak RSS ours/oracle


def time_target(shape, command):
    """The issue's targets for ours/oracle wall time; None where it sets none."""
    if "x" not in shape or shape == "adds":
        if shape == "adds" and command.endswith(" x -a"):
            return 1.2
        return None
    if command in ("-Ln", "-Sn"):
        return 0.35 if shape == "16000x1" else 0.8
    if command == "-R":
        return 0.25
    if command == "--apply 16" and shape == "16000x1":
        return 0.25
    return None


def shape_size(shape):
    try:
        n, m = shape.split("x")
        return int(n), int(m)
    except ValueError:
        return None


def median(values):
    return statistics.median(values) if values else None


def summarise(doc):
    runs = doc["runs"]
    shapes = []
    for r in runs:
        if r["shape"] not in shapes:
            shapes.append(r["shape"])
    rows = []
    for shape in shapes:
        commands = []
        for r in runs:
            if r["shape"] == shape and r["binary"] in ("oracle", "ours") \
                    and not r["command"].startswith(("setup", "check")) and r["command"] not in commands:
                commands.append(r["command"])
        commands.sort(key=lambda c: COMMAND_ORDER.index(c) if c in COMMAND_ORDER else -1)
        for command in commands:
            every = {b: [r for r in runs if r["shape"] == shape and r["binary"] == b and r["command"] == command]
                     for b in ("oracle", "ours")}
            sel = {b: [r for r in every[b] if r.get("timed", True)] for b in every}
            if not sel["oracle"] or not sel["ours"]:
                continue
            row = {"shape": shape, "command": command, "runs": min(len(sel["oracle"]), len(sel["ours"]))}
            chunked = any("chunks" in r for r in sel["oracle"] + sel["ours"])
            for b in ("oracle", "ours"):
                # Chunked commands (-R, adds) are one job cut in pieces: their time is the sum.
                agg = sum if chunked else median
                row[b + "_ms"] = agg([r["wall_ms"] for r in sel[b]])
                row[b + "_min_ms"] = min(r["wall_ms"] for r in sel[b])
                row[b + "_user_ms"] = agg([r["user_ms"] for r in sel[b]])
                row[b + "_sys_ms"] = agg([r["sys_ms"] for r in sel[b]])
                rss = [r["maxrss_kb"] for r in every[b] if r.get("maxrss_kb")]
                row[b + "_maxrss_kb"] = max(rss) if rss else None
                row[b + "_failed"] = sum(1 for r in every[b] if r["status"] != 0)
            row["ratio"] = row["ours_ms"] / row["oracle_ms"] if row["oracle_ms"] else None
            if chunked:
                # The median of the ratios of the pieces run side by side (same piece, same moment).
                by_chunk = {b: {r.get("chunk"): r["wall_ms"] for r in sel[b]} for b in sel}
                pairs = [by_chunk["ours"][c] / by_chunk["oracle"][c] for c in by_chunk["oracle"]
                         if c in by_chunk["ours"] and by_chunk["oracle"][c]]
                row["robust_ratio"] = median(pairs)
                row["chunked"] = True
            else:
                row["robust_ratio"] = row["ours_min_ms"] / row["oracle_min_ms"] if row["oracle_min_ms"] else None
            row["rss_ratio"] = (row["ours_maxrss_kb"] / row["oracle_maxrss_kb"]
                                if row["ours_maxrss_kb"] and row["oracle_maxrss_kb"] else None)
            row["target"] = time_target(shape, command)
            row["meets"] = None if row["target"] is None or row["ratio"] is None else row["ratio"] <= row["target"]
            if (shape, command) == MEMORY_TARGET[:2]:
                row["rss_target"] = MEMORY_TARGET[2]
                row["rss_meets"] = row["rss_ratio"] is not None and row["rss_ratio"] <= MEMORY_TARGET[2]
            if command.endswith(" x -a"):
                n = (sum(r.get("processes") or 0 for r in sel["ours"]) if chunked
                     else sel["ours"][0].get("processes")) or 1
                row["per_process_oracle_ms"] = row["oracle_ms"] / n
                row["per_process_ours_ms"] = row["ours_ms"] / n
            size = shape_size(shape)
            if size:
                row["services"], row["per_service"] = size
                row["entries"] = size[0] * (1 + size[1])
            rows.append(row)
    # The JSON listing must stay within 10 % of the text listing's ratio. The oracle runs the
    # same `-Ln` in both rows, so both ratios are taken against the median of all its timed
    # runs of the two rows: a slow oracle sample in one row (±15 % with 2 rounds) must not decide
    # (the row's own ratio is still printed). `--apply` with no change is compared with ours'
    # own listing of the same table (it reads the table as -Ln does).
    for row in rows:
        listing = next((r for r in rows if r["shape"] == row["shape"] and r["command"] == "-Ln"), None)
        if row["command"] == "-Ln --json" and listing and listing["ratio"] and row["ours_ms"]:
            pooled = [r["wall_ms"] for r in runs if r["shape"] == row["shape"] and r["binary"] == "oracle"
                      and r["command"] in ("-Ln", "-Ln --json") and r["timed"] and r.get("status") == 0]
            oracle = median(pooled) if pooled else listing["oracle_ms"]
            row["pooled_ratio"] = row["ours_ms"] / oracle
            row["target"] = round(listing["ours_ms"] / oracle * 1.10, 3)
            row["meets"] = row["pooled_ratio"] <= row["target"]
        if row["command"] == "--apply 16" and listing:
            none = [r["wall_ms"] for r in runs if r["shape"] == row["shape"] and r["binary"] == "ours"
                    and r["command"] == "--apply 0" and r["timed"]]
            if none and listing["ours_ms"]:
                row["apply0_ms"] = median(none)
                row["apply0_vs_listing"] = row["apply0_ms"] / listing["ours_ms"]
    return rows


def fmt_ms(v):
    if v is None:
        return "-"
    return "%.0f" % v if v >= 100 else "%.1f" % v


def verdict(row):
    parts = []
    if row.get("target") is not None:
        judged = row.get("pooled_ratio", row["ratio"])
        parts.append("%s ≤%.2f" % ("ok" if row["meets"] else "MISS", row["target"]))
        if "pooled_ratio" in row:
            parts[-1] += " (pooled %.3f)" % judged
        elif "%.2f" % judged == "%.2f" % row["target"]:
            parts[-1] += " (%.3f)" % judged
    if row.get("rss_target") is not None:
        parts.append("mem %s ≤%.0f×" % ("ok" if row["rss_meets"] else "MISS", row["rss_target"]))
    if row["oracle_failed"] or row["ours_failed"]:
        parts.append("FAILED RUNS %d/%d" % (row["oracle_failed"], row["ours_failed"]))
    return ", ".join(parts)


TABLE_HEAD = ["shape", "command", "oracle ms", "ours ms", "ratio", "target", "robust ratio",
              "peak RSS MB oracle/ours", "oracle user/sys ms", "ours user/sys ms", "n"]
RIGHT = {2, 3, 4, 6, 10}


def fmt_rss(kb):
    return "-" if not kb else "%.1f" % (kb / 1024)


def table_cells(row):
    return [row["shape"], row["command"], fmt_ms(row["oracle_ms"]), fmt_ms(row["ours_ms"]),
            "%.2f" % row["ratio"] if row["ratio"] is not None else "-", verdict(row),
            "%.2f" % row["robust_ratio"] if row.get("robust_ratio") is not None else "-",
            "%s / %s" % (fmt_rss(row["oracle_maxrss_kb"]), fmt_rss(row["ours_maxrss_kb"])),
            "%s / %s" % (fmt_ms(row["oracle_user_ms"]), fmt_ms(row["oracle_sys_ms"])),
            "%s / %s" % (fmt_ms(row["ours_user_ms"]), fmt_ms(row["ours_sys_ms"])),
            str(row["runs"])]


def text_table(rows):
    cells = [TABLE_HEAD] + [table_cells(r) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(TABLE_HEAD))]
    right = RIGHT
    out = []
    for k, c in enumerate(cells):
        out.append("  ".join(v.rjust(widths[i]) if i in right else v.ljust(widths[i]) for i, v in enumerate(c)).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def md_table(rows):
    out = ["| " + " | ".join(TABLE_HEAD) + " |",
           "|" + "|".join("---:" if i in RIGHT else "---" for i in range(len(TABLE_HEAD))) + "|"]
    for r in rows:
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in table_cells(r)) + " |")
    return "\n".join(out)


def floor_runs(doc):
    """The successful runs of ipvsadm-floor. Results from before it was the only floor keep it
    under "process" of an entry of the in-process floor (no longer reported), which holds the
    table's counts."""
    out = []
    for f in doc.get("floors", []):
        if "requests" in f:
            if "process" not in f:
                continue
            f = dict(f["process"], shape=f["shape"], services=f.get("services"), dests=f.get("dests"))
        if f.get("status", 0) == 0:
            out.append(f)
    return out


def floors_by_shape(doc):
    """The fastest floor run of each shape."""
    best = {}
    for f in floor_runs(doc):
        if f["shape"] not in best or f["wall_ms"] < best[f["shape"]]["wall_ms"]:
            best[f["shape"]] = f
    return best


def floor_rows(doc, rows):
    out = []
    for shape, f in floors_by_shape(doc).items():
        ln = next((r for r in rows if r["shape"] == shape and r["command"] == "-Ln"), None)
        out.append((f, ln))
    return out


def fmt_count(v):
    return "-" if v is None else str(v)


def fmt_ratio(a, b):
    return "%.2f" % (a / b) if a is not None and b else "-"


def baseline_ms(doc):
    v = [r["wall_ms"] for r in doc["runs"] if r["binary"] == "baseline" and r.get("timed", True)]
    return (median(v), min(v)) if v else (None, None)


def md_floor(doc, rows):
    lines = ["| shape | services | real servers | ipvsadm-floor ms (sys) | ours -Ln ms (sys) "
             "| oracle -Ln ms (sys) | ours / ipvsadm-floor | ipvsadm-floor / oracle |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for f, ln in floor_rows(doc, rows):
        lines.append("| %s | %s | %s | %s (%s) | %s | %s | %s | %s |" % (
            f["shape"], fmt_count(f.get("services")), fmt_count(f.get("dests")),
            fmt_ms(f["wall_ms"]), fmt_ms(f["sys_ms"]),
            "%s (%s)" % (fmt_ms(ln["ours_ms"]), fmt_ms(ln["ours_sys_ms"])) if ln else "-",
            "%s (%s)" % (fmt_ms(ln["oracle_ms"]), fmt_ms(ln["oracle_sys_ms"])) if ln else "-",
            fmt_ratio(ln["ours_ms"], f["wall_ms"]) if ln else "-",
            fmt_ratio(f["wall_ms"], ln["oracle_ms"]) if ln else "-"))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# SVG chart: time against table size, ours beside the oracle, one panel per command

def nice_log_ticks(lo, hi):
    ticks = []
    e = math.floor(math.log10(lo))
    while 10 ** e <= hi * 1.0001:
        for m in (1, 2, 5):
            v = m * 10 ** e
            if lo <= v <= hi:
                ticks.append(v)
        e += 1
    return ticks


def svg_chart(doc, rows, commands=("-R", "-Ln", "-Sn")):
    panel_w, panel_h = 300, 260
    left, top, bottom, gap = 58, 46, 70, 70
    width = left + len(commands) * (panel_w + gap) + 10
    height = top + panel_h + bottom + 26
    colors = {"oracle": "#4e79a7", "ours": "#e15759", "floor": "#59a14f"}
    table_rows = [r for r in rows if r.get("entries")]
    floors = floors_by_shape(doc)
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
           'font-family="sans-serif" font-size="11">' % (width, height, width, height),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="18" font-size="14" font-weight="bold">ipvsadm: ours vs the oracle '
           '(wall time per command, log-log; VM under software emulation)</text>' % left]
    entries = sorted({r["entries"] for r in table_rows})
    if not entries:
        out.append("</svg>")
        return "\n".join(out)
    xlo, xhi = entries[0] / 1.25, entries[-1] * 1.25

    def esc(s):
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    for p, command in enumerate(commands):
        x0 = left + p * (panel_w + gap)
        y0 = top
        rs = sorted((r for r in table_rows if r["command"] == command), key=lambda r: r["entries"])
        series = {"oracle": [(r["entries"], r["oracle_ms"]) for r in rs],
                  "ours": [(r["entries"], r["ours_ms"]) for r in rs]}
        if command == "-Ln" and floors:
            series["floor"] = [(r["entries"], floors[r["shape"]]["wall_ms"]) for r in rs if r["shape"] in floors]
        values = [v for s in series.values() for _, v in s if v and v > 0]
        if not values:
            continue
        steps = [m * 10 ** e for e in range(-1, 8) for m in (1, 2, 5)]
        ylo = max(t for t in steps if t <= min(values) / 1.08)
        yhi = min(t for t in steps if t >= max(values) * 1.08)
        if yhi / ylo < 10:
            yhi = min(t for t in steps if t >= ylo * 10)

        def X(v):
            return x0 + (math.log10(v) - math.log10(xlo)) / (math.log10(xhi) - math.log10(xlo)) * panel_w

        def Y(v):
            return y0 + panel_h - (math.log10(v) - math.log10(ylo)) / (math.log10(yhi) - math.log10(ylo)) * panel_h

        out.append('<text x="%.1f" y="%d" font-size="13" font-weight="bold" text-anchor="middle">ipvsadm %s</text>'
                   % (x0 + panel_w / 2, y0 - 10, esc(command)))
        out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#888"/>' % (x0, y0, panel_w, panel_h))
        for t in nice_log_ticks(ylo, yhi):
            y = Y(t)
            out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>' % (x0, y, x0 + panel_w, y))
            label = ("%g s" % (t / 1000)) if t >= 1000 else ("%g ms" % t)
            out.append('<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>' % (x0 - 4, y, label))
        for r in rs:
            x = X(r["entries"])
            out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#eee"/>' % (x, y0, x, y0 + panel_h))
            out.append('<text transform="translate(%.1f,%d) rotate(40)" font-size="10">%s (%d)</text>'
                       % (x - 3, y0 + panel_h + 10, r["shape"].replace("x", "×"), r["entries"]))
        for name, pts in series.items():
            pts = [(x, v) for x, v in pts if v and v > 0]
            if not pts:
                continue
            dash = ' stroke-dasharray="4 3"' if name == "floor" else ""
            out.append('<polyline fill="none" stroke="%s" stroke-width="1.5"%s points="%s"/>'
                       % (colors[name], dash, " ".join("%.1f,%.1f" % (X(x), Y(v)) for x, v in pts)))
            for x, v in pts:
                if name == "ours":
                    out.append('<rect x="%.1f" y="%.1f" width="7" height="7" fill="%s"/>' % (X(x) - 3.5, Y(v) - 3.5, colors[name]))
                else:
                    out.append('<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"/>' % (X(x), Y(v), colors[name]))
        if p == 0:
            out.append('<text transform="translate(14,%d) rotate(-90)" text-anchor="middle">wall time (median; -R: sum of its pieces)</text>'
                       % (y0 + panel_h / 2))
    # legend
    ly = top + panel_h + bottom + 8
    lx = left
    for name, label in (("oracle", "oracle: /sbin/ipvsadm 1.31"), ("ours", "ours"),
                        ("floor", "floor: ipvsadm-floor, the -Ln requests back to back, no output")):
        if name == "floor" and not floors:
            continue
        out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/>'
                   % (lx, ly, lx + 22, ly, colors[name], ' stroke-dasharray="4 3"' if name == "floor" else ""))
        out.append('<text x="%d" y="%d" dominant-baseline="middle">%s</text>' % (lx + 27, ly, esc(label)))
        lx += 40 + 7 * len(label)
    out.append('<text x="%d" y="%d" fill="#555">x: table size, services + real servers (shape services×real servers per service)</text>'
               % (left, ly + 16))
    out.append("</svg>")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------
# Markdown

DEFAULT_NOTES = """## Where the time goes

(Hand-written analysis; kept across regenerations.)
"""


def host_meta(results_dir):
    try:
        with open(os.path.join(results_dir, "host.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def markdown(doc, rows, host, notes):
    meta = doc["meta"]
    checks = doc.get("checks", [])
    bad = [c for c in checks if not c["ok"]]
    lines = ["# Benchmarks", "",
             "Generated by `Scripts/bench` from its latest full run (`Scripts/bench-report.py` writes this file;",
             "only the section between the notes markers is hand-written). Re-run: `Scripts/bench`",
             "(12 minutes on a quiet host, 20 to 30 under load), or `Scripts/bench --quick` for a smoke test (3 minutes).", "",
             "## The run", "",
             "- Date: %s (guest clock, UTC)" % meta.get("started", "?"),
             "- Kernel: Linux %s (Debian), booted by virtme-ng under qemu **software emulation** (TCG, %s vCPUs)"
             % (meta.get("kernel", "?"), meta.get("guest_cpus", "?")),
             "- Oracle: `%s` (%d bytes); ours: `%s` (%d bytes, sha256 %s…, built %s; the repository was at %s"
             " when the benchmark ran)" % (
                 meta["oracle"]["path"], meta["oracle"]["bytes"], host.get("ours_source", meta["ours"]["path"]),
                 meta["ours"]["bytes"], meta["ours"]["sha256"][:12], host.get("ours_built", "?"),
                 host.get("git", "?")),
             "- Host: %s CPUs; load average before %s, after %s; other qemu VMs running at the start: %s"
             % (host.get("nproc", "?"), host.get("load_before", "?"), host.get("load_after", "?"),
                host.get("other_vms_before", "?")),
             "- Guest load average at start %s, at end %s; guest time %s s" % (
                 " ".join(meta.get("guest_loadavg_start", [])), " ".join(meta.get("guest_loadavg_end", [])),
                 meta.get("guest_elapsed_s", "?")),
             "- Runs: `-R` once per shape and binary, in up to %s pieces of at least %s lines; `-C` once; `-Ln`/`-Sn`/`-Z`: a warm-up round,"
             " then %s timed rounds up to 500 services, %s up to %s services, %s beyond (where 1 means the"
             " warm-up is the measurement); `adds`: %s processes per binary, in %s scripts"
             % (meta.get("r_chunks", 1), meta.get("r_chunk_lines", "?"), meta.get("repeat"), meta.get("mid_repeat"), meta.get("mid_services"),
                meta.get("large_repeat"), meta.get("adds"), meta.get("adds_chunks", 1)),
             "",
             "**Load caveat.** The machine is shared and emulated: absolute times are tens of times native and",
             "move with the other VMs' load. Only the ratio ours/oracle, measured in the same boot, means something,",
             "and even the ratios of the short commands (under a second each) move by ±30 % or more from run to run",
             "on a loaded host, the long ones (`-R`, `adds`, listings of thousands of services) by about ±10 %.",
             "The load also biases them: other VMs slow the oracle (many more syscalls) more than ours, so a loaded",
             "host flatters ours; trust a run with no other VM (\"other qemu VMs running at the start: 0\").", ""]
    if doc.get("skipped"):
        lines += ["Skipped (deadline): %s" % ", ".join(doc["skipped"]), ""]
    lines += ["## Results", "",
              "Wall time is measured from spawning the process to reaping it. `-Ln`, `-Sn`, `-Z`: the median",
              "over n timed runs, oracle and ours interleaved on the same table; their *robust ratio* compares",
              "the fastest runs (noise from other VMs only ever adds time). `-R` and `adds` are cut into n pieces",
              "(whole services; groups of processes) that oracle and ours run in turns, each binary in its own",
              "namespace: their time is the sum of the pieces, their robust ratio the median of the pieces'",
              "ratios. The first round of each listing is a warm-up that also records the peak RSS",
              "(`%s`) and the outputs for the check; it is timed only where it is the only round."
              % meta.get("rss_method", "?"),
              "user/sys: the process's CPU times (`wait4`; for pieces, summed); sys is the kernel's work in its",
              "context (the netlink requests and the dumps they trigger).",
              "`adds`: `/bin/sh -e` scripts of separate `ipvsadm -a` lines; `startup`: the empty",
              "table (`-v`: the oracle opens its netlink socket first, ours does not).", "",
              md_table(rows), ""]
    base, base_min = baseline_ms(doc)
    if base is not None:
        lines += ["Starting any process (`/bin/true`) costs %.0f ms here (median; fastest %.0f ms)." % (base, base_min), ""]
    adds = [r for r in rows if r["command"].endswith(" x -a")]
    for r in adds:
        lines += ["Per `-a` process: oracle %.1f ms, ours %.1f ms." % (r["per_process_oracle_ms"], r["per_process_ours_ms"]), ""]
    targets = [r for r in rows if r.get("target") is not None or r.get("rss_target") is not None]
    met = sum(1 for r in targets if r.get("meets") is not False and r.get("rss_meets") is not False)
    apply0 = [r for r in rows if r.get("apply0_vs_listing") is not None]
    if apply0:
        lines += ["`--apply 16`: ours `--apply` of the table's file with 16 real servers' weights changed, "
                  "against the oracle's `-C` then `-R` of the same file (how a reload is done with ipvsadm). "
                  "`-Ln --json`: ours' JSON listing against the oracle's text listing; its target is judged with both ours' listings against the median of all the oracle's `-Ln` runs of the two rows (\"pooled\"). "
                  "`--apply` of the unchanged file (nothing to do) against ours' own `-Ln` of the same table: "
                  + ", ".join("%s %.2f" % (r["shape"], r["apply0_vs_listing"]) for r in apply0) + ".", ""]
    lines += ["Targets (from the issues): `-Ln`/`-Sn` at 16000×1 ≤ 0.35, other shapes ≤ 0.8; `-R` ≤ 0.25 on every",
              "shape; `--apply 16` at 16000×1 ≤ 0.25; `-Ln --json` within 10 % of the shape's `-Ln` ratio;",
              "200 separate `-a` processes ≤ 1.2; peak memory of `-Sn` at 16000×1 ≤ 2× the oracle's.",
              "**Targets met: %d of %d rows.**" % (met, len(targets)), "",
              "Output check: the first `-Sn` and `-Ln` of each shape, oracle vs ours, compared byte for byte: "
              + ("%d compared, all identical." % len(checks) if not bad else
                 "%d compared, **%d mismatches**: %s." % (len(checks), len(bad),
                                                        ", ".join("%s %s" % (c["shape"], c.get("command", "")) for c in bad))),
              "", "![time against table size](benchmarks.svg)", ""]
    if floor_runs(doc):
        lines += ["## The floor", "",
                  "What the requests `-Ln` makes cost by themselves (resolve the family, `GET_INFO`, dump the",
                  "services, then one `GET_DEST` dump per service): `ipvsadm-floor` (`Sources/ipvsadm-floor`, built",
                  "by `Scripts/build --floor`) makes them back to back in a process of its own, through our netlink",
                  "layer (one socket, one-page reads), with no decoding of real servers, no sorting and no output",
                  "(it dumps the services once more, for the count it prints). Its time is the fastest of its runs,",
                  "one per timed round of the listings, on the same table. `ours / ipvsadm-floor` is what decoding,",
                  "sorting and printing add to the requests; `ipvsadm-floor / oracle` is the best ratio reachable",
                  "with one request per service. The same program counts the tables for the checks.", "",
                  md_floor(doc, rows), ""]
    lines += [NOTES_BEGIN, notes.strip("\n"), NOTES_END, ""]
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results_dir")
    p.add_argument("--docs", metavar="REPO")
    args = p.parse_args()
    with open(os.path.join(args.results_dir, "results.json")) as f:
        doc = json.load(f)
    rows = summarise(doc)
    host = host_meta(args.results_dir)

    with open(os.path.join(args.results_dir, "summary.json"), "w") as f:
        json.dump({"meta": doc["meta"], "host": host, "rows": rows, "floors": floor_runs(doc),
                   "checks": doc.get("checks", [])}, f, indent=1)
    keys = ["shape", "command", "runs", "oracle_ms", "ours_ms", "ratio", "target", "meets",
            "oracle_maxrss_kb", "ours_maxrss_kb", "rss_ratio", "oracle_user_ms", "oracle_sys_ms",
            "ours_user_ms", "ours_sys_ms", "robust_ratio", "oracle_min_ms", "ours_min_ms"]
    with open(os.path.join(args.results_dir, "summary.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r)
    run_keys = ["shape", "binary", "command", "run", "wall_ms", "user_ms", "sys_ms", "maxrss_kb", "status"]
    with open(os.path.join(args.results_dir, "runs.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=run_keys, extrasaction="ignore")
        w.writeheader()
        for r in doc["runs"]:
            w.writerow(r)

    meta = doc["meta"]
    print("ipvsadm benchmark: kernel %s, guest load %s -> %s, host load %s -> %s"
          % (meta.get("kernel"), " ".join(meta.get("guest_loadavg_start", [])),
             " ".join(meta.get("guest_loadavg_end", [])), host.get("load_before", "?"), host.get("load_after", "?")))
    print(text_table(rows))
    base, base_min = baseline_ms(doc)
    if base is not None:
        print("/bin/true: %.1f ms (median), %.1f ms (fastest): the cost of starting any process" % (base, base_min))
    for r in rows:
        if r["command"].endswith(" x -a"):
            print("per -a process: oracle %.1f ms, ours %.1f ms" % (r["per_process_oracle_ms"], r["per_process_ours_ms"]))
    for f, ln in floor_rows(doc, rows):
        print("floor %-8s ipvsadm-floor %s ms wall, %s ms sys  (ours -Ln %s ms, sys %s; oracle %s ms, sys %s)"
              % (f["shape"], fmt_ms(f["wall_ms"]), fmt_ms(f["sys_ms"]),
                 fmt_ms(ln["ours_ms"]) if ln else "-", fmt_ms(ln["ours_sys_ms"]) if ln else "-",
                 fmt_ms(ln["oracle_ms"]) if ln else "-", fmt_ms(ln["oracle_sys_ms"]) if ln else "-"))
    checks = doc.get("checks", [])
    bad = [c for c in checks if not c["ok"]]
    print("output checks: %d, mismatches: %d%s" % (len(checks), len(bad),
          "".join("\n  MISMATCH %s %s %s" % (c["shape"], c.get("command", ""), c.get("what", "")) for c in bad)))
    if doc.get("skipped"):
        print("skipped (deadline): %s" % " ".join(doc["skipped"]))

    if args.docs:
        md_path = os.path.join(args.docs, "Docs", "Benchmarks.md")
        notes = DEFAULT_NOTES
        try:
            with open(md_path) as f:
                old = f.read()
            if NOTES_BEGIN in old and NOTES_END in old:
                notes = old.split(NOTES_BEGIN, 1)[1].split(NOTES_END, 1)[0]
        except OSError:
            pass
        with open(md_path + ".tmp", "w") as f:
            f.write(markdown(doc, rows, host, notes))
        os.replace(md_path + ".tmp", md_path)
        with open(os.path.join(args.docs, "Docs", "benchmarks.svg"), "w") as f:
            f.write(svg_chart(doc, rows))
        print("wrote Docs/Benchmarks.md and Docs/benchmarks.svg", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
