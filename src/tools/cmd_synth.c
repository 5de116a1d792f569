/* sealm synth: writes a random-weight GGUF of a chosen architecture, shape and tensor type,
 * with the tokenizer of another GGUF — for benchmarks and tests of shapes that cannot be
 * downloaded here (1B-class models). Same command, same seed → same bytes. */
#include "tools/cli.h"
#include "engine/quant.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The shape and type of the model to write. */
typedef struct synth_spec {
    const char *out_path;
    const char *tokenizer_from;
    const char *arch;            /* "llama" or "qwen2" */
    const char *preset;
    int32_t n_embd, n_ff, n_layer, n_head, n_head_kv, n_ctx_train;
    int32_t preset_vocab;        /* what the preset's real model has (a note if the tokenizer differs) */
    float rope_base;
    bool tied;
    sealm_tensor_type type;      /* the base type */
    bool q4_k_m;                 /* llama.cpp's Q4_K_M mix on top of Q4_K */
    uint64_t seed;
    bool force;
} synth_spec;

/* Real shapes of the models the presets imitate (their config.json). */
static bool apply_preset(synth_spec *s, const char *name) {
    if (!strcmp(name, "smollm2-135m")) {
        s->n_embd = 576, s->n_ff = 1536, s->n_layer = 30, s->n_head = 9, s->n_head_kv = 3;
        s->n_ctx_train = 8192, s->rope_base = 100000.0f, s->tied = true, s->preset_vocab = 49152;
    } else if (!strcmp(name, "tinyllama-1.1b")) {
        s->n_embd = 2048, s->n_ff = 5632, s->n_layer = 22, s->n_head = 32, s->n_head_kv = 4;
        s->n_ctx_train = 2048, s->rope_base = 10000.0f, s->tied = false, s->preset_vocab = 32000;
    } else {
        return false;
    }
    s->preset = name;
    return true;
}

static const struct { const char *name; sealm_tensor_type type; uint32_t ftype; } TYPES[] = {
    /* ftype: llama.cpp's general.file_type numbers, which llama-bench shows */
    {"F32", SEALM_TYPE_F32, 0},   {"F16", SEALM_TYPE_F16, 1},   {"BF16", SEALM_TYPE_BF16, 32},
    {"Q8_0", SEALM_TYPE_Q8_0, 7}, {"Q4_0", SEALM_TYPE_Q4_0, 2}, {"Q4_1", SEALM_TYPE_Q4_1, 3},
    {"Q5_0", SEALM_TYPE_Q5_0, 8}, {"Q5_1", SEALM_TYPE_Q5_1, 9}, {"Q2_K", SEALM_TYPE_Q2_K, 10},
    {"Q3_K", SEALM_TYPE_Q3_K, 11}, {"Q4_K", SEALM_TYPE_Q4_K, 14}, {"Q5_K", SEALM_TYPE_Q5_K, 16},
    {"Q6_K", SEALM_TYPE_Q6_K, 18}, {"Q4_K_M", SEALM_TYPE_Q4_K, 15},
};

static void usage(FILE *f) {
    fprintf(f, "usage: sealm synth -o FILE --tokenizer-from GGUF [--preset NAME | shape options] [options]\n"
               "  writes a random-weight GGUF v3 model (for benchmarks and tests, not for text)\n"
               "  --tokenizer-from GGUF  copy every tokenizer.* key from GGUF; the vocabulary size follows it\n"
               "  --preset NAME          smollm2-135m (576/1536, 30 layers, 9/3 heads, tied) or\n"
               "                         tinyllama-1.1b (2048/5632, 22 layers, 32/4 heads, untied)\n"
               "  --arch llama|qwen2     architecture (qwen2 adds Q/K/V biases); default llama\n"
               "  --n-embd N --n-ff N --n-layer N --n-head N --n-head-kv N --n-ctx-train N\n"
               "  --rope-base F          RoPE frequency base\n"
               "  --tied | --untied      output projection shares token_embd (or its own output.weight)\n"
               "  --type T               F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K Q4_K Q5_K Q6_K Q4_K_M\n"
               "                         (default Q8_0); see docs/PERFORMANCE.md for Q4_K_M and fallbacks\n"
               "  --seed N               weights' seed (default 1): the same command writes the same bytes\n"
               "  --force                replace FILE if it exists\n");
}

static bool parse_i32(const char *v, int32_t *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < 1 || x > 1 << 20) return false;
    *out = (int32_t)x;
    return true;
}

/* Returns 0 to go on, or an exit status. */
static int parse_args(synth_spec *s, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int32_t *num = !strcmp(a, "--n-embd") ? &s->n_embd : !strcmp(a, "--n-ff") ? &s->n_ff
                     : !strcmp(a, "--n-layer") ? &s->n_layer : !strcmp(a, "--n-head") ? &s->n_head
                     : !strcmp(a, "--n-head-kv") ? &s->n_head_kv : !strcmp(a, "--n-ctx-train") ? &s->n_ctx_train : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--tied") || !strcmp(a, "--untied")) {
            s->tied = !strcmp(a, "--tied");
            continue;
        } else if (!strcmp(a, "--force")) {
            s->force = true;
            continue;
        } else if (!v) {
            cli_error("synth: unknown option or missing value '%s'", a);
            usage(stderr);
            return EXIT_USAGE;
        }
        i++;
        if (num) {
            if (!parse_i32(v, num)) {
                cli_error("synth: %s needs a positive integer, not '%s'", a, v);
                return EXIT_USAGE;
            }
        } else if (!strcmp(a, "-o") || !strcmp(a, "--out")) {
            s->out_path = v;
        } else if (!strcmp(a, "--tokenizer-from")) {
            s->tokenizer_from = v;
        } else if (!strcmp(a, "--arch")) {
            if (strcmp(v, "llama") && strcmp(v, "qwen2")) {
                cli_error("synth: --arch must be llama or qwen2, not '%s'", v);
                return EXIT_USAGE;
            }
            s->arch = v;
        } else if (!strcmp(a, "--preset")) {
            if (!apply_preset(s, v)) {
                cli_error("synth: unknown preset '%s' (smollm2-135m, tinyllama-1.1b)", v);
                return EXIT_USAGE;
            }
        } else if (!strcmp(a, "--rope-base")) {
            char *end;
            s->rope_base = strtof(v, &end);
            if (end == v || *end || !(s->rope_base > 1.0f)) {
                cli_error("synth: --rope-base needs a number > 1, not '%s'", v);
                return EXIT_USAGE;
            }
        } else if (!strcmp(a, "--type")) {
            size_t k = 0, n = sizeof TYPES / sizeof TYPES[0];
            while (k < n && strcasecmp(TYPES[k].name, v)) k++;
            if (k == n) {
                cli_error("synth: unknown --type '%s' (see sealm synth --help)", v);
                return EXIT_USAGE;
            }
            s->type = TYPES[k].type;
            s->q4_k_m = !strcasecmp(v, "Q4_K_M");
        } else if (!strcmp(a, "--seed")) {
            char *end;
            errno = 0;
            s->seed = strtoull(v, &end, 10);
            if (errno || end == v || *end) {
                cli_error("synth: --seed needs an unsigned integer, not '%s'", v);
                return EXIT_USAGE;
            }
        } else {
            cli_error("synth: unknown option '%s'", a);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (!s->out_path || !s->tokenizer_from) {
        cli_error("synth needs -o FILE and --tokenizer-from GGUF");
        usage(stderr);
        return EXIT_USAGE;
    }
    if (s->n_embd % s->n_head != 0 || s->n_head % s->n_head_kv != 0 || (s->n_embd / s->n_head) % 2 != 0) {
        cli_error("synth: n_embd (%d) must be a multiple of n_head (%d) with an even head size, and n_head of "
                  "n_head_kv (%d)", s->n_embd, s->n_head, s->n_head_kv);
        return EXIT_USAGE;
    }
    return -1;
}

/* ---- which type each tensor gets ---- */

/* llama.cpp's rule for the layers of attn_v / ffn_down that Q4_K_M keeps in Q6_K: the
 * first and last eighth of the layers, and every third layer in between (about half). */
static bool use_more_bits(int32_t i, int32_t n) {
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

/* K-quant blocks hold 256 columns; a row whose length is not a multiple falls back to the
 * 32-block type llama.cpp's quantizer picks in that case (Q4_0 where it uses IQ4_NL, which
 * sealm does not compute with). Other types have blocks of 32 or 1, which every supported
 * width divides. */
static sealm_tensor_type fit_type(sealm_tensor_type t, int64_t cols) {
    if (cols % QK_K == 0) return t;
    switch (t) {
    case SEALM_TYPE_Q2_K: case SEALM_TYPE_Q3_K: return SEALM_TYPE_Q4_0;
    case SEALM_TYPE_Q4_K: return SEALM_TYPE_Q5_0;
    case SEALM_TYPE_Q5_K: return SEALM_TYPE_Q5_1;
    case SEALM_TYPE_Q6_K: return SEALM_TYPE_Q8_0;
    default: return t;
    }
}

/* The type of a weight matrix: the base type, or for Q4_K_M, Q6_K for the output projection
 * (token_embd when tied) and for use_more_bits layers of attn_v and ffn_down. */
static sealm_tensor_type matrix_type(const synth_spec *s, const char *role, int32_t layer, int64_t cols) {
    sealm_tensor_type t = s->type;
    if (s->q4_k_m) {
        bool is_output = !strcmp(role, "output") || (s->tied && !strcmp(role, "token_embd"));
        bool more = (!strcmp(role, "attn_v") || !strcmp(role, "ffn_down")) && use_more_bits(layer, s->n_layer);
        if (is_output || more) t = SEALM_TYPE_Q6_K;
    }
    return fit_type(t, cols);
}

/* ---- random weights ---- */

/* What the fill callback needs for each tensor: how to make its values. */
typedef enum { FILL_RANDOM, FILL_ONES, FILL_ZEROS } fill_kind;

typedef struct synth_tensor {
    fill_kind kind;
    sealm_tensor_type type;
    int64_t cols, rows;
} synth_tensor;

typedef struct synth_job {
    const synth_spec *spec;
    synth_tensor *tensors;
    float *row;        /* one row of floats before quantization */
} synth_job;

/* splitmix64 (Steele, Lea & Flood 2014): a seeded stream per tensor, so every tensor's
 * values depend only on (seed, tensor index), not on the order they are produced in. */
static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Approximately normal(0, 0.02): the sum of four 16-bit uniforms (Irwin–Hall, variance
 * 4/12), centred and scaled. One generator call per value keeps a 1B model quick to make;
 * a benchmark needs the scale and the spread of real weights, not exact Gaussian tails. */
static float weight_value(uint64_t *state) {
    uint64_t r = splitmix64(state);
    float sum = 0.0f;
    for (int k = 0; k < 4; k++) sum += (float)((r >> (16 * k)) & 0xFFFF) * (1.0f / 65536.0f);
    return (sum - 2.0f) * (0.02f / 0.57735027f);
}

static sealm_status fill_tensor(void *ctx, uint64_t index, void *dst, uint64_t size, sealm_error *err) {
    synth_job *job = ctx;
    const synth_tensor *t = &job->tensors[index];
    const sealm_type_traits *tr = sealm_type_traits_get(t->type);
    if (!tr || !tr->from_float) return sealm_error_set(err, SEALM_E_UNSUPPORTED, "no quantizer for %s", sealm_tensor_type_name(t->type));
    size_t row_bytes = (size_t)(t->cols / tr->block_elems) * tr->block_bytes;
    if (row_bytes * (uint64_t)t->rows != size) return sealm_error_set(err, SEALM_E_INVALID, "synth: tensor size mismatch");
    uint64_t state = job->spec->seed * UINT64_C(0x100000001B3) ^ (index + 1) * UINT64_C(0xD6E8FEB86659FD93);
    for (int64_t r = 0; r < t->rows; r++) {
        for (int64_t c = 0; c < t->cols; c++)
            job->row[c] = t->kind == FILL_ONES ? 1.0f : t->kind == FILL_ZEROS ? 0.0f : weight_value(&state);
        tr->from_float(job->row, (uint8_t *)dst + (size_t)r * row_bytes, t->cols);
    }
    return SEALM_OK;
}

/* ---- the file ---- */

/* Declares one tensor to the writer and records how to fill it. */
static sealm_status add(sealm_gguf_writer *w, synth_tensor *list, uint64_t *n, const char *name, int64_t cols,
                        int64_t rows, sealm_tensor_type type, fill_kind kind, sealm_error *err) {
    int64_t ne[2] = {cols, rows};
    sealm_status s = sealm_gguf_writer_add_tensor(w, name, rows > 1 ? 2 : 1, ne, type, err);
    if (s == SEALM_OK) list[(*n)++] = (synth_tensor){kind, type, cols, rows};
    return s;
}

static sealm_status declare_tensors(const synth_spec *s, int32_t n_vocab, sealm_gguf_writer *w, synth_tensor *list,
                                    uint64_t *n, sealm_error *err) {
    const int64_t E = s->n_embd, F = s->n_ff, KV = (int64_t)s->n_embd / s->n_head * s->n_head_kv;
    const bool qwen2 = !strcmp(s->arch, "qwen2");
    char name[96];
    sealm_status st = add(w, list, n, "token_embd.weight", E, n_vocab, matrix_type(s, "token_embd", 0, E), FILL_RANDOM, err);
    for (int32_t l = 0; st == SEALM_OK && l < s->n_layer; l++) {
        static const struct { const char *role; int out; } MATS[] = {
            {"attn_q", 0}, {"attn_k", 1}, {"attn_v", 1}, {"attn_output", 0}, {"ffn_gate", 2}, {"ffn_up", 2}, {"ffn_down", 3},
        };
        snprintf(name, sizeof name, "blk.%d.attn_norm.weight", l);
        st = add(w, list, n, name, E, 1, SEALM_TYPE_F32, FILL_ONES, err);
        for (size_t k = 0; st == SEALM_OK && k < sizeof MATS / sizeof MATS[0]; k++) {
            int64_t cols = MATS[k].out == 3 ? F : E;
            int64_t rows = MATS[k].out == 0 ? E : MATS[k].out == 1 ? KV : MATS[k].out == 2 ? F : E;
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, MATS[k].role);
            st = add(w, list, n, name, cols, rows, matrix_type(s, MATS[k].role, l, cols), FILL_RANDOM, err);
            if (st == SEALM_OK && qwen2 && k < 3) {
                snprintf(name, sizeof name, "blk.%d.%s.bias", l, MATS[k].role);
                st = add(w, list, n, name, rows, 1, SEALM_TYPE_F32, FILL_ZEROS, err);
            }
        }
        snprintf(name, sizeof name, "blk.%d.ffn_norm.weight", l);
        if (st == SEALM_OK) st = add(w, list, n, name, E, 1, SEALM_TYPE_F32, FILL_ONES, err);
    }
    if (st == SEALM_OK) st = add(w, list, n, "output_norm.weight", E, 1, SEALM_TYPE_F32, FILL_ONES, err);
    if (st == SEALM_OK && !s->tied)
        st = add(w, list, n, "output.weight", E, n_vocab, matrix_type(s, "output", 0, E), FILL_RANDOM, err);
    return st;
}

/* Architecture keys (llama.cpp's names) and the source's tokenizer.* keys, byte for byte. */
static sealm_status declare_metadata(const synth_spec *s, const sealm_gguf *tok, int32_t n_vocab, sealm_gguf_writer *w,
                                     sealm_error *err) {
    char key[96], name[160];
    uint32_t ftype = 0;
    for (size_t k = 0; k < sizeof TYPES / sizeof TYPES[0]; k++)
        if (TYPES[k].type == s->type && (!strcmp(TYPES[k].name, "Q4_K_M")) == s->q4_k_m) ftype = TYPES[k].ftype;
    snprintf(name, sizeof name, "sealm synth %s %dx%d, %d layers, seed %llu", s->preset ? s->preset : s->arch,
             s->n_embd, s->n_ff, s->n_layer, (unsigned long long)s->seed);
    sealm_status st = sealm_gguf_writer_set_str(w, "general.architecture", s->arch, err);
    if (!st) st = sealm_gguf_writer_set_str(w, "general.name", name, err);
    if (!st) st = sealm_gguf_writer_set_u32(w, "general.file_type", ftype, err);
#define ARCH_U32(suffix, v) if (!st) { snprintf(key, sizeof key, "%s.%s", s->arch, suffix); st = sealm_gguf_writer_set_u32(w, key, (uint32_t)(v), err); }
#define ARCH_F32(suffix, v) if (!st) { snprintf(key, sizeof key, "%s.%s", s->arch, suffix); st = sealm_gguf_writer_set_f32(w, key, v, err); }
    ARCH_U32("context_length", s->n_ctx_train)
    ARCH_U32("embedding_length", s->n_embd)
    ARCH_U32("block_count", s->n_layer)
    ARCH_U32("feed_forward_length", s->n_ff)
    ARCH_U32("attention.head_count", s->n_head)
    ARCH_U32("attention.head_count_kv", s->n_head_kv)
    ARCH_U32("rope.dimension_count", s->n_embd / s->n_head)
    ARCH_U32("vocab_size", n_vocab)
    ARCH_F32("rope.freq_base", s->rope_base)
    ARCH_F32("attention.layer_norm_rms_epsilon", 1e-5f)
#undef ARCH_U32
#undef ARCH_F32
    for (uint64_t i = 0; !st && i < sealm_gguf_kv_count(tok); i++) {
        sealm_gguf_str k = sealm_gguf_kv_key(tok, i);
        if (k.len > 10 && !memcmp(k.ptr, "tokenizer.", 10)) st = sealm_gguf_writer_copy_kv(w, tok, i, err);
    }
    return st;
}

int cmd_synth(int argc, char **argv) {
    synth_spec s = {.arch = "llama", .n_embd = 256, .n_ff = 768, .n_layer = 4, .n_head = 8, .n_head_kv = 4,
                    .n_ctx_train = 2048, .rope_base = 10000.0f, .type = SEALM_TYPE_Q8_0, .seed = 1};
    int rc = parse_args(&s, argc, argv);
    if (rc >= 0) return rc;

    sealm_error err = {0};
    sealm_gguf *tok = NULL;
    sealm_gguf_writer *w = NULL;
    synth_job job = {.spec = &s};
    uint64_t n_tensors = 0;
    uint64_t n_vocab64 = 0;
    sealm_gguf_value_type et;
    sealm_status st = sealm_gguf_open_file(s.tokenizer_from, &tok, &err);
    if (st) {
        cli_error("%s", err.message);
        return 1;
    }
    if (sealm_gguf_get_arr(tok, "tokenizer.ggml.tokens", &et, &n_vocab64) || et != SEALM_GGUF_STRING || n_vocab64 < 1 ||
        n_vocab64 > 1 << 20) {
        cli_error("%s: no tokenizer.ggml.tokens string array to copy the tokenizer from", s.tokenizer_from);
        sealm_gguf_close(tok);
        return 1;
    }
    int32_t n_vocab = (int32_t)n_vocab64;
    if (s.preset_vocab && s.preset_vocab != n_vocab)
        fprintf(stderr, "sealm: note: %s has %d tokens, the real %s has %d; the embedding follows the tokenizer\n",
                s.tokenizer_from, n_vocab, s.preset, s.preset_vocab);
    job.tensors = calloc(2 + 12 * (size_t)s.n_layer + 2, sizeof *job.tensors);
    job.row = malloc(sizeof(float) * (size_t)(s.n_embd > s.n_ff ? s.n_embd : s.n_ff));
    if (!job.tensors || !job.row) st = sealm_error_set(&err, SEALM_E_NOMEM, "out of memory");
    if (!st) st = sealm_gguf_writer_new(&w, &err);
    if (!st) st = declare_metadata(&s, tok, n_vocab, w, &err);
    if (!st) st = declare_tensors(&s, n_vocab, w, job.tensors, &n_tensors, &err);
    if (!st) st = sealm_gguf_writer_write_file(w, s.out_path, s.force, fill_tensor, &job, &err);
    if (st) {
        cli_error("%s", err.message);
        rc = 1;
    } else {
        uint64_t bytes = 0;
        for (uint64_t i = 0; i < n_tensors; i++) bytes += sealm_gguf_writer_tensor_bytes(w, i);
        printf("wrote %s: %s %s, %d layers, width %d, ffn %d, %d/%d heads, vocab %d%s, %llu tensors, %.1f MiB of weights\n",
               s.out_path, s.arch, s.q4_k_m ? "Q4_K_M" : sealm_tensor_type_name(s.type), s.n_layer, s.n_embd, s.n_ff,
               s.n_head, s.n_head_kv, n_vocab, s.tied ? ", tied" : "", (unsigned long long)n_tensors,
               (double)bytes / (1024.0 * 1024.0));
        rc = 0;
    }
    sealm_gguf_writer_free(w);
    sealm_gguf_close(tok);
    free(job.tensors);
    free(job.row);
    return rc;
}
