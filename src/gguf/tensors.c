/* Tensor lookup and the table of tensor types: elements and bytes per quantization block. */
#include "gguf_internal.h"

/* A type's block: ne[0] must be a multiple of elems, and every block takes bytes. */
typedef struct tensor_type_info {
    const char *name;
    int64_t elems;
    size_t bytes;
} tensor_type_info;

/* Indexed by ggml type number; elems == 0 marks a number the reader cannot load.
 * K-quant sizes: Q2_K = 16 scales/mins + 64 quants + 2 f16; Q3_K = 32 hmask + 64 quants +
 * 12 scales + f16; Q4_K = 2 f16 + 12 scales + 128 quants; Q5_K = Q4_K + 32 high bits;
 * Q6_K = 128 low + 64 high + 16 scales + f16; Q8_K = f32 + 256 quants + 16 i16 sums. */
static const tensor_type_info type_table[SEALM_TYPE_COUNT] = {
    [SEALM_TYPE_F32] = {"F32", 1, 4},
    [SEALM_TYPE_F16] = {"F16", 1, 2},
    [SEALM_TYPE_Q4_0] = {"Q4_0", 32, 18},
    [SEALM_TYPE_Q4_1] = {"Q4_1", 32, 20},
    [SEALM_TYPE_Q5_0] = {"Q5_0", 32, 22},
    [SEALM_TYPE_Q5_1] = {"Q5_1", 32, 24},
    [SEALM_TYPE_Q8_0] = {"Q8_0", 32, 34},
    [SEALM_TYPE_Q8_1] = {"Q8_1", 32, 36},
    [SEALM_TYPE_Q2_K] = {"Q2_K", 256, 84},
    [SEALM_TYPE_Q3_K] = {"Q3_K", 256, 110},
    [SEALM_TYPE_Q4_K] = {"Q4_K", 256, 144},
    [SEALM_TYPE_Q5_K] = {"Q5_K", 256, 176},
    [SEALM_TYPE_Q6_K] = {"Q6_K", 256, 210},
    [SEALM_TYPE_Q8_K] = {"Q8_K", 256, 292},
    [SEALM_TYPE_BF16] = {"BF16", 1, 2},
};

bool sealm_tensor_type_block(sealm_tensor_type t, int64_t *block_elems, size_t *block_bytes) {
    if ((unsigned)t >= SEALM_TYPE_COUNT || type_table[t].elems == 0) return false;
    if (block_elems) *block_elems = type_table[t].elems;
    if (block_bytes) *block_bytes = type_table[t].bytes;
    return true;
}

const char *sealm_tensor_type_name(sealm_tensor_type t) {
    if ((unsigned)t >= SEALM_TYPE_COUNT || type_table[t].elems == 0) return "unknown";
    return type_table[t].name;
}

const char *sealm_gguf_ggml_type_name(uint32_t t) {
    /* ggml type numbers this reader does not load, named so that an error message tells
     * the user which quantization the file uses (and so what to re-quantize from). */
    static const char *const others[] = {
        [4] = "Q4_2 (removed from ggml)", [5] = "Q4_3 (removed from ggml)",
        [16] = "IQ2_XXS", [17] = "IQ2_XS", [18] = "IQ3_XXS", [19] = "IQ1_S", [20] = "IQ4_NL",
        [21] = "IQ3_S", [22] = "IQ2_S", [23] = "IQ4_XS", [24] = "I8", [25] = "I16", [26] = "I32",
        [27] = "I64", [28] = "F64", [29] = "IQ1_M", [31] = "Q4_0_4_4", [32] = "Q4_0_4_8",
        [33] = "Q4_0_8_8", [34] = "TQ1_0", [35] = "TQ2_0",
    };
    if (t < SEALM_TYPE_COUNT && type_table[t].elems != 0) return type_table[t].name;
    if (t < sizeof others / sizeof others[0] && others[t]) return others[t];
    return "unknown";
}

uint64_t sealm_gguf_tensor_count(const sealm_gguf *g) {
    return g ? g->n_tensors : 0;
}

const sealm_gguf_tensor *sealm_gguf_tensor_at(const sealm_gguf *g, uint64_t i) {
    if (!g || i >= g->n_tensors) return NULL;
    return &g->tensors[i];
}

const sealm_gguf_tensor *sealm_gguf_find_tensor(const sealm_gguf *g, const char *name) {
    if (!g || !name) return NULL;
    sealm_gguf_str want = {name, strlen(name)};
    uint64_t lo = 0, hi = g->n_tensors;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        int c = sealm_gguf_str_cmp(g->tensor_by_name[mid]->name, want);
        if (c == 0) return g->tensor_by_name[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}
