/* Loading a model: hyperparameters from metadata, weights bound in place, every shape checked. */
#include "engine/model.h"
#include "engine/quant_ref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct arch_info {
    const char *name;
    sealm_arch arch;
    bool has_qkv_bias;
} arch_info;

static const arch_info ARCHES[] = {
    {"llama", SEALM_ARCH_LLAMA, false},
    {"qwen2", SEALM_ARCH_QWEN2, true},
};

size_t sealm_row_bytes(sealm_tensor_type t, int64_t cols) {
    int64_t be;
    size_t bb;
    if (!sealm_tensor_type_block(t, &be, &bb) || be <= 0) return 0;
    return (size_t)(cols / be) * bb;
}

/* ---- hyperparameters ---- */

static sealm_status get_arch_u32(const sealm_gguf *g, const char *arch, const char *suffix,
                                 bool required, uint32_t fallback, int32_t *out, sealm_error *err) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    uint32_t v = fallback;
    sealm_status s = sealm_gguf_get_u32(g, key, &v);
    if (s == SEALM_E_NOT_FOUND && !required) s = SEALM_OK;
    if (s == SEALM_E_NOT_FOUND)
        return sealm_error_set(err, SEALM_E_FORMAT, "model metadata lacks '%s', which a %s model needs", key, arch);
    if (s != SEALM_OK)
        return sealm_error_set(err, SEALM_E_FORMAT, "metadata '%s' is not a single unsigned integer (per-layer values are not supported)", key);
    if (v > (uint32_t)INT32_MAX)
        return sealm_error_set(err, SEALM_E_FORMAT, "metadata '%s' = %u is too large", key, v);
    *out = (int32_t)v;
    return SEALM_OK;
}

static sealm_status get_arch_f32(const sealm_gguf *g, const char *arch, const char *suffix,
                                 float fallback, float *out, sealm_error *err) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    float v = fallback;
    sealm_status s = sealm_gguf_get_f32(g, key, &v);
    if (s != SEALM_OK && s != SEALM_E_NOT_FOUND)
        return sealm_error_set(err, SEALM_E_FORMAT, "metadata '%s' is not a number", key);
    if (!isfinite(v))
        return sealm_error_set(err, SEALM_E_FORMAT, "metadata '%s' is not finite", key);
    *out = v;
    return SEALM_OK;
}

static sealm_status read_hparams(const sealm_gguf *g, sealm_hparams *hp, const arch_info **ai, sealm_error *err) {
    sealm_gguf_str arch_str;
    if (sealm_gguf_get_str(g, "general.architecture", &arch_str) != SEALM_OK)
        return sealm_error_set(err, SEALM_E_FORMAT, "model metadata lacks 'general.architecture'; is this a GGUF model file?");
    char arch[64];
    if (arch_str.len >= sizeof arch)
        return sealm_error_set(err, SEALM_E_UNSUPPORTED, "architecture name is %llu bytes long; supported: llama, qwen2",
                               (unsigned long long)arch_str.len);
    memcpy(arch, arch_str.ptr, arch_str.len);
    arch[arch_str.len] = '\0';
    *ai = NULL;
    for (size_t i = 0; i < sizeof ARCHES / sizeof ARCHES[0]; i++)
        if (strcmp(arch, ARCHES[i].name) == 0) *ai = &ARCHES[i];
    if (!*ai) {
        for (char *p = arch; *p; p++) if (*p < 0x20 || *p > 0x7e) *p = '?';
        return sealm_error_set(err, SEALM_E_UNSUPPORTED, "architecture '%s' is not supported (supported: llama, qwen2)", arch);
    }
    memset(hp, 0, sizeof *hp);
    hp->arch = (*ai)->arch;

    sealm_status s;
    if ((s = get_arch_u32(g, arch, "embedding_length", true, 0, &hp->n_embd, err))) return s;
    if ((s = get_arch_u32(g, arch, "feed_forward_length", true, 0, &hp->n_ff, err))) return s;
    if ((s = get_arch_u32(g, arch, "block_count", true, 0, &hp->n_layer, err))) return s;
    if ((s = get_arch_u32(g, arch, "attention.head_count", true, 0, &hp->n_head, err))) return s;
    if ((s = get_arch_u32(g, arch, "attention.head_count_kv", false, (uint32_t)hp->n_head, &hp->n_head_kv, err))) return s;
    if ((s = get_arch_u32(g, arch, "context_length", false, 2048, &hp->n_ctx_train, err))) return s;
    if (hp->n_embd < 1 || hp->n_ff < 1 || hp->n_layer < 1 || hp->n_head < 1 || hp->n_head_kv < 1)
        return sealm_error_set(err, SEALM_E_FORMAT, "model hyperparameters must be positive (embedding %d, ffn %d, layers %d, heads %d, kv heads %d)",
                               hp->n_embd, hp->n_ff, hp->n_layer, hp->n_head, hp->n_head_kv);
    if (hp->n_embd % hp->n_head != 0)
        return sealm_error_set(err, SEALM_E_FORMAT, "embedding length %d is not a multiple of the head count %d", hp->n_embd, hp->n_head);
    hp->head_dim = hp->n_embd / hp->n_head;
    int32_t key_length = hp->head_dim;
    if ((s = get_arch_u32(g, arch, "attention.key_length", false, (uint32_t)hp->head_dim, &key_length, err))) return s;
    if (key_length != hp->head_dim)
        return sealm_error_set(err, SEALM_E_UNSUPPORTED, "attention head size %d differs from embedding/heads = %d; not supported",
                               key_length, hp->head_dim);
    if (hp->n_head % hp->n_head_kv != 0)
        return sealm_error_set(err, SEALM_E_FORMAT, "head count %d is not a multiple of the KV head count %d", hp->n_head, hp->n_head_kv);
    if ((s = get_arch_u32(g, arch, "rope.dimension_count", false, (uint32_t)hp->head_dim, &hp->n_rot, err))) return s;
    if (hp->n_rot < 2 || hp->n_rot > hp->head_dim || hp->n_rot % 2 != 0)
        return sealm_error_set(err, SEALM_E_FORMAT, "RoPE dimension count %d must be even and in [2, head size %d]", hp->n_rot, hp->head_dim);
    if ((s = get_arch_f32(g, arch, "rope.freq_base", 10000.0f, &hp->rope_freq_base, err))) return s;
    if (hp->rope_freq_base <= 1.0f)
        return sealm_error_set(err, SEALM_E_FORMAT, "RoPE frequency base %g must be > 1", (double)hp->rope_freq_base);
    float scale_factor = 0.0f;
    if ((s = get_arch_f32(g, arch, "rope.scaling.factor", 0.0f, &scale_factor, err))) return s;
    hp->rope_freq_scale = 1.0f;
    {
        char key[128];
        snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
        sealm_gguf_str type;
        if (sealm_gguf_get_str(g, key, &type) == SEALM_OK && type.len > 0 &&
            !(type.len == 4 && memcmp(type.ptr, "none", 4) == 0)) {
            if (!(type.len == 6 && memcmp(type.ptr, "linear", 6) == 0))
                return sealm_error_set(err, SEALM_E_UNSUPPORTED, "RoPE scaling type '%.*s' is not supported (only linear)",
                                       (int)(type.len > 32 ? 32 : type.len), type.ptr);
        }
    }
    if (scale_factor > 0.0f) hp->rope_freq_scale = 1.0f / scale_factor;
    {
        char key[128];
        snprintf(key, sizeof key, "%s.rope.scale_linear", arch);
        float lin = 0.0f;
        if (sealm_gguf_get_f32(g, key, &lin) == SEALM_OK && lin > 0.0f) hp->rope_freq_scale = 1.0f / lin;
    }
    if ((s = get_arch_f32(g, arch, "attention.layer_norm_rms_epsilon", 1e-5f, &hp->norm_eps, err))) return s;
    if (!(hp->norm_eps > 0.0f && hp->norm_eps < 1.0f))
        return sealm_error_set(err, SEALM_E_FORMAT, "RMSNorm epsilon %g is outside (0, 1)", (double)hp->norm_eps);
    return SEALM_OK;
}

/* ---- tensors ---- */

static const sealm_gguf_tensor *find_tensor(const sealm_gguf *g, const char *fmt, int layer) {
    char name[96];
    snprintf(name, sizeof name, fmt, layer);
    return sealm_gguf_find_tensor(g, name);
}

static sealm_status bind_matrix(const sealm_gguf *g, sealm_weight *w, const char *fmt, int layer,
                                int64_t cols, int64_t rows, uint64_t *bytes, sealm_error *err) {
    char name[96];
    snprintf(name, sizeof name, fmt, layer);
    const sealm_gguf_tensor *t = sealm_gguf_find_tensor(g, name);
    if (!t) return sealm_error_set(err, SEALM_E_FORMAT, "model lacks tensor '%s'", name);
    if (t->n_dims != 2 || t->ne[0] != cols || t->ne[1] != rows)
        return sealm_error_set(err, SEALM_E_FORMAT, "tensor '%s' has shape [%lld, %lld, %lld]; expected [%lld, %lld]",
                               name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                               (long long)cols, (long long)rows);
    const sealm_type_traits *tr = sealm_type_traits_get(t->type);
    if (!tr || !tr->vec_dot || !tr->to_float)
        return sealm_error_set(err, SEALM_E_UNSUPPORTED, "tensor '%s' has type %s, which the engine cannot compute with "
                               "(supported: F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K Q4_K Q5_K Q6_K)",
                               name, sealm_tensor_type_name(t->type));
    /* Blocks hold 16-bit scales read as struct fields: the image must keep GGUF's alignment. */
    if (((uintptr_t)t->data & 3u) != 0)
        return sealm_error_set(err, SEALM_E_FORMAT, "tensor '%s' data is not 4-byte aligned in memory; load the image "
                               "from an aligned buffer", name);
    w->data = t->data;
    w->traits = tr;
    w->dot = t->type == SEALM_TYPE_F32 && cols % 16 != 0 ? sealm_f32_vec_dot_untiled_fast : tr->vec_dot;
    w->rows = rows;
    w->cols = cols;
    w->row_bytes = sealm_row_bytes(t->type, cols);
    *bytes += t->size_bytes;
    return SEALM_OK;
}

/* Copies a 1-D tensor of n elements (any supported type) into a new F32 array. */
static sealm_status copy_vector(const sealm_gguf *g, float **out, const char *fmt, int layer, int64_t n,
                                bool required, uint64_t *bytes, sealm_error *err) {
    char name[96];
    snprintf(name, sizeof name, fmt, layer);
    *out = NULL;
    const sealm_gguf_tensor *t = sealm_gguf_find_tensor(g, name);
    if (!t) {
        if (!required) return SEALM_OK;
        return sealm_error_set(err, SEALM_E_FORMAT, "model lacks tensor '%s'", name);
    }
    if (t->n_dims != 1 || t->ne[0] != n)
        return sealm_error_set(err, SEALM_E_FORMAT, "tensor '%s' has %u dims, first %lld; expected a vector of %lld",
                               name, t->n_dims, (long long)t->ne[0], (long long)n);
    const sealm_type_traits *tr = sealm_type_traits_get(t->type);
    if (!tr || !tr->to_float)
        return sealm_error_set(err, SEALM_E_UNSUPPORTED, "tensor '%s' has unsupported type %s", name, sealm_tensor_type_name(t->type));
    float *v = malloc((size_t)n * sizeof *v);
    if (!v) return sealm_error_set(err, SEALM_E_NOMEM, "out of memory copying tensor '%s'", name);
    /* The image may not be 4-byte aligned for F32 (a memory buffer): dequantize from an
     * aligned copy of the raw bytes. */
    void *raw = malloc(t->size_bytes ? t->size_bytes : 1);
    if (!raw) {
        free(v);
        return sealm_error_set(err, SEALM_E_NOMEM, "out of memory copying tensor '%s'", name);
    }
    memcpy(raw, t->data, t->size_bytes);
    tr->to_float(raw, v, n);
    free(raw);
    *bytes += t->size_bytes;
    *out = v;
    return SEALM_OK;
}

static sealm_status bind_layer(const sealm_gguf *g, const sealm_hparams *hp, bool bias, int l,
                               sealm_layer_weights *L, uint64_t *bytes, sealm_error *err) {
    const int64_t d = hp->n_embd, kv = (int64_t)hp->n_head_kv * hp->head_dim, ff = hp->n_ff;
    sealm_status s;
    if ((s = copy_vector(g, &L->attn_norm, "blk.%d.attn_norm.weight", l, d, true, bytes, err))) return s;
    if ((s = bind_matrix(g, &L->wq, "blk.%d.attn_q.weight", l, d, d, bytes, err))) return s;
    if ((s = bind_matrix(g, &L->wk, "blk.%d.attn_k.weight", l, d, kv, bytes, err))) return s;
    if ((s = bind_matrix(g, &L->wv, "blk.%d.attn_v.weight", l, d, kv, bytes, err))) return s;
    if ((s = bind_matrix(g, &L->wo, "blk.%d.attn_output.weight", l, d, d, bytes, err))) return s;
    /* qwen2 has Q/K/V biases; llama files may carry them too (some finetunes) — use them when present. */
    if ((s = copy_vector(g, &L->bq, "blk.%d.attn_q.bias", l, d, bias, bytes, err))) return s;
    if ((s = copy_vector(g, &L->bk, "blk.%d.attn_k.bias", l, kv, bias, bytes, err))) return s;
    if ((s = copy_vector(g, &L->bv, "blk.%d.attn_v.bias", l, kv, bias, bytes, err))) return s;
    if ((s = copy_vector(g, &L->ffn_norm, "blk.%d.ffn_norm.weight", l, d, true, bytes, err))) return s;
    if ((s = bind_matrix(g, &L->w_gate, "blk.%d.ffn_gate.weight", l, d, ff, bytes, err))) return s;
    if ((s = bind_matrix(g, &L->w_up, "blk.%d.ffn_up.weight", l, d, ff, bytes, err))) return s;
    if ((s = bind_matrix(g, &L->w_down, "blk.%d.ffn_down.weight", l, ff, d, bytes, err))) return s;
    return SEALM_OK;
}

static sealm_status read_vocab_size(const sealm_gguf *g, sealm_hparams *hp, sealm_error *err) {
    const sealm_gguf_tensor *emb = sealm_gguf_find_tensor(g, "token_embd.weight");
    if (!emb) return sealm_error_set(err, SEALM_E_FORMAT, "model lacks tensor 'token_embd.weight'");
    if (emb->n_dims != 2 || emb->ne[0] != hp->n_embd || emb->ne[1] < 1 || emb->ne[1] > INT32_MAX)
        return sealm_error_set(err, SEALM_E_FORMAT, "tensor 'token_embd.weight' has shape [%lld, %lld]; expected [%d, n_vocab]",
                               (long long)emb->ne[0], (long long)emb->ne[1], hp->n_embd);
    hp->n_vocab = (int32_t)emb->ne[1];
    return SEALM_OK;
}

sealm_status sealm_model_load(const sealm_gguf *g, sealm_model **out, sealm_error *err) {
    if (!g || !out) return sealm_error_set(err, SEALM_E_INVALID, "sealm_model_load: NULL argument");
    *out = NULL;
    sealm_kernels_init();
    sealm_model *m = calloc(1, sizeof *m);
    if (!m) return sealm_error_set(err, SEALM_E_NOMEM, "out of memory loading the model");
    m->gguf = g;
    const arch_info *ai = NULL;
    sealm_status s = read_hparams(g, &m->hp, &ai, err);
    if (!s) s = read_vocab_size(g, &m->hp, err);
    sealm_hparams *hp = &m->hp;
    uint64_t bytes = 0;
    if (!s) s = bind_matrix(g, &m->tok_embd, "token_embd.weight", 0, hp->n_embd, hp->n_vocab, &bytes, err);
    if (!s) s = copy_vector(g, &m->output_norm, "output_norm.weight", 0, hp->n_embd, true, &bytes, err);
    if (!s) {
        if (find_tensor(g, "output.weight", 0)) {
            s = bind_matrix(g, &m->output, "output.weight", 0, hp->n_embd, hp->n_vocab, &bytes, err);
        } else {
            m->output = m->tok_embd;   /* tied embeddings: logits = E · h */
            hp->tied_output = true;
        }
    }
    if (!s) s = copy_vector(g, &m->rope_freq_factors, "rope_freqs.weight", 0, hp->n_rot / 2, false, &bytes, err);
    if (!s) {
        m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
        if (!m->layers) s = sealm_error_set(err, SEALM_E_NOMEM, "out of memory loading %d layers", hp->n_layer);
    }
    for (int l = 0; !s && l < hp->n_layer; l++) s = bind_layer(g, hp, ai->has_qkv_bias, l, &m->layers[l], &bytes, err);
    if (s) {
        sealm_model_free(m);
        return s;
    }
    m->weight_bytes = bytes;
    *out = m;
    return SEALM_OK;
}

void sealm_model_free(sealm_model *m) {
    if (!m) return;
    if (m->layers) {
        for (int l = 0; l < m->hp.n_layer; l++) {
            sealm_layer_weights *L = &m->layers[l];
            free(L->attn_norm);
            free(L->ffn_norm);
            free(L->bq);
            free(L->bk);
            free(L->bv);
        }
        free(m->layers);
    }
    free(m->output_norm);
    free(m->rope_freq_factors);
    free(m);
}

const sealm_hparams *sealm_model_hparams(const sealm_model *m) { return &m->hp; }
uint64_t sealm_model_weight_bytes(const sealm_model *m) { return m->weight_bytes; }

uint64_t sealm_model_kv_bytes(const sealm_model *m, int32_t n_ctx) {
    const sealm_hparams *hp = &m->hp;
    return 2ull * (uint64_t)hp->n_layer * (uint64_t)(n_ctx > 0 ? n_ctx : 0) *
           (uint64_t)hp->n_head_kv * (uint64_t)hp->head_dim * sizeof(sealm_fp16);
}
