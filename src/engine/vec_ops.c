/* Scalar vector operations (attention scores over the F16 KV cache, norms) and the table
 * of installed ones. dot_f32 / dot_f16 accumulate in double, a fair yardstick for SIMD
 * versions that may add in any order; dot_f16_lane16 pins its order instead, and every
 * SIMD version reproduces it bit for bit. */
#include "engine/attention.h"
#include "engine/elementwise.h"
#include "engine/quant_ref.h"

static float dot_f32_ref(const float *a, const float *b, int64_t n) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)(a[i] * b[i]);
    return (float)sum;
}

static float dot_f16_ref(const sealm_fp16 *a, const sealm_fp16 *b, int64_t n) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)(sealm_fp16_to_fp32(a[i]) * sealm_fp16_to_fp32(b[i]));
    return (float)sum;
}

/* lane-16 order (quant_ref.h): sixteen fmaf chains, one per index mod 16 */
static float dot_f16_lane16_ref(const sealm_fp16 *a, const sealm_fp16 *b, int64_t n) {
    float lane[16] = {0};
    for (int64_t i = 0; i < n; i++)
        lane[i & 15] = fmaf(sealm_fp16_to_fp32(a[i]), sealm_fp16_to_fp32(b[i]), lane[i & 15]);
    return sealm_lane16_sum(lane);
}

static void axpy_f16_ref(float *y, float a, const sealm_fp16 *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        y[i] += a * sealm_fp16_to_fp32(x[i]);
}

static void fp32_to_fp16_row_ref(const float *x, sealm_fp16 *y, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        y[i] = sealm_fp32_to_fp16(x[i]);
}

static void fp16_to_fp32_row_ref(const sealm_fp16 *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        y[i] = sealm_fp16_to_fp32(x[i]);
}

static float dot_f32_untiled_ref(const float *a, const float *b, int64_t n) {
    float s;
    sealm_f32_vec_dot_untiled(n, &s, a, b);
    return s;
}

static void swiglu_ref(float *g, const float *u, int64_t n) { sealm_ew_swiglu(g, u, n); }
static double softmax_exp_ref(float *scores, int32_t n, float max) { return sealm_ew_softmax_exp(scores, n, max); }
static void rope_ref(float *x, int n_heads, int head_dim, int n_rot, bool neox, const float *c, const float *s) {
    sealm_ew_rope(x, n_heads, head_dim, n_rot, neox, c, s);
}

/* The scalar reference ops: the pristine set, and the one sealm_kernels_init /
 * sealm_kernels_set_level install into (cpu.c), which starts out the same. */
#define REF_OPS { \
    .dot_f32 = dot_f32_ref, \
    .dot_f16 = dot_f16_ref, \
    .dot_f16_lane16 = dot_f16_lane16_ref, \
    .axpy_f16 = axpy_f16_ref, \
    .fp32_to_fp16_row = fp32_to_fp16_row_ref, \
    .fp16_to_fp32_row = fp16_to_fp32_row_ref, \
    .swiglu = swiglu_ref, \
    .softmax_exp = softmax_exp_ref, \
    .rope = rope_ref, \
    .dot_f32_untiled = dot_f32_untiled_ref, \
    .attn_scores = sealm_attn_scores_ref, \
    .attn_pv = sealm_attn_pv_ref, \
    .attn_softmax = sealm_attn_softmax_ref, \
    .attn_group_scores = sealm_attn_group_scores_ref, \
    .attn_group_pv = sealm_attn_group_pv_ref, \
}
static const sealm_vec_ops ops_ref = REF_OPS;
static sealm_vec_ops ops_installed = REF_OPS;
#undef REF_OPS

const sealm_vec_ops *sealm_vec_ops_get(void) { return &ops_installed; }
const sealm_vec_ops *sealm_vec_ops_ref(void) { return &ops_ref; }
sealm_vec_ops *sealm_vec_ops_installed(void) { return &ops_installed; }

void sealm_f32_vec_dot_untiled_fast(int64_t n, float *restrict s, const void *restrict w, const void *restrict x) {
    *s = ops_installed.dot_f32_untiled(w, x, n);
}
