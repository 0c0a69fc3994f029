"""Render the benchmark report (a dict built by bench/run.py) as Markdown."""

from __future__ import annotations


def _num(x: float, digits: int = 0) -> str:
    return f"{x:,.{digits}f}"


def _load(row: dict, noisy: float) -> str:
    load = row.get("foreign_load_max", 0.0)
    return f"{load:.2f}{' !' if load > noisy else ''}"


def render_markdown(report: dict) -> str:
    noisy = report.get("noisy_threshold_cores", 0.2)
    m = report["machine"]
    v = m["versions"]
    lines = [
        "# Training speed: deepfuse `fit` vs a hand-written PyTorch loop"
        + (" (QUICK smoke run: numbers are meaningless)" if report["quick"] else "")
        + (
            ""
            if report.get("complete", True)
            else " (PARTIAL: the run is unfinished or was stopped)"
        ),
        "",
        f"- date: {report['started_utc']} → {report['finished_utc']} (UTC)",
        f"- machine: {m['cpu']}, {m['cores_usable']} usable cores ({m['cores']} online), "
        f"{m['memory_gb']} GiB RAM, {m['os']}",
        f"- torch {v['torch']} ({m['torch_threads']} threads, flush_denormal on), "
        f"python {v['python']}, numpy {v['numpy']}, keras {v['keras']}, lightning {v['lightning']}",
        f"- load average before the run: {', '.join(f'{x:.2f}' for x in m['loadavg_before'])}",
        f"- command: `{report['command']}`",
        f"- each cell in a fresh process, one at a time; {report['repeats']} alternating "
        "repetitions; median shown; warm-up excluded (see bench/README.md)",
        "",
        "| workload | framework | samples/s | vs torch | each run | timed samples | peak RSS MB "
        "| loss | acc | other load | status |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in report["summary"]:
        if "samples_per_s" in r:
            ratio = r.get("ratio_vs_torch")
            lines.append(
                f"| {r['workload']} | {r['framework']} | {_num(r['samples_per_s'])} "
                f"| {f'{ratio:.2f}x' if ratio else '-'} "
                f"| {' / '.join(_num(x) for x in r['samples_per_s_each'])} "
                f"| {_num(r['samples'])} | {_num(r['peak_rss_mb'])} "
                f"| {r['loss']:.3f} | {r['accuracy']:.3f} | {_load(r, noisy)} | {r['status']} |"
            )
        else:
            detail = r.get("detail", "").replace("|", "\\|")
            log = f" (log: `{r['log']}`)" if "log" in r else ""
            lines.append(
                f"| {r['workload']} | {r['framework']} | - | - | - | - | - | - | - | - "
                f"| {r['status']}: {detail}{log} |"
            )
    lines += [
        "",
        "*other load*: the most CPU (in cores) that other processes used while one of the row's "
        f"cells ran; above {noisy} (marked !) that row's timing is suspect: rerun on an idle "
        "machine. *loss*/*acc*: the last timed epoch as each framework reports it (Lightning: the "
        "last logged step), a check that every cell really trains.",
    ]
    lines += ["", "Workloads:", ""]
    for name, w in report["workloads"].items():
        lines.append(
            f"- **{name}**: {w['description']}; batch {w['batch_size']}; timed "
            f"{w['epochs']} epoch(s) x {_num(w['n_train'])} samples after a "
            f"{w['warmup_batches']}-batch warm-up"
        )
    lines.append("")
    return "\n".join(lines)
