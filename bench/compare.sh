#!/usr/bin/env bash
# sealm vs llama.cpp, side by side in one run, on the model set of issue 5: the same GGUF
# files, the same thread count, the same prompt and generation lengths.
#
#   bench/compare.sh LLAMA_CPP_BUILD_DIR [--threads N] [--out DIR] [--sealm BIN] [--cache DIR]
#                    [-p PROMPT_TOKENS] [-n GEN_TOKENS] [-r REPS] [--only NAME[,NAME...]]
#
# LLAMA_CPP_BUILD_DIR: a llama.cpp build made by whoever runs this (llama-bench, and for the
# cold-start column llama-simple, in it or in its bin/). This script never builds or
# downloads llama.cpp, and nothing of it belongs in this repository.
# Models: SmolLM2-135M-Instruct Q4_1 (models/), stories260K (../shared/models), and random-
# weight models of the SmolLM2-135M shape (Q8_0, Q4_0) and TinyLlama-1.1B shape (Q4_K_M,
# Q8_0) that `sealm synth` writes into the cache folder when they are missing.
# Writes DIR/compare.json (every raw measurement plus the machine) and DIR/compare.md (the
# table, as kept in docs/PERFORMANCE.md). Default DIR: bench/results/compare.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; }
[ $# -ge 1 ] || { usage >&2; exit 2; }
case "$1" in -h|--help) usage; exit 0 ;; esac
llama_dir="$1"; shift
threads="$(nproc)"
out="$root/bench/results/compare"
sealm="$root/build/sealm"
cache="${SEALM_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sealm-bench}"
prompt=128 gen=64 reps=3 only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --sealm) sealm="$2"; shift 2 ;;
    --cache) cache="$2"; shift 2 ;;
    -p) prompt="$2"; shift 2 ;;
    -n) gen="$2"; shift 2 ;;
    -r) reps="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    *) echo "compare.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
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
  echo "== $name: sealm bench" >&2
  "$sealm" bench -m "$file" -t "$threads" -p "$prompt" -n "$gen" -r "$reps" --json > "$raw/$name.sealm.json"
  echo "== $name: llama-bench" >&2
  "$llama_bench" -m "$file" -t "$threads" -p "$prompt" -n "$gen" -r "$reps" -o json > "$raw/$name.llama.json" 2>"$raw/$name.llama.err"
  # cold start as a user sees it: a whole process that loads the model and prints one token
  sealm_cold="$(wall "$sealm" generate -m "$file" -t "$threads" -p "Hello" -n 1 --seed 1)"
  llama_cold=null
  [ -n "$llama_simple" ] && llama_cold="$(wall "$llama_simple" -m "$file" -n 1 "Hello")"
  echo "$name|$file|$sealm_cold|$llama_cold" >> "$raw/runs.txt"
done

python3 - "$out" "$raw" "$threads" "$prompt" "$gen" "$reps" "$sealm" "$root" <<'PY'
import json, os, platform, re, subprocess, sys, datetime
out, raw, threads, prompt, gen, reps, sealm, root = sys.argv[1:9]
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
rows = []
for line in open(os.path.join(raw, "runs.txt")):
    name, file, sealm_cold, llama_cold = line.strip().split("|")
    s = json.load(open(os.path.join(raw, name + ".sealm.json")))
    l = json.load(open(os.path.join(raw, name + ".llama.json")))
    lp = next((t for t in l if t["n_prompt"] > 0 and t["n_gen"] == 0), None)
    lg = next((t for t in l if t["n_gen"] > 0 and t["n_prompt"] == 0), None)
    if l:
        machine["llama_cpp_build"] = "%s (%s)" % (l[0].get("build_number"), l[0].get("build_commit"))
    dec, pre = s["decode_tps"]["median"], s["prefill_tps"]["median"]
    ldec = lg["avg_ts"] if lg else None
    lpre = lp["avg_ts"] if lp else None
    rows.append({
        "name": name, "file": os.path.basename(file), "model_bytes": s["model_bytes"],
        "fits_in_llc": s["weight_read_bytes_per_token"] <= s["llc_bytes"],
        "sealm": s, "llama_cpp": {"prefill_tps": lpre, "decode_tps": ldec,
                                  "prefill_samples": lp and lp["samples_ts"], "decode_samples": lg and lg["samples_ts"]},
        "decode_ratio": dec / ldec if ldec else None, "prefill_ratio": pre / lpre if lpre else None,
        "pct_of_bound": s["decode_pct_of_bound"],
        "sealm_cold_wall_s": None if sealm_cold == "null" else float(sealm_cold),
        "llama_cold_wall_s": None if llama_cold == "null" else float(llama_cold),
        "rss_within_budget": s["peak_rss_bytes"] <= s["rss_budget_bytes"],
    })
doc = {"machine": machine, "threads": int(threads), "n_prompt": int(prompt), "n_gen": int(gen), "reps": int(reps),
       "rows": rows}
json.dump(doc, open(os.path.join(out, "compare.json"), "w"), indent=2)

def f(x, spec):
    return "–" if x is None else format(x, spec)
md = []
md.append("Machine: %s, %s CPUs (%s thread(s) per core), L2 %s, L3 %s, %s GiB RAM; flags: %s; kernel %s." % (
    machine["cpu"], machine["cpus"], machine["threads_per_core"], machine["l2"], machine["l3"], machine["memory_gib"],
    " ".join(machine["flags"]), machine["kernel"]))
md.append("Run %s UTC: %s threads, prefill %s tokens, decode %s tokens, %s repetitions (medians); llama.cpp build %s; "
          "load average at the end %s." % (machine["date_utc"], threads, prompt, gen, reps,
                                           machine.get("llama_cpp_build", "?"), " ".join(machine["loadavg_at_end"])))
md.append("")
md.append("| model | MiB | decode sealm | decode llama.cpp | ratio | prefill sealm | prefill llama.cpp | ratio "
          "| % of BW bound | TTFT 32 tok (ms) | cold start sealm / llama.cpp (s) | peak RSS / budget (MiB) |")
md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    s = r["sealm"]
    bound = f(r["pct_of_bound"], ".0f") + "%" + (" (in LLC)" if r["fits_in_llc"] else "")
    md.append("| %s | %.1f | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %.0f / %.0f |" % (
        r["name"], r["model_bytes"] / MiB, f(s["decode_tps"]["median"], ".1f"), f(r["llama_cpp"]["decode_tps"], ".1f"),
        f(r["decode_ratio"], ".2f"), f(s["prefill_tps"]["median"], ".1f"), f(r["llama_cpp"]["prefill_tps"], ".1f"),
        f(r["prefill_ratio"], ".2f"), bound, f(s["ttft_s"]["median"] * 1e3, ".1f"),
        f(r["sealm_cold_wall_s"], ".3f"), f(r["llama_cold_wall_s"], ".3f"),
        s["peak_rss_bytes"] / MiB, s["rss_budget_bytes"] / MiB))
bw = [r["sealm"]["read_bandwidth_gbs"] for r in rows]
if bw:
    md.append("")
    md.append("Read bandwidth measured by `sealm bench` (STREAM-like read, %s threads): %.1f–%.1f GB/s." % (
        threads, min(bw), max(bw)))
open(os.path.join(out, "compare.md"), "w").write("\n".join(md) + "\n")
print("\n".join(md))
PY
