#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_gguf: small valid and near-valid GGUF images (< 8 KiB each).

Pure Python (struct only), so anyone can regenerate the seeds:
    python3 tests/fuzz/make_gguf_seeds.py [out_dir]   # default: tests/fuzz/corpus/gguf
Valid seeds give the fuzzer every value type, string arrays, several tensor types and a
custom alignment to mutate; near-valid seeds each break one rule the reader checks.
"""
import os
import struct
import sys

# Value types, numbered as in the GGUF spec.
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
SCALAR_FMT = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i",
              F32: "<f", BOOL: "<B", U64: "<Q", I64: "<q", F64: "<d"}
# Tensor types: (ggml number, elements per block, bytes per block).
TYPES = {"F32": (0, 1, 4), "F16": (1, 1, 2), "Q4_0": (2, 32, 18), "Q8_0": (8, 32, 34),
         "Q4_K": (12, 256, 144), "Q6_K": (14, 256, 210), "BF16": (30, 1, 2)}


def gstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def value(vtype, v):
    if vtype == STRING:
        return gstr(v)
    if vtype == ARRAY:
        elem_type, items = v
        out = struct.pack("<IQ", elem_type, len(items))
        return out + b"".join(value(elem_type, x) for x in items)
    return struct.pack(SCALAR_FMT[vtype], v)


def kv(key, vtype, v):
    return gstr(key) + struct.pack("<I", vtype) + value(vtype, v)


def type_info(type_name):
    """A name from TYPES, or a raw ggml number (for unknown types) taken as 1 element of 4 bytes."""
    return TYPES[type_name] if isinstance(type_name, str) else (type_name, 1, 4)


def tensor_bytes(type_name, ne):
    _, elems, size = type_info(type_name)
    n = 1
    for d in ne:
        n *= d
    return n // elems * size


def image(kvs, tensors=(), version=3, alignment=32, n_kv=None, n_tensors=None, data_len=None):
    """kvs: list of (key, type, value); tensors: list of (name, type_name, ne, offset or None).
    Offsets of None are laid out back to back at the alignment. Data bytes are a pattern;
    data_len overrides how many are written (default: up to the end of the last tensor)."""
    out = b"GGUF" + struct.pack("<IQQ", version,
                                len(tensors) if n_tensors is None else n_tensors,
                                len(kvs) if n_kv is None else n_kv)
    out += b"".join(kv(*x) for x in kvs)
    next_offset, extents = 0, []
    for name, type_name, ne, offset in tensors:
        if offset is None:
            offset = next_offset
        size = tensor_bytes(type_name, ne)
        next_offset = max(next_offset, (offset + size + alignment - 1) // alignment * alignment)
        extents.append(offset + size)
        out += gstr(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", d) for d in ne)
        out += struct.pack("<IQ", type_info(type_name)[0], offset)
    if tensors:
        out += b"\0" * (-len(out) % alignment)
        data_len = max(extents) if data_len is None else data_len
        out += bytes((i * 7 + 1) & 0xFF for i in range(data_len))
    return out


def llama_kvs(n_vocab=8):
    tokens = ["<unk>", "<s>", "</s>"] + ["\u2581" + chr(ord("a") + i) for i in range(n_vocab - 3)]
    return [
        ("general.architecture", STRING, "llama"),
        ("general.name", STRING, "seed"),
        ("llama.context_length", U32, 64),
        ("llama.embedding_length", U32, 32),
        ("llama.block_count", U32, 1),
        ("llama.attention.head_count", U32, 2),
        ("llama.attention.layer_norm_rms_epsilon", F32, 1e-5),
        ("tokenizer.ggml.model", STRING, "llama"),
        ("tokenizer.ggml.tokens", ARRAY, (STRING, tokens)),
        ("tokenizer.ggml.scores", ARRAY, (F32, [float(-i) for i in range(n_vocab)])),
        ("tokenizer.ggml.token_type", ARRAY, (I32, [2, 3, 3] + [1] * (n_vocab - 3))),
        ("tokenizer.ggml.bos_token_id", U32, 1),
        ("tokenizer.ggml.add_bos_token", BOOL, 1),
    ]


def seeds():
    every_type = [
        ("u8", U8, 200), ("i8", I8, -5), ("u16", U16, 60000), ("i16", I16, -300),
        ("u32", U32, 4000000000), ("i32", I32, -70000), ("f32", F32, 0.5), ("bool", BOOL, 1),
        ("str", STRING, "h\u00e9llo \"q\"\n"), ("u64", U64, 1 << 40), ("i64", I64, -(1 << 40)),
        ("f64", F64, 2.25),
        ("arr.u8", ARRAY, (U8, [1, 2, 3])), ("arr.i64", ARRAY, (I64, [1, -1, 1 << 40])),
        ("arr.f64", ARRAY, (F64, [1.5, -2.0])), ("arr.bool", ARRAY, (BOOL, [0, 1])),
        ("arr.str", ARRAY, (STRING, ["", "x", "yz"])), ("arr.empty", ARRAY, (U32, [])),
    ]
    tiny_model = [
        ("token_embd.weight", "F32", [32, 8], None),
        ("output_norm.weight", "F32", [32], None),
        ("blk.0.attn_q.weight", "Q8_0", [32, 32], None),
        ("blk.0.attn_k.weight", "Q4_0", [32, 16], None),
        ("blk.0.ffn_up.weight", "F16", [32, 4, 2], None),
        ("blk.0.ffn_down.weight", "BF16", [8, 2, 2, 2], None),
        ("output.weight", "Q4_K", [256, 2], None),
    ]
    gpt2_vocab = [
        ("general.architecture", STRING, "gpt2"),
        ("tokenizer.ggml.model", STRING, "gpt2"),
        ("tokenizer.ggml.pre", STRING, "gpt-2"),
        ("tokenizer.ggml.tokens", ARRAY, (STRING, ["!", "\"", "a", "b", "ab", "\u0120the"])),
        ("tokenizer.ggml.token_type", ARRAY, (I32, [1] * 6)),
        ("tokenizer.ggml.merges", ARRAY, (STRING, ["a b", "\u0120 t", "\u0120t he"])),
    ]
    valid = {
        "valid-empty.gguf": image([]),
        "valid-every-type-v2.gguf": image(every_type, version=2),
        "valid-vocab-gpt2.gguf": image(gpt2_vocab),
        "valid-tiny-llama.gguf": image(llama_kvs(), tiny_model),
        "valid-align64.gguf": image([("general.alignment", U32, 64)] + llama_kvs(4),
                                    tiny_model[:3], alignment=64),
        "valid-q6k.gguf": image([("general.architecture", STRING, "llama")],
                                [("w", "Q6_K", [256, 1], None), ("v", "F32", [4], None)]),
    }
    tiny = valid["valid-tiny-llama.gguf"]
    one_f32 = [("t", "F32", [8], None)]
    near = {
        "bad-truncated.gguf": tiny[: len(tiny) - 100],
        "bad-version1.gguf": image(llama_kvs(), version=1),
        "bad-duplicate-key.gguf": image(llama_kvs() + [("llama.block_count", U32, 2)]),
        "bad-duplicate-tensor.gguf": image(llama_kvs(4), one_f32 + one_f32),
        "bad-nested-array.gguf": image([("nested", ARRAY, (ARRAY, []))]),
        "bad-overlap.gguf": image(llama_kvs(4), [("a", "F32", [16], 0), ("b", "F32", [8], 32)]),
        "bad-misaligned.gguf": image(llama_kvs(4), [("a", "F32", [8], 4)]),
        "bad-alignment-3.gguf": image([("general.alignment", U32, 3)], one_f32),
        "bad-block-multiple.gguf": image(llama_kvs(4), [("q", "Q8_0", [33, 1], None)]),
        "bad-unknown-tensor-type.gguf": image(llama_kvs(4), [("t", 20, [8], None)]),
        "bad-huge-kv-count.gguf": image(llama_kvs(4), n_kv=(1 << 62)),
        "bad-past-end.gguf": image(llama_kvs(4), [("a", "F32", [8], 1024)], data_len=64),
    }
    return {**valid, **near}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus", "gguf")
    os.makedirs(out_dir, exist_ok=True)
    for name, data in sorted(seeds().items()):
        assert len(data) < 8192, (name, len(data))
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
