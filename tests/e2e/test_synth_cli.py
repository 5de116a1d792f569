"""`sealm synth`: random-weight GGUF models that the reader validates, the engine runs, and
that come out byte-identical for the same seed, with the source file's tokenizer."""
import json
import re

import pytest

from conftest import SHARED, run

STORIES = SHARED / "models" / "stories260K.gguf"             # SentencePiece, 512 tokens
LLAMA_TOK = SHARED / "models" / "synth" / "synth-llama-q8_0.gguf"   # Llama-2 tokenizer, 32000 tokens
QWEN_TOK = SHARED / "models" / "synth" / "synth-qwen2-q8_0.gguf"    # GPT-2 byte-level BPE, 50257 tokens
SMALL = ["--n-embd", 256, "--n-ff", 512, "--n-layer", 2, "--n-head", 4, "--n-head-kv", 2]
TYPES = ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1",
         "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q4_K_M"]


def tensor_types(path):
    """{tensor name: type} from the tensor table of `sealm info`."""
    out = run("info", "-m", path).stdout
    return dict(re.findall(r"^\s+(\S+\.(?:weight|bias))\s+(\S+)\s+\[", out, re.M))


def synth(path, *args, tok=STORIES):
    return run("synth", "-o", path, "--tokenizer-from", tok, *args)


@pytest.mark.parametrize("qtype", TYPES)
def test_every_type_loads_and_generates(tmp_path, qtype):
    out = tmp_path / f"m-{qtype}.gguf"
    synth(out, *SMALL, "--type", qtype, "--seed", 7)
    info = run("info", "-m", out).stdout
    assert re.search(r"model: llama, 2 layers, width 256, ffn 512, 4 heads \(2 KV\).*vocab 512", info), info
    types = tensor_types(out)
    assert len(types) == 1 + 2 * 9 + 2   # embedding, 9 per layer, output norm, output
    base = "Q4_K" if qtype == "Q4_K_M" else qtype
    assert types["blk.0.ffn_up.weight"] == base
    assert types["blk.1.attn_norm.weight"] == "F32"
    ids = json.loads(run("generate", "-m", out, "-p", "Once upon a time", "-n", 4, "--ids",
                         "--ignore-eos", "--seed", 1).stdout)
    assert len(ids) == 4 and all(0 <= i < 512 for i in ids)


def test_q4_k_m_mix_follows_llama_cpp(tmp_path):
    """Q6_K for the output projection and for attn_v / ffn_down of the first and last eighth of
    the layers and every third layer between; Q4_K elsewhere."""
    out = tmp_path / "m.gguf"
    synth(out, "--n-embd", 256, "--n-ff", 512, "--n-layer", 16, "--n-head", 4, "--n-head-kv", 2,
          "--type", "Q4_K_M", "--untied")
    types = tensor_types(out)
    assert types["output.weight"] == "Q6_K" and types["token_embd.weight"] == "Q4_K"
    more = [i for i in range(16) if i < 2 or i >= 14 or (i - 2) % 3 == 2]
    for i in range(16):
        want = "Q6_K" if i in more else "Q4_K"
        assert types[f"blk.{i}.attn_v.weight"] == want and types[f"blk.{i}.ffn_down.weight"] == want, i
        assert types[f"blk.{i}.attn_q.weight"] == "Q4_K"
    assert 4 < len(more) < 12   # about half of the layers


def test_k_quant_rows_not_a_multiple_of_256_fall_back(tmp_path):
    """A 576-wide model (SmolLM2's width) cannot hold 256-element K-quant blocks on its input rows."""
    out = tmp_path / "m.gguf"
    synth(out, "--n-embd", 576, "--n-ff", 1536, "--n-layer", 1, "--n-head", 9, "--n-head-kv", 3, "--type", "Q4_K")
    types = tensor_types(out)
    assert types["blk.0.attn_q.weight"] == "Q5_0"      # 576 columns
    assert types["blk.0.ffn_down.weight"] == "Q4_K"    # 1536 columns
    run("generate", "-m", out, "-p", "Once", "-n", 2, "--ids", "--ignore-eos", "--seed", 1)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a, b, c = tmp_path / "a.gguf", tmp_path / "b.gguf", tmp_path / "c.gguf"
    synth(a, *SMALL, "--type", "Q4_K_M", "--seed", 42)
    synth(b, *SMALL, "--type", "Q4_K_M", "--seed", 42)
    synth(c, *SMALL, "--type", "Q4_K_M", "--seed", 43)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes() and a.stat().st_size == c.stat().st_size


@pytest.mark.parametrize("source,arch", [(LLAMA_TOK, "llama"), (QWEN_TOK, "qwen2"), (STORIES, "llama")])
def test_tokenizer_is_copied(tmp_path, source, arch):
    out = tmp_path / "m.gguf"
    synth(out, *SMALL, "--arch", arch, "--type", "Q8_0", "--tied", tok=source)
    for text in ["Hello, world! It's 2024.", "  naïve café — ünïcödé\n\ttabs", "Once upon a time"]:
        assert run("tokenize", "-m", out, "-p", text).stdout == run("tokenize", "-m", source, "-p", text).stdout
    info = run("info", "-m", out).stdout
    src_info = run("info", "-m", source).stdout
    for key in ["tokenizer.ggml.model", "tokenizer.ggml.tokens", "tokenizer.ggml.bos_token_id"]:
        line = lambda s: re.search(r"^\s+%s\s+(.*)$" % re.escape(key), s, re.M).group(1)
        assert line(info) == line(src_info)
    if arch == "qwen2":
        types = tensor_types(out)
        assert types["blk.0.attn_k.bias"] == "F32" and "output.weight" not in types
    ids = json.loads(run("generate", "-m", out, "-p", "Hello", "-n", 3, "--ids", "--ignore-eos", "--seed", 1).stdout)
    assert len(ids) == 3


def test_preset_has_the_real_shape(tmp_path):
    out = tmp_path / "smol.gguf"
    p = synth(out, "--preset", "smollm2-135m", "--type", "Q4_0")
    assert "49152" in p.stderr   # the note: the tokenizer's vocabulary differs from the real model's
    info = run("info", "-m", out).stdout
    assert re.search(r"model: llama, 30 layers, width 576, ffn 1536, 9 heads \(3 KV\).*RoPE base 100000, tied output",
                     info), info


def test_never_overwrites_without_force(tmp_path):
    out = tmp_path / "m.gguf"
    synth(out, *SMALL, "--seed", 1)
    before = out.read_bytes()
    p = run("synth", "-o", out, "--tokenizer-from", STORIES, *SMALL, "--seed", 2, check=False)
    assert p.returncode == 1 and "exists" in p.stderr
    assert out.read_bytes() == before
    assert list(tmp_path.iterdir()) == [out]          # no temp file left behind
    synth(out, *SMALL, "--seed", 2, "--force")
    assert out.read_bytes() != before


@pytest.mark.parametrize("args,needle", [
    (["--type", "Q7_0"], "unknown --type"),
    (["--arch", "gpt2"], "--arch"),
    (["--n-head", 3], "multiple of n_head"),
    (["--preset", "llama-70b"], "unknown preset"),
])
def test_bad_options_are_usage_errors(tmp_path, args, needle):
    p = run("synth", "-o", tmp_path / "m.gguf", "--tokenizer-from", STORIES, *args, check=False)
    assert p.returncode == 2 and needle in p.stderr
    assert not (tmp_path / "m.gguf").exists()
