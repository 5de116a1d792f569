"""bench/ab.py: the sign test and ratios it reports, its input checks, and a real two-round run
of `sealm bench` through it (no speed thresholds: speed is for benchmarks, not tests)."""
import importlib.util
import json
import subprocess
import sys

import pytest

from conftest import ROOT, SHARED, sealm_bin

AB = ROOT / "bench" / "ab.py"
STORIES = SHARED / "models" / "stories260K.gguf"

spec = importlib.util.spec_from_file_location("ab", AB)
ab = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ab)


def test_sign_test_matches_the_binomial_tails():
    assert ab.sign_test_p(0, 0) == 1.0
    assert ab.sign_test_p(4, 4) == 1.0
    assert ab.sign_test_p(5, 0) == pytest.approx(2 / 32)
    assert ab.sign_test_p(0, 8) == pytest.approx(2 / 256)
    # 7 of 8: P(X <= 1) = (1 + 8) / 256, doubled
    assert ab.sign_test_p(7, 1) == pytest.approx(18 / 256)
    assert ab.sign_test_p(6, 4) == pytest.approx(2 * (1 + 10 + 45 + 120 + 210) / 1024)


def test_compare_counts_ties_as_neither_win_nor_loss():
    c = ab.compare([100.0, 100.0, 200.0, 50.0], [110.0, 100.0, 180.0, 60.0])
    assert c["ratios"] == pytest.approx([1.1, 1.0, 0.9, 1.2])
    assert (c["wins"], c["losses"]) == (2, 1)
    assert c["median_ratio"] == pytest.approx(1.05)
    assert c["sign_test_p"] == pytest.approx(ab.sign_test_p(2, 1))


def test_variant_settings_are_parsed_and_checked():
    assert ab.parse_variant("build/sealm") == ("build/sealm", "build/sealm", {})
    assert ab.parse_variant("b/sealm,SEALM_SIMD=avx2,X=a=b") == ("b/sealm,SEALM_SIMD=avx2,X=a=b", "b/sealm",
                                                                 {"SEALM_SIMD": "avx2", "X": "a=b"})
    for bad in ("b/sealm,SEALM_SIMD", "b/sealm,=avx2"):
        with pytest.raises(ValueError):
            ab.parse_variant(bad)


def run_ab(*args):
    return subprocess.run([sys.executable, str(AB), *map(str, args)], capture_output=True, text=True, timeout=600)


def test_bad_input_gets_a_clear_error_and_writes_nothing(tmp_path):
    out = tmp_path / "ab.json"
    p = run_ab("-m", STORIES, "--json", out, sealm_bin())
    assert p.returncode == 2 and "at least two variants" in p.stderr
    p = run_ab("-m", STORIES, "--json", out, sealm_bin(), tmp_path / "no-such-sealm")
    assert p.returncode == 2 and "not an executable file" in p.stderr
    p = run_ab("-m", tmp_path / "missing.gguf", "--json", out, sealm_bin(), sealm_bin())
    assert p.returncode == 2 and "no such model file" in p.stderr
    p = run_ab("-m", STORIES, "--json", out, sealm_bin(), sealm_bin() + ",SEALM_SIMD")
    assert p.returncode == 2 and "NAME=VALUE" in p.stderr
    assert not out.exists()


def test_two_rounds_of_a_real_pair(tmp_path):
    out = tmp_path / "ab.json"
    scalar = sealm_bin() + ",SEALM_SIMD=scalar"
    p = run_ab("-m", STORIES, "-t", 1, "-p", 8, "-n", 4, "-r", 1, "--rounds", 2, "--json", out, sealm_bin(), scalar)
    assert p.returncode == 0, p.stderr
    assert "| `" + scalar + "` | decode_tps |" in p.stdout
    s = json.loads(out.read_text())
    assert (s["rounds"], s["baseline"], s["threads"]) == (2, sealm_bin(), 1)
    base, other = s["variants"][sealm_bin()], s["variants"][scalar]
    assert len(base["runs"]) == len(other["runs"]) == 2
    # the environment reaches the variant's runs, and only them
    assert all(r["simd"] == "scalar" for r in other["runs"])
    assert len({r["simd"] for r in base["runs"]}) == 1
    for m in ("decode_tps", "decode_empty_tps", "prefill_tps"):
        assert base[m]["per_round"] == [r[m]["median"] for r in base["runs"]]
        assert "vs_baseline" not in base[m]
        c = other[m]["vs_baseline"]
        assert c["ratios"] == pytest.approx([o / b for b, o in zip(base[m]["per_round"], other[m]["per_round"])])
        assert c["wins"] + c["losses"] <= 2 and 0 < c["sign_test_p"] <= 1
