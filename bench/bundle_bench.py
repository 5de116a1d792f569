#!/usr/bin/env python3
"""Sealed-bundle costs, measured with the `sealm` CLI: seal, verify and load throughput (MB/s),
the extra time a sealed load takes over the plain GGUF, and peak RSS (the child's ru_maxrss
from wait4, so each number is one process's own peak).

usage: bench/bundle_bench.py [--sealm BIN] [--reps N] [--threads N] [--md OUT.md] [--json OUT.json] MODEL.gguf ...

For each model, in a temporary folder: a publisher key, a device key, a trust store; then
  seal      `sealm seal` of the GGUF to the device              MB/s of plaintext
  verify    `sealm verify` (signatures, manifest, ciphertext hash) MB/s of bundle bytes
  deep      `sealm verify --deep` (also decrypts, checks the plaintext hash)
  open      `sealm info` on the plain GGUF and on the bundle: open + (for the bundle) verify,
            decrypt into locked memory, hash, parse
  first     `sealm generate -n 1` on both: open + prefill of a short prompt + one token
Every step runs once to warm the page cache, then --reps times; the median is reported.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def measure(cmd, cwd):
    """Runs cmd; returns (wall seconds, peak RSS bytes of that process). Fails loudly."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bundle_bench: {' '.join(map(str, cmd))} failed:\n{err}")
    return wall, usage.ru_maxrss * 1024


def median_run(cmd, cwd, reps):
    measure(cmd, cwd)  # warm the page cache
    runs = [measure(cmd, cwd) for _ in range(reps)]
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs)


def bench_model(sealm, model, reps, threads):
    size = os.path.getsize(model)
    with tempfile.TemporaryDirectory(prefix="sealm-bundle-bench.") as d:
        run = lambda *a: subprocess.run([sealm, *map(str, a)], cwd=d, check=True, capture_output=True)
        run("keygen", "--publisher", "-o", "pub")
        run("keygen", "--device", "-o", "dev")
        run("trust", "--store", "trust.txt", "add", "pub.pub")
        seal = [sealm, "seal", "-m", model, "-o", "m.sealed", "--publisher-key", "pub.key",
                "--recipient", "dev.pub", "--name", "bench", "--version", "1"]
        seal_s, seal_rss = median_run(seal, d, reps)
        bundle_size = os.path.getsize(os.path.join(d, "m.sealed"))
        dev = ["--device-key", "dev.key", "--trust", "trust.txt", "--state", "state.bin"]
        verify_s, _ = median_run([sealm, "verify", "-m", "m.sealed", "--trust", "trust.txt"], d, reps)
        deep_s, deep_rss = median_run([sealm, "verify", "-m", "m.sealed", "--deep", *dev], d, reps)
        open_plain_s, open_plain_rss = median_run([sealm, "info", "-m", model], d, reps)
        open_sealed_s, open_sealed_rss = median_run([sealm, "info", "-m", "m.sealed", *dev], d, reps)
        gen = ["-p", "Hello", "-n", "1", "--temp", "0", "-t", str(threads)]
        first_plain_s, first_plain_rss = median_run([sealm, "generate", "-m", model, *gen], d, reps)
        first_sealed_s, first_sealed_rss = median_run([sealm, "generate", "-m", "m.sealed", *dev, *gen], d, reps)
    mb = 1e6
    return {
        "model": os.path.basename(model), "model_bytes": size, "bundle_bytes": bundle_size,
        "seal_s": seal_s, "seal_MBps": size / mb / seal_s, "seal_peak_rss_bytes": seal_rss,
        "verify_s": verify_s, "verify_MBps": bundle_size / mb / verify_s,
        "verify_deep_s": deep_s, "verify_deep_MBps": bundle_size / mb / deep_s, "verify_deep_peak_rss_bytes": deep_rss,
        "open_plain_s": open_plain_s, "open_sealed_s": open_sealed_s,
        "open_sealed_MBps": size / mb / open_sealed_s,
        "open_plain_peak_rss_bytes": open_plain_rss, "open_sealed_peak_rss_bytes": open_sealed_rss,
        "first_token_plain_s": first_plain_s, "first_token_sealed_s": first_sealed_s,
        "first_token_extra_pct": 100.0 * (first_sealed_s - first_plain_s) / first_plain_s,
        "first_token_plain_peak_rss_bytes": first_plain_rss, "first_token_sealed_peak_rss_bytes": first_sealed_rss,
    }


def markdown(rows, machine):
    mib = lambda b: f"{b / 2**20:.0f}"
    out = [f"Machine: {machine}", "",
           "| model | size MiB | seal MB/s | verify MB/s | verify --deep MB/s | sealed open s (MB/s) | plain open s "
           "| first token plain s | first token sealed s | extra | peak RSS sealed open MiB | peak RSS plain first token MiB |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r['model']} | {mib(r['model_bytes'])} | {r['seal_MBps']:.0f} | {r['verify_MBps']:.0f} | "
                   f"{r['verify_deep_MBps']:.0f} | {r['open_sealed_s']:.3f} ({r['open_sealed_MBps']:.0f}) | "
                   f"{r['open_plain_s']:.3f} | {r['first_token_plain_s']:.3f} | {r['first_token_sealed_s']:.3f} | "
                   f"{r['first_token_extra_pct']:+.0f}% | {mib(r['open_sealed_peak_rss_bytes'])} | "
                   f"{mib(r['first_token_plain_peak_rss_bytes'])} |")
    return "\n".join(out) + "\n"


def machine_line():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{model}, {os.cpu_count()} CPUs, {mem:.0f} GiB RAM"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--sealm", default=os.environ.get("SEALM_BIN", "build/sealm"))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--md")
    ap.add_argument("--json")
    a = ap.parse_args()
    sealm = os.path.abspath(a.sealm)
    rows = [bench_model(sealm, os.path.abspath(m), a.reps, a.threads) for m in a.models]
    text = markdown(rows, machine_line())
    print(text)
    if a.md:
        with open(a.md, "w") as f:
            f.write(text)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"machine": machine_line(), "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
