#!/usr/bin/env bash
# sealm vs llama.cpp, side by side in one run, on the model set of issue 5: the same GGUF
# files, the same thread count, the same prompt and generation lengths.
#
#   bench/compare.sh LLAMA_CPP_BUILD_DIR [--threads N] [--out DIR] [--sealm BIN] [--cache DIR]
#                    [-p PROMPT_TOKENS] [-n GEN_TOKENS] [-r REPS] [--rounds N] [--only NAME[,NAME...]]
#
# Each model is measured in ROUNDS rounds (default 3), each a sealm bench of REPS repetitions
# then a llama-bench of REPS repetitions, so that the two programs of one round ran within
# seconds of each other; the table gives the median over rounds of each figure, and each
# ratio as the median of the rounds' ratios with their range (a neighbour's burst on the
# shared host hits one round, not the whole comparison).
#
# LLAMA_CPP_BUILD_DIR: a llama.cpp build made by whoever runs this (llama-bench, and for the
# cold-start column llama-simple, in it or in its bin/). This script never builds or
# downloads llama.cpp, and nothing of it belongs in this repository.
# Models: SmolLM2-135M-Instruct Q4_1 (models/), stories260K (../shared/models), and random-
# weight models of the SmolLM2-135M shape (Q8_0, Q4_0) and TinyLlama-1.1B shape (Q4_K_M,
# Q8_0) that `sealm synth` writes into the cache folder when they are missing.
# Decode is compared as llama-bench's tg test runs it, GEN tokens from an empty KV cache
# (sealm bench's decode_empty_tps); sealm's decode after the PROMPT-token prompt is shown
# beside it with its own ratio.
# Writes DIR/compare.json (every raw measurement plus the machine) and DIR/compare.md (the
# table, as kept in docs/PERFORMANCE.md). Default DIR: bench/results/compare.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"

usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; }
[ $# -ge 1 ] || { usage >&2; exit 2; }
case "$1" in -h|--help) usage; exit 0 ;; esac
llama_dir="$1"; shift
threads="$(nproc)"
out="$root/bench/results/compare"
sealm="$root/build/sealm"
cache="${SEALM_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sealm-bench}"
prompt=128 gen=64 reps=3 rounds=3 only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --sealm) sealm="$2"; shift 2 ;;
    --cache) cache="$2"; shift 2 ;;
    -p) prompt="$2"; shift 2 ;;
    -n) gen="$2"; shift 2 ;;
    -r) reps="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    *) echo "compare.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

# every count must be a whole number from 1: both programs need something to time
for pair in "--threads:$threads" "-p:$prompt" "-n:$gen" "-r:$reps" "--rounds:$rounds"; do
  opt="${pair%%:*}" val="${pair#*:}"
  if ! [[ "$val" =~ ^[1-9][0-9]{0,5}$ ]]; then
    echo "compare.sh: $opt must be a whole number from 1 to 999999, not '$val'" >&2
    exit 2
  fi
done

find_tool() {   # a llama.cpp executable in the build folder or its bin/
  for p in "$llama_dir/bin/$1" "$llama_dir/$1"; do [ -x "$p" ] && { echo "$p"; return 0; }; done
  return 1
}
llama_bench="$(find_tool llama-bench)" || { echo "compare.sh: no llama-bench in $llama_dir or $llama_dir/bin" >&2; exit 1; }
llama_simple="$(find_tool llama-simple || true)"
[ -x "$sealm" ] || { echo "compare.sh: no sealm binary at $sealm (build it, or pass --sealm)" >&2; exit 1; }

shared="${SEALM_SHARED_DIR:-$root/../shared}"
models_dir="${SEALM_MODELS_DIR:-$root/models}"
smollm2="$models_dir/SmolLM2-135M-Instruct.Q4_1.gguf"
stories="$shared/models/stories260K.gguf"
llama_tok="$shared/models/synth/synth-llama-q8_0.gguf"   # the Llama-2 tokenizer (32000 tokens, as TinyLlama)
for f in "$smollm2" "$stories" "$llama_tok"; do
  [ -f "$f" ] || { echo "compare.sh: missing $f (run scripts/setup, or set SEALM_MODELS_DIR / SEALM_SHARED_DIR)" >&2; exit 1; }
done
mkdir -p "$out" "$cache"

# name | file | how to make it when missing (sealm synth arguments, or empty)
models=(
  "smollm2-135m-q4_1|$smollm2|"
  "smollm2-shape-q8_0|$cache/smollm2-135m-q8_0.gguf|--preset smollm2-135m --type Q8_0 --tokenizer-from $smollm2"
  "smollm2-shape-q4_0|$cache/smollm2-135m-q4_0.gguf|--preset smollm2-135m --type Q4_0 --tokenizer-from $smollm2"
  "stories260k|$stories|"
  "tinyllama-shape-q4_k_m|$cache/tinyllama-1.1b-q4_k_m.gguf|--preset tinyllama-1.1b --type Q4_K_M --tokenizer-from $llama_tok"
  "tinyllama-shape-q8_0|$cache/tinyllama-1.1b-q8_0.gguf|--preset tinyllama-1.1b --type Q8_0 --tokenizer-from $llama_tok"
)

# wall seconds of a command (its output discarded), for the cold-start columns
wall() {
  python3 -c 'import subprocess, sys, time
t = time.monotonic()
ok = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
print("%.4f" % (time.monotonic() - t) if ok else "null")' "$@"
}

if [ -n "$only" ]; then   # a misspelt name would otherwise give an empty table
  for want in ${only//,/ }; do
    known=no
    for entry in "${models[@]}"; do [ "${entry%%|*}" = "$want" ] && known=yes; done
    if [ "$known" = no ]; then
      names=""; for entry in "${models[@]}"; do names="$names ${entry%%|*}"; done
      echo "compare.sh: --only: no model named '$want'; the models are:$names" >&2
      exit 2
    fi
  done
fi

raw="$out/raw"
mkdir -p "$raw"
: > "$raw/runs.txt"
for entry in "${models[@]}"; do
  IFS='|' read -r name file recipe <<<"$entry"
  if [ -n "$only" ] && [[ ",$only," != *",$name,"* ]]; then continue; fi
  if [ ! -f "$file" ]; then
    [ -n "$recipe" ] || { echo "compare.sh: missing $file" >&2; exit 1; }
    echo "== synthesizing $name" >&2
    # shellcheck disable=SC2086  # the recipe is a word list by construction
    "$sealm" synth -o "$file" $recipe >&2
  fi
  for round in $(seq 1 "$rounds"); do
    echo "== $name, round $round: sealm bench" >&2
    "$sealm" bench -m "$file" -t "$threads" -p "$prompt" -n "$gen" -r "$reps" --json > "$raw/$name.sealm.$round.json"
    echo "== $name, round $round: llama-bench" >&2
    "$llama_bench" -m "$file" -t "$threads" -p "$prompt" -n "$gen" -r "$reps" -o json \
      > "$raw/$name.llama.$round.json" 2>"$raw/$name.llama.$round.err"
  done
  # cold start as a user sees it: a whole process that loads the model and prints one token
  sealm_cold="$(wall "$sealm" generate -m "$file" -t "$threads" -p "Hello" -n 1 --seed 1)"
  llama_cold=null
  [ -n "$llama_simple" ] && llama_cold="$(wall "$llama_simple" -m "$file" -n 1 "Hello")"
  echo "$name|$file|$sealm_cold|$llama_cold" >> "$raw/runs.txt"
done

python3 - "$out" "$raw" "$threads" "$prompt" "$gen" "$reps" "$sealm" "$root" "$rounds" <<'PY'
import json, os, platform, re, statistics, subprocess, sys, datetime
out, raw, threads, prompt, gen, reps, sealm, root, rounds = sys.argv[1:10]
rounds = int(rounds)
MiB = 1024 * 1024

def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""

lscpu = sh("lscpu")
def lscpu_field(name):
    m = re.search(r"^%s:\s*(.+)$" % re.escape(name), lscpu, re.M)
    return m.group(1).strip() if m else ""
flags = lscpu_field("Flags").split()
wanted = ["avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni", "avx512_bf16",
          "amx_int8", "amx_bf16", "asimd", "asimddp"]
mem_kib = int(re.search(r"MemTotal:\s+(\d+)", open("/proc/meminfo").read()).group(1))
machine = {
    "cpu": lscpu_field("Model name"), "cpus": lscpu_field("CPU(s)"),
    "threads_per_core": lscpu_field("Thread(s) per core"), "l2": lscpu_field("L2 cache"), "l3": lscpu_field("L3 cache"),
    "flags": [f for f in wanted if f in flags], "memory_gib": round(mem_kib / 1048576, 1),
    "kernel": platform.release(), "loadavg_at_end": open("/proc/loadavg").read().split()[:3],
    "date_utc": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M"),
    "sealm": sh(f"'{sealm}' --version"), "sealm_commit": sh("git -C '%s' rev-parse --short HEAD" % root),
}
def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None

def spread(xs):
    xs = [x for x in xs if x is not None]
    return [min(xs), max(xs)] if xs else None

rows = []
for line in open(os.path.join(raw, "runs.txt")):
    name, file, sealm_cold, llama_cold = line.strip().split("|")
    runs = []   # per round: sealm's bench JSON and llama-bench's prefill / decode entries
    for k in range(1, rounds + 1):
        s = json.load(open(os.path.join(raw, "%s.sealm.%d.json" % (name, k))))
        l = json.load(open(os.path.join(raw, "%s.llama.%d.json" % (name, k))))
        if l:
            machine["llama_cpp_build"] = "%s (%s)" % (l[0].get("build_number"), l[0].get("build_commit"))
        lp = next((t for t in l if t["n_prompt"] > 0 and t["n_gen"] == 0), None)
        lg = next((t for t in l if t["n_gen"] > 0 and t["n_prompt"] == 0), None)
        runs.append({"sealm": s, "llama_prefill": lp, "llama_decode": lg})
    first = runs[0]["sealm"]
    dec = [r["sealm"]["decode_tps"]["median"] for r in runs]
    # decode from an empty KV cache, as llama-bench's tg test runs it: the like-for-like ratio
    # (sealm JSON from before 2026-11-23 lacks it: None)
    dec0 = [r["sealm"].get("decode_empty_tps", {}).get("median") for r in runs]
    pre = [r["sealm"]["prefill_tps"]["median"] for r in runs]
    ldec = [r["llama_decode"]["avg_ts"] if r["llama_decode"] else None for r in runs]
    lpre = [r["llama_prefill"]["avg_ts"] if r["llama_prefill"] else None for r in runs]
    dec_ratios = [a / b if a and b else None for a, b in zip(dec0, ldec)]
    dec_after_ratios = [a / b if b else None for a, b in zip(dec, ldec)]
    pre_ratios = [a / b if b else None for a, b in zip(pre, lpre)]
    rss = max(r["sealm"]["peak_rss_bytes"] for r in runs)
    rows.append({
        "name": name, "file": os.path.basename(file), "model_bytes": first["model_bytes"],
        "fits_in_llc": first["weight_read_bytes_per_token"] <= first["llc_bytes"],
        "rounds": runs,
        "sealm": {"decode_empty_tps": median(dec0), "decode_tps": median(dec), "prefill_tps": median(pre),
                  "ttft_s": median([r["sealm"]["ttft_s"]["median"] for r in runs]),
                  "read_bandwidth_gbs": median([r["sealm"]["read_bandwidth_gbs"] for r in runs]),
                  "peak_rss_bytes": rss, "rss_budget_bytes": first["rss_budget_bytes"]},
        "llama_cpp": {"decode_tps": median(ldec), "prefill_tps": median(lpre)},
        "decode_ratio": median(dec_ratios), "decode_ratio_range": spread(dec_ratios),
        "decode_after_prompt_ratio": median(dec_after_ratios), "decode_after_prompt_ratio_range": spread(dec_after_ratios),
        "prefill_ratio": median(pre_ratios), "prefill_ratio_range": spread(pre_ratios),
        "pct_of_bound": median([r["sealm"]["decode_pct_of_bound"] for r in runs]),
        "sealm_cold_wall_s": None if sealm_cold == "null" else float(sealm_cold),
        "llama_cold_wall_s": None if llama_cold == "null" else float(llama_cold),
        "rss_within_budget": rss <= first["rss_budget_bytes"],
    })
# the kernels sealm ran (SEALM_SIMD caps them: scalar|avx2|avx-vnni|avx512|neon|neon-dotprod)
machine["sealm_simd"] = sorted({run["sealm"].get("simd", "?") for r in rows for run in r["rounds"]})
doc = {"machine": machine, "threads": int(threads), "n_prompt": int(prompt), "n_gen": int(gen), "reps": int(reps),
       "rounds": rounds, "rows": rows}
json.dump(doc, open(os.path.join(out, "compare.json"), "w"), indent=2)

def f(x, spec):
    return "–" if x is None else format(x, spec)

def ratio(x, rng):
    return f(x, ".2f") + ("" if rng is None or rounds < 2 else " (%.2f–%.2f)" % tuple(rng))
md = []
md.append("Machine: %s, %s CPUs (%s thread(s) per core), L2 %s, L3 %s, %s GiB RAM; flags: %s; kernel %s." % (
    machine["cpu"], machine["cpus"], machine["threads_per_core"], machine["l2"], machine["l3"], machine["memory_gib"],
    " ".join(machine["flags"]), machine["kernel"]))
md.append("Run %s UTC: %s threads, prefill %s tokens, decode %s tokens; %d rounds of %s repetitions per program "
          "(figures: medians over rounds; ratios: median of the rounds' ratios, their range in brackets); "
          "sealm SIMD level %s; llama.cpp build %s; load average at the end %s." % (
              machine["date_utc"], threads, prompt, gen, rounds, reps, "/".join(machine["sealm_simd"]) or "?",
              machine.get("llama_cpp_build", "?"), " ".join(machine["loadavg_at_end"])))
md.append("")
md.append("| model | MiB | decode sealm | decode llama.cpp | ratio | decode sealm after the prompt | its ratio "
          "| prefill sealm | prefill llama.cpp | ratio "
          "| % of BW bound | TTFT 32 tok (ms) | cold start sealm / llama.cpp (s) | peak RSS / budget (MiB) |")
md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    s = r["sealm"]
    bound = f(r["pct_of_bound"], ".0f") + "%" + (" (in LLC)" if r["fits_in_llc"] else "")
    md.append("| %s | %.1f | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %.0f / %.0f |" % (
        r["name"], r["model_bytes"] / MiB, f(s["decode_empty_tps"], ".1f"), f(r["llama_cpp"]["decode_tps"], ".1f"),
        ratio(r["decode_ratio"], r["decode_ratio_range"]), f(s["decode_tps"], ".1f"),
        ratio(r["decode_after_prompt_ratio"], r["decode_after_prompt_ratio_range"]), f(s["prefill_tps"], ".1f"),
        f(r["llama_cpp"]["prefill_tps"], ".1f"), ratio(r["prefill_ratio"], r["prefill_ratio_range"]), bound,
        f(s["ttft_s"] * 1e3, ".1f"),
        f(r["sealm_cold_wall_s"], ".3f"), f(r["llama_cold_wall_s"], ".3f"),
        s["peak_rss_bytes"] / MiB, s["rss_budget_bytes"] / MiB))
md.append("")
md.append("Decode: %s tokens from an empty KV cache in both programs (llama-bench's tg test; sealm bench's "
          "`decode_empty_tps`), which the ratio compares; sealm's decode after its %s-token prompt "
          "(`decode_tps`, attention over %s more positions) is shown beside it with its ratio to the same "
          "llama.cpp figure, and the %% of the bandwidth bound is of that one." % (gen, prompt, prompt))
bw = [r["sealm"]["read_bandwidth_gbs"] for r in rows]
if bw:
    md.append("")
    md.append("Read bandwidth measured by `sealm bench` (the faster of a STREAM-like read and the same read with "
              "software prefetch, %s threads): %.1f–%.1f GB/s." % (threads, min(bw), max(bw)))
    runs_all = [x["sealm"] for r in rows for x in r["rounds"]]
    plain = [x["read_bandwidth_plain_gbs"] for x in runs_all if x.get("read_bandwidth_plain_gbs")]
    pf = [x["read_bandwidth_prefetch_gbs"] for x in runs_all if x.get("read_bandwidth_prefetch_gbs")]
    if plain and pf:
        md.append("Of which: plain read %.1f–%.1f GB/s, with software prefetch %.1f–%.1f GB/s." % (
            min(plain), max(plain), min(pf), max(pf)))
open(os.path.join(out, "compare.md"), "w").write("\n".join(md) + "\n")
print("\n".join(md))
PY
