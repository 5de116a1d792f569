#!/usr/bin/env python3
"""ab.py — paired A/B runs of `sealm bench` for two or more builds or settings on one model.

    bench/ab.py -m MODEL [-t THREADS] [-p PROMPT] [-n GEN] [-r REPS] [--rounds N]
                [--json FILE] VARIANT VARIANT [VARIANT ...]

A VARIANT is a sealm binary, optionally followed by environment settings after commas:
`build/sealm`, `build/sealm,SEALM_SIMD=avx2`, `/tmp/sealm-old`. The first variant is the
baseline. Every round runs each variant once (`sealm bench --json`), forward on even rounds
and in reverse on odd ones, so that a slow or fast stretch of the machine lands on both sides
of each pair.

Why paired rounds and a sign test rather than one run each: on a shared host the memory
bandwidth a process gets moves from minute to minute (on the 2-core Zen 4 VM of
docs/PERFORMANCE.md, 25 to 58 GB/s read within the same half hour). Two copies of the *same*
binary, run in turn for 12 rounds, gave per-round decode ratios from 0.83 to 1.18 there, so a
difference of a few percent needs many rounds before it means anything. For each variant against the baseline
the report gives the ratio of every round (variant / baseline, from the rounds' medians),
the median ratio, how many rounds the variant won, and the exact two-sided sign-test p-value
of that count (binomial, p = 1/2, ties dropped): the chance of a split at least that lopsided
if the two variants were the same. Run an A/A pair (the same binary twice) to see the
machine's own spread before reading an A/B.

Output: a Markdown table on stdout; with --json FILE, every run's figures as well.
Needs only the Python standard library."""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys

# decode_empty_tps (decode from an empty KV cache, as llama-bench's tg) exists in sealm
# binaries from 2026-11-23 on; a metric is reported when every run of every variant has it
METRICS = ("decode_tps", "decode_empty_tps", "prefill_tps")


def parse_variant(spec):
    """'path,K=V,K2=V2' -> (label, path, {K: V, K2: V2})."""
    parts = spec.split(",")
    env = {}
    for kv in parts[1:]:
        if "=" not in kv or kv.startswith("="):
            raise ValueError(f"variant {spec!r}: expected NAME=VALUE after a comma, got {kv!r}")
        k, v = kv.split("=", 1)
        env[k] = v
    return spec, parts[0], env


def sign_test_p(wins, losses):
    """Exact two-sided sign-test p-value for `wins` against `losses` (ties already dropped)."""
    n = wins + losses
    if n == 0:
        return 1.0
    k = min(wins, losses)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def run_bench(path, env, args):
    cmd = [path, "bench", "-m", args.model, "-t", str(args.threads), "-p", str(args.prompt), "-n", str(args.gen),
           "-r", str(args.reps), "--json"]
    full_env = dict(os.environ)
    full_env.update(env)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=full_env)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {proc.returncode}): {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def compare(base, other):
    """Per-round ratios other/base, their median, wins, losses and the sign-test p-value."""
    ratios = [o / b for b, o in zip(base, other)]
    wins = sum(r > 1 for r in ratios)
    losses = sum(r < 1 for r in ratios)
    return {"ratios": ratios, "median_ratio": statistics.median(ratios), "wins": wins, "losses": losses,
            "sign_test_p": sign_test_p(wins, losses)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-m", "--model", required=True, help="GGUF file or sealed bundle")
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("-p", "--prompt", type=int, default=128, help="prompt tokens (prefill)")
    ap.add_argument("-n", "--gen", type=int, default=64, help="generated tokens (decode)")
    ap.add_argument("-r", "--reps", type=int, default=2, help="repetitions inside each run (sealm bench -r)")
    ap.add_argument("--rounds", type=int, default=10, help="rounds; each runs every variant once")
    ap.add_argument("--json", help="write every run's figures here")
    ap.add_argument("variants", nargs="+", help="sealm binary[,NAME=VALUE...]; the first is the baseline")
    args = ap.parse_args(argv)
    if len(args.variants) < 2:
        ap.error("give at least two variants (the same binary twice measures the machine's spread)")
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    try:
        variants = [parse_variant(v) for v in args.variants]
    except ValueError as e:
        ap.error(str(e))
    for _, path, _ in variants:
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            ap.error(f"{path}: not an executable file (build sealm first, or give its path)")
    if not os.path.exists(args.model):
        ap.error(f"{args.model}: no such model file")

    runs = {label: [] for label, _, _ in variants}
    for rnd in range(args.rounds):
        order = variants if rnd % 2 == 0 else variants[::-1]
        for label, path, env in order:
            try:
                runs[label].append(run_bench(path, env, args))
            except (RuntimeError, json.JSONDecodeError) as e:
                print(f"ab.py: {e}", file=sys.stderr)
                return 1
        print(f"ab.py: round {rnd + 1}/{args.rounds} done", file=sys.stderr)

    base_label = variants[0][0]
    metrics = [m for m in METRICS if all(m in r for runs_of in runs.values() for r in runs_of)]
    summary = {"model": args.model, "threads": args.threads, "prompt": args.prompt, "gen": args.gen,
               "reps": args.reps, "rounds": args.rounds, "baseline": base_label, "variants": {}}
    for label, _, _ in variants:
        entry = {"runs": runs[label]}
        for m in metrics:
            vals = [r[m]["median"] for r in runs[label]]
            entry[m] = {"per_round": vals, "median": statistics.median(vals), "min": min(vals), "max": max(vals)}
            if label != base_label:
                entry[m]["vs_baseline"] = compare(summary["variants"][base_label][m]["per_round"], vals)
        summary["variants"][label] = entry

    print(f"# A/B: {os.path.basename(args.model)}, {args.threads} threads, p = {args.prompt}, n = {args.gen}, "
          f"{args.rounds} rounds\n")
    print("| variant | metric | median tok/s (min–max) | median ratio | wins / losses | sign-test p |")
    print("|---|---|---:|---:|---:|---:|")
    for label, _, _ in variants:
        for m in metrics:
            s = summary["variants"][label][m]
            cell = f"{s['median']:.1f} ({s['min']:.1f}–{s['max']:.1f})"
            if "vs_baseline" in s:
                c = s["vs_baseline"]
                print(f"| `{label}` | {m} | {cell} | {c['median_ratio']:.3f} | {c['wins']} / {c['losses']} | "
                      f"{c['sign_test_p']:.3f} |")
            else:
                print(f"| `{label}` (baseline) | {m} | {cell} | — | — | — |")
    if args.json:
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(summary, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
