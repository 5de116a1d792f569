"""`sealm bench`: every documented field present, positive and consistent (no speed thresholds:
speed is for benchmarks, not tests), on a plain GGUF and on a sealed bundle."""
import json
import os

import pytest

from conftest import SHARED, run

STORIES = SHARED / "models" / "stories260K.gguf"
STATS = ["prefill_tps", "decode_tps", "decode_empty_tps", "ttft_s"]
POSITIVE = ["load_s", "cold_start_s", "model_bytes", "weight_bytes", "weight_read_bytes_per_token", "kv_bytes",
            "kv_read_bytes_per_token", "load_peak_rss_bytes", "peak_rss_bytes", "vm_hwm_bytes", "rss_budget_bytes",
            "llc_bytes", "read_buffer_bytes", "read_bandwidth_gbs", "read_bandwidth_plain_gbs",
            "read_bandwidth_prefetch_gbs", "decode_bound_tps", "decode_pct_of_bound"]


def bench_json(model, *extra):
    return json.loads(run("bench", "-m", model, "-t", 2, "-p", 8, "-n", 4, "-r", 3, "--ttft-tokens", 6,
                          "--json", *extra).stdout)


def check_report(r, model_bytes):
    assert (r["n_prompt"], r["n_gen"], r["reps"], r["ttft_tokens"], r["threads"]) == (8, 4, 3, 6, 2)
    assert r["n_ctx"] >= 8 + 4 and r["n_vocab"] == 512 and r["n_layer"] == 5
    for k in STATS:
        s = r[k]
        assert 0 < s["min"] <= s["median"] <= s["max"], (k, s)
    for k in POSITIVE:
        assert r[k] > 0, k
    assert r["context_s"] >= 0 and r["simd"] in ("scalar", "avx2", "avx512", "neon")
    assert r["model_bytes"] == model_bytes
    assert r["weight_read_bytes_per_token"] <= r["weight_bytes"] < r["model_bytes"]
    # 2 (K and V) × layers × positions × KV width × 2 bytes (F16): KV width 32 for stories260K
    assert r["kv_bytes"] == 2 * 5 * r["n_ctx"] * 32 * 2
    assert r["kv_read_bytes_per_token"] == 2 * 5 * (8 + 4 // 2) * 32 * 2
    assert r["rss_budget_bytes"] == r["model_bytes"] + r["kv_bytes"] + 64 * 1024 * 1024
    assert r["load_peak_rss_bytes"] <= r["vm_hwm_bytes"]
    assert r["read_buffer_bytes"] >= max(4 * r["llc_bytes"], 256 << 20)
    # the bound rests on the faster of the two reads (plain, and with software prefetch)
    assert r["read_bandwidth_gbs"] == max(r["read_bandwidth_plain_gbs"], r["read_bandwidth_prefetch_gbs"])
    bound = r["read_bandwidth_gbs"] * 1e9 / (r["weight_read_bytes_per_token"] + r["kv_read_bytes_per_token"])
    assert r["decode_bound_tps"] == pytest.approx(bound, rel=1e-4)
    assert r["decode_pct_of_bound"] == pytest.approx(100 * r["decode_tps"]["median"] / bound, rel=1e-4)
    # the cold start runs from process start through the load to the first token
    assert r["cold_start_s"] >= r["load_s"]


def test_bench_json_on_a_plain_gguf():
    r = bench_json(STORIES)
    check_report(r, STORIES.stat().st_size)
    assert r["sealed"] is False and r["model"] == str(STORIES)


def test_bench_json_on_a_sealed_bundle(tmp_path):
    os.chdir(tmp_path)
    run("keygen", "--publisher", "-o", "pub")
    run("keygen", "--device", "-o", "dev")
    run("trust", "--store", "trust.txt", "add", "pub.pub")
    run("seal", "-m", STORIES, "-o", "m.sealed", "--name", "stories", "--version", 1,
        "--publisher-key", "pub.key", "--recipient", "dev.pub")
    r = bench_json("m.sealed", "--device-key", "dev.key", "--trust", "trust.txt", "--state", "state.bin")
    check_report(r, STORIES.stat().st_size)   # the decrypted image is the plain GGUF
    assert r["sealed"] is True


def test_bench_table_by_default():
    out = run("bench", "-m", STORIES, "-p", 4, "-n", 2, "-r", 1).stdout
    for needle in ["prefill tok/s", "decode tok/s", "decode tok/s, empty KV", "TTFT (32 tokens)", "peak RSS", "GB/s read", "decode bound",
                   "cold start"]:
        assert needle in out, needle


def test_bench_batched_sequences():
    """--seqs: the total rate of several sequences decoded together, with its own stats."""
    r = bench_json(STORIES, "--seqs", 3)
    check_report(r, STORIES.stat().st_size)
    b = r["batched_decode"]
    assert b["seqs"] == 3
    assert 0 < b["tps"]["min"] <= b["tps"]["median"] <= b["tps"]["max"]
    assert "batched_decode" not in bench_json(STORIES)
    out = run("bench", "-m", STORIES, "-p", 4, "-n", 2, "-r", 1, "--seqs", 2).stdout
    assert "decode 2 seqs tok/s" in out


@pytest.mark.parametrize("args", [["-p", 0], ["-n", "x"], ["-r", -1], ["-c", 8, "-p", 16], ["--seqs", 1],
                                  ["--seqs", 65], ["--seqs", "two"], ["--seqs"]])
def test_bad_options_are_usage_errors(args):
    p = run("bench", "-m", STORIES, *args, check=False)
    assert p.returncode == 2, p.stderr


def test_small_context_error_names_the_size_needed():
    # 40 prompt + 8 generated + 1: the message says what -c would do
    p = run("bench", "-m", STORIES, "-c", 32, "-p", 40, "-n", 8, check=False)
    assert p.returncode == 2
    assert "-c 32 is too small" in p.stderr and "needs at least 49" in p.stderr, p.stderr
