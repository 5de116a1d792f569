/* The packed activation panel of the tiled prefill products (layout: gemm.h).
 *
 * Packing is plain C: it touches each activation byte once, while the products read each
 * packed byte once per few weight rows, so its speed matters little. The activations are
 * quantized by the table's from_float_fast, a run of blocks at a time, exactly as the
 * unpacked path quantizes them; only where the bytes go differs. */
#include "engine/gemm.h"

#include <string.h>

#define T SEALM_GEMM_TOKENS

/* Elements of one activation block. */
static int64_t block_elems(sealm_tensor_type act) { return act == SEALM_TYPE_Q8_K ? QK_K : 32; }

/* Bytes of one activation block of SEALM_GEMM_TOKENS tokens in the panel: the quants (4
 * bytes per token per 4-element group), then 16 float scales, then (Q8_1) 16 float sums or
 * (Q8_K) 4 pairs of int16 sums per token. */
static size_t group_block_bytes(sealm_tensor_type act) {
    switch (act) {
    case SEALM_TYPE_Q8_0: return 8 * T * 4 + T * sizeof(float);
    case SEALM_TYPE_Q8_1: return 8 * T * 4 + 2 * T * sizeof(float);
    case SEALM_TYPE_Q8_K: return 64 * T * 4 + T * sizeof(float) + 4 * T * 2 * sizeof(int16_t);
    default: return 0;
    }
}

size_t sealm_gemm_panel_bytes(sealm_tensor_type act, int32_t n_tokens, int64_t cols) {
    if (act == SEALM_TYPE_F32) return (size_t)n_tokens * (size_t)cols * sizeof(float);
    if (cols > SEALM_GEMM_MAX_COLS) return 0;
    const size_t groups = (size_t)(n_tokens + T - 1) / T;
    return groups * (size_t)(cols / block_elems(act)) * group_block_bytes(act);
}

/* Token lane of one quantized block into its place in the panel block pb. Q8_0 and Q8_K
 * quants get their sign bit flipped (q + 128 as an unsigned byte: the kernels' unsigned
 * operand). */
static void scatter_block(sealm_tensor_type act, const void *blk, uint8_t *pb, int lane) {
    if (act == SEALM_TYPE_Q8_K) {
        const block_q8_K *b = blk;
        for (int g = 0; g < QK_K / 4; g++)
            for (int e = 0; e < 4; e++) pb[g * T * 4 + lane * 4 + e] = (uint8_t)((uint8_t)b->qs[4 * g + e] ^ 0x80);
        float *scales = (float *)(pb + 64 * T * 4);
        scales[lane] = b->d;
        /* the sums of each 32 quants (two 16-sums), in pairs: (chunk 2l, chunk 2l+1) */
        int16_t *pairs = (int16_t *)(scales + T);
        for (int l = 0; l < 4; l++) {
            pairs[(l * T + lane) * 2] = (int16_t)(b->bsums[4 * l] + b->bsums[4 * l + 1]);
            pairs[(l * T + lane) * 2 + 1] = (int16_t)(b->bsums[4 * l + 2] + b->bsums[4 * l + 3]);
        }
        return;
    }
    const int8_t *q;
    float d, s = 0.0f;
    uint8_t flip;
    if (act == SEALM_TYPE_Q8_0) {
        const block_q8_0 *b = blk;
        q = b->qs;
        d = sealm_fp16_to_fp32(b->d);
        flip = 0x80;
    } else {
        const block_q8_1 *b = blk;
        q = b->qs;
        d = sealm_fp16_to_fp32(b->d);
        s = sealm_fp16_to_fp32(b->s);
        flip = 0;
    }
    for (int k = 0; k < 8; k++)
        for (int e = 0; e < 4; e++)
            pb[k * T * 4 + lane * 4 + e] = (uint8_t)((uint8_t)q[4 * k + e] ^ flip);
    float *scales = (float *)(pb + 8 * T * 4);
    scales[lane] = d;
    if (act == SEALM_TYPE_Q8_1) scales[T + lane] = s;
}

void sealm_gemm_pack(sealm_tensor_type act, const float *x, int64_t x_stride, int64_t cols, int32_t n_tokens,
                     int32_t t0, int32_t t1, void *panel) {
    if (act == SEALM_TYPE_F32) {   /* the rows as they are, side by side */
        for (int32_t t = t0; t < t1; t++)
            memcpy((float *)panel + (int64_t)t * cols, x + (int64_t)t * x_stride, (size_t)cols * sizeof(float));
        return;
    }
    const sealm_type_traits *tr = sealm_type_traits_get(act);
    const size_t pbb = group_block_bytes(act);
    const int64_t be = block_elems(act), nb = cols / be;
    const size_t group_bytes = (size_t)nb * pbb;
    uint8_t *p = panel;
    /* the quantizer runs on a run of blocks at a time, into this buffer */
    _Alignas(64) uint8_t run[64 * sizeof(block_q8_1)];
    const int64_t run_blocks = (int64_t)(sizeof run / tr->block_bytes);
    for (int32_t t = t0; t < t1; t++) {
        uint8_t *g = p + (size_t)(t / T) * group_bytes;
        const int lane = t % T;
        for (int64_t b0 = 0; b0 < nb; b0 += run_blocks) {
            const int64_t len = nb - b0 < run_blocks ? nb - b0 : run_blocks;
            tr->from_float_fast(x + (int64_t)t * x_stride + b0 * be, run, len * be);
            for (int64_t i = 0; i < len; i++)
                scatter_block(act, run + (size_t)i * tr->block_bytes, g + (size_t)(b0 + i) * pbb, lane);
        }
    }
    /* the lanes past the last token: zero, so the kernels read defined bytes. Every row of
     * T lanes in a panel block (quants, scales, sums) is 4 bytes a lane. */
    if (t1 == n_tokens && n_tokens % T != 0) {
        uint8_t *g = p + (size_t)(n_tokens / T) * group_bytes;
        const int used = n_tokens % T;
        for (int64_t i = 0; i < nb; i++)
            for (size_t row = 0; row < pbb / (T * 4); row++)
                memset(g + (size_t)i * pbb + row * T * 4 + (size_t)used * 4, 0, (size_t)(T - used) * 4);
    }
}
