/* The Q4_0/Q4_1 weight preparation the x86 tiled prefill kernels share (gemm_avx2_tiles.h,
 * built for AVX2 and AVX-VNNI, and gemm_avx512.c): one definition of the prepared block and
 * of Q4_1's preparation, included into each ISA's translation unit (compiled with that
 * unit's flags, at least AVX2). Q4_0's preparation differs by ISA (its integer start) and
 * stays in each file. */
#ifndef SEALM_ENGINE_GEMM_Q4_PREP_X86_H
#define SEALM_ENGINE_GEMM_Q4_PREP_X86_H

#include "engine/quant.h"
#include "engine/simd_x86.h"

#include <immintrin.h>

/* Q4_0 and Q4_1: per block the 32 quants as bytes in element order (Q4_0's minus 8), the
 * scale, and Q4_1's min or Q4_0's integer start, -128 · sum(q - 8) (the packed activations
 * carry +128). */
typedef struct q4_prep {
    int32_t q[8];
    float d;
    union {
        float m;
        int32_t start;
    } u;
} q4_prep;

/* The 32 quants of a Q4 block (16 bytes, element j in the low nibble of byte j, element
 * j+16 in the high nibble) as 32 bytes in element order, minus sub (0 or 8). */
static inline __attribute__((always_inline)) __m256i q4_unpack(const uint8_t *qs, int sub) {
    return _mm256_sub_epi8(x86_unpack_nibbles16(qs), _mm256_set1_epi8((char)sub));
}

/* rows Q4_1 weight rows of nb blocks each (w_row_bytes apart) into out, as q4_prep blocks
 * row after row. */
static void q4_1_prepare(const uint8_t *w, size_t w_row_bytes, int64_t rows, int64_t nb, void *out) {
    q4_prep *p = out;
    for (int64_t r = 0; r < rows; r++) {
        const block_q4_1 *wb = (const block_q4_1 *)(w + (size_t)r * w_row_bytes);
        for (int64_t i = 0; i < nb; i++, p++) {
            _mm256_storeu_si256((__m256i *)p->q, q4_unpack(wb[i].qs, 0));
            p->d = x86_fp16_to_f32(wb[i].d);
            p->u.m = x86_fp16_to_f32(wb[i].m);
        }
    }
}

#endif
