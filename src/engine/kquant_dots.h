/* Engine-internal: the loops of the K-quant dot products (Q4_K, Q6_K · Q8_K), written once
 * for every SIMD level around that level's super-block step.
 *
 * A level supplies
 *   ACT                      what its step needs from one activation block (a struct),
 *   ACT_OF(x, &act)          fills it from Q8_K block x (always inline),
 *   CHAIN, ZERO              one dot's running sums (quant_ref.h's accumulation order) and
 *                            their start,
 *   STEP(w, &act, chain)     one super-block of one chain -> chain,
 *   FINISH(chain)            the chain's float,
 *   NEXT_ROWS, PREFETCH_STEP decode's software prefetch (simd_x86.h), or the no-ops below,
 * and gets
 *   vec_dot_<SUFFIX>     one chain, super-blocks in order;
 *   vec_dot_x4_<SUFFIX>  four chains side by side, block i of each before block i+1 of any,
 *                        so that their latencies overlap; each chain sees the operations
 *                        of vec_dot's, so each result keeps its bits (test_kernels.c).
 * Decode passes the four rows one activation (four rows times one token): ACT is then
 * filled once per super-block instead of four times. The loop is written out twice, with
 * and without the shared activation, so that the test is not made per block.
 *
 * Include it only from the kernel files (each gets its own static copies, built with its
 * own ISA flags). */
#ifndef SEALM_ENGINE_KQUANT_DOTS_H
#define SEALM_ENGINE_KQUANT_DOTS_H

#include "engine/quant.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* For levels without software prefetch: no next rows, nothing to fetch. */
static inline uintptr_t kquant_no_next_rows(const void *w0, const void *w1, const void *w2, const void *w3,
                                            size_t row_bytes) {
    (void)w0, (void)w1, (void)w2, (void)w3, (void)row_bytes;
    return 0;
}
static inline void kquant_no_prefetch(uintptr_t next, int64_t step, size_t bytes_per_step) {
    (void)next, (void)step, (void)bytes_per_step;
}

#define SUPERBLOCK_DOTS(SUFFIX, WBLOCK, ACT, ACT_OF, CHAIN, ZERO, STEP, FINISH, NEXT_ROWS, PREFETCH_STEP) \
    static void vec_dot_##SUFFIX(int64_t n, float *restrict s, const void *restrict vw,          \
                                 const void *restrict vx) {                                      \
        const WBLOCK *w = vw;                                                                   \
        const block_q8_K *x = vx;                                                               \
        CHAIN ch = ZERO;                                                                        \
        for (int64_t i = 0; i < n / QK_K; i++) {                                                \
            ACT act;                                                                            \
            ACT_OF(&x[i], &act);                                                                \
            ch = STEP(&w[i], &act, ch);                                                         \
        }                                                                                       \
        *s = FINISH(ch);                                                                        \
    }                                                                                           \
    static inline __attribute__((always_inline)) void x4_rows_##SUFFIX(                        \
        int64_t nb, float *restrict s, const void *const vw[4], const void *const vx[4], bool one_x) { \
        const WBLOCK *w0 = vw[0], *w1 = vw[1], *w2 = vw[2], *w3 = vw[3];                        \
        const block_q8_K *x0 = vx[0], *x1 = vx[1], *x2 = vx[2], *x3 = vx[3];                    \
        CHAIN c0 = ZERO, c1 = c0, c2 = c0, c3 = c0;                                             \
        const uintptr_t next = NEXT_ROWS(vw[0], vw[1], vw[2], vw[3], (size_t)nb * sizeof(WBLOCK)); \
        for (int64_t i = 0; i < nb; i++) {                                                      \
            PREFETCH_STEP(next, i, 4 * sizeof(WBLOCK));                                         \
            ACT act;                                                                            \
            ACT_OF(&x0[i], &act);                                                               \
            c0 = STEP(&w0[i], &act, c0);                                                        \
            if (!one_x) ACT_OF(&x1[i], &act);                                                   \
            c1 = STEP(&w1[i], &act, c1);                                                        \
            if (!one_x) ACT_OF(&x2[i], &act);                                                   \
            c2 = STEP(&w2[i], &act, c2);                                                        \
            if (!one_x) ACT_OF(&x3[i], &act);                                                   \
            c3 = STEP(&w3[i], &act, c3);                                                        \
        }                                                                                       \
        s[0] = FINISH(c0);                                                                      \
        s[1] = FINISH(c1);                                                                      \
        s[2] = FINISH(c2);                                                                      \
        s[3] = FINISH(c3);                                                                      \
    }                                                                                           \
    static void vec_dot_x4_##SUFFIX(int64_t n, float *restrict s, const void *const vw[4],       \
                                    const void *const vx[4]) {                                  \
        if (vx[0] == vx[1] && vx[0] == vx[2] && vx[0] == vx[3])                                 \
            x4_rows_##SUFFIX(n / QK_K, s, vw, vx, true);                                        \
        else                                                                                    \
            x4_rows_##SUFFIX(n / QK_K, s, vw, vx, false);                                       \
    }

#endif
