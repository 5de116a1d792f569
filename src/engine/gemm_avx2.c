/* AVX2 tiled prefill products: Q4_0 · Q8_0, Q8_0 · Q8_0 and Q4_1 · Q8_1 over the packed
 * activation panels of gemm.h, for x86-64 CPUs without AVX-512 VNNI (most edge boxes).
 *
 * A ymm register holds 8 float or int32 lanes, so a packed token group of 16 is worked on
 * in two halves of 8 tokens: half h of 4-byte group k is the 32 bytes at offset 32·h of
 * that group's 64 (tokens 8h..8h+7, four quants each), and its scales are floats 8h..8h+7.
 * AVX2 multiplies bytes only with vpmaddubsw (unsigned × signed bytes, adjacent pairs added
 * into int16); vpmaddwd by ones then adds the two pairs of each token into its int32 sum
 * over the group: lane t holds the exact integer sum over elements 4k..4k+3 of token t, the
 * term of the pinned orders (quant_ref.h). The float accumulation then runs per (row,
 * token) with the reference's operations in the reference's order, one token per lane, so
 * every result has vec_dot_ref's bits.
 *
 * Q4_0 (one fmaf chain over whole-block sums): the weights' q - 8 (|q - 8| <= 8) are the
 * signed operand and the panel's quant + 128 (0..255) the unsigned one; a pair is at most
 * 2·255·8 = 4080 in magnitude, so the eight groups of a block add up in int16 without
 * overflow (8·4080 = 32640), and one vpmaddwd per block and tile row gives the block sum
 * plus 128·sum(q - 8), which a per-block start taken once per row panel removes. Then one
 * vector FMA per block advances the 8 tokens' chains. Tiles: Q4_0_RM rows × 16 tokens (× 8
 * when the last group holds 8 tokens or fewer).
 *
 * Q8_0 and Q4_1 (lane-8): each (row, token, k) has its own accumulator, eight registers a
 * row for 8 tokens, so a tile is one row × 8 tokens. Q8_0's weights reach ±127 (a pair of
 * 255·127 products would saturate int16), so the panel's bytes get their sign back (xor
 * 0x80) and the product is |w| · (x with w's sign), the usual sign trick: |pair| <=
 * 2·128·127. Q4_1's nibbles are unsigned and its activations signed as they are. Per row,
 * 8 tokens and block these cost 20.6 (Q8_0) and 17.1 (Q4_1) cycles by llvm-mca's Skylake
 * model: four or five p0/p1 instructions per group and token half (sign, product, pair
 * sum, conversion, FMA); the pinned order itself asks for a conversion and an FMA of each.
 *
 * Weights are prepared once per row panel (scales as floats, Q4 nibbles as bytes, Q4_0's
 * start, Q8_0's |w|) into a buffer on the stack, as gemm_avx512.c does, and every token
 * group of the panel reads them from there. */
#include "engine/gemm.h"
#include "engine/simd_x86.h"

#include <immintrin.h>

enum { ROW_PANEL_BYTES = 256 * 1024 };
/* the prepared weights of one row panel; one row of SEALM_GEMM_MAX_COLS must fit */
enum { PREP_BYTES = 48 * 1024 };
#define T SEALM_GEMM_TOKENS
#define H 8                            /* tokens per ymm: half a token group */
#define GROUP_Q_BYTES (8 * T * 4)      /* the quants of one block of a token group */
/* Q4_0 tile rows. A tile of RM rows × 2 halves holds 2·RM float chains and 2·RM int16
 * block sums, plus two activation registers and a weight broadcast: 11 of the 16 ymm
 * registers at 2 rows. By llvm-mca's models (Skylake, Zen 2, Zen 3) every shape from 2×16
 * to 6×8 tokens runs at about 7.3 (Zen 2: 9.5) cycles per row, 8 tokens and block, near
 * the 6 that the twelve p0/p1 instructions of that work need on Skylake; 2×16 has the
 * fewest leftover rows and broadcasts each weight group once per 16 tokens. */
enum { Q4_0_RM = 2 };
#define ALWAYS_INLINE inline __attribute__((always_inline))
/* Fully unrolls the loops over a tile's rows, halves and groups, so that the accumulator
 * arrays live in registers. */
#define UNROLL _Pragma("GCC unroll 16")

/* *p in all 8 lanes, broadcast from memory: a load-port vpbroadcastd. Written as asm so
 * that the compiler does not rebuild it from a register with shuffles on a vector port. */
static ALWAYS_INLINE __m256i broadcast_i32_from_memory(const void *p) {
    __m256i v;
    __asm__("vpbroadcastd %1, %0" : "=x"(v) : "m"(*(const int32_t *)p));
    return v;
}

/* An empty asm that claims to change v: the compiler must have v in a register here and
 * cannot move work across this point. Integer adds are associative, so without it gcc
 * turns a tile's running int16 sums into trees over all eight groups' products and keeps
 * every product live at once, spilling them to the stack. */
static ALWAYS_INLINE void pin_register(__m256i *v) {
    __asm__("" : "+x"(*v));
}

/* The 32 quants of a Q4 block (16 bytes, element j in the low nibble of byte j, element
 * j+16 in the high nibble) as 32 bytes in element order, minus sub (0 or 8). */
static ALWAYS_INLINE __m256i q4_unpack(const uint8_t *qs, int sub) {
    return _mm256_sub_epi8(x86_unpack_nibbles16(qs), _mm256_set1_epi8((char)sub));
}

/* The lane-8 reduction of quant_ref.h, lane by lane over eight accumulators:
 * ((a0+a4) + (a2+a6)) + ((a1+a5) + (a3+a7)). */
static ALWAYS_INLINE __m256 lane8_sum_vertical(const __m256 a[8]) {
    const __m256 r0 = _mm256_add_ps(a[0], a[4]), r1 = _mm256_add_ps(a[1], a[5]);
    const __m256 r2 = _mm256_add_ps(a[2], a[6]), r3 = _mm256_add_ps(a[3], a[7]);
    return _mm256_add_ps(_mm256_add_ps(r0, r2), _mm256_add_ps(r1, r3));
}

/* ---- prepared weight rows ---- */

/* Q4_0 and Q4_1: per block the 32 quants as bytes in element order (Q4_0's minus 8), the
 * scale, and Q4_1's min or Q4_0's start, -128 · sum(q - 8) (the panel carries +128). */
typedef struct q4_prep {
    int32_t q[8];
    float d;
    union {
        float m;
        int32_t start;
    } u;
} q4_prep;

/* Q8_0: per block |w| as unsigned bytes and the scale; the signs come from the weight row. */
typedef struct q8_0_prep {
    int32_t absq[8];
    float d;
} q8_0_prep;

static void q4_0_prepare(const uint8_t *w, size_t w_row_bytes, int64_t rows, int64_t nb, void *out) {
    q4_prep *p = out;
    const __m128i m = _mm_set1_epi8(0x0F);
    for (int64_t r = 0; r < rows; r++) {
        const block_q4_0 *wb = (const block_q4_0 *)(w + (size_t)r * w_row_bytes);
        for (int64_t i = 0; i < nb; i++, p++) {
            const __m128i v = _mm_loadu_si128((const __m128i *)wb[i].qs);
            const __m128i lo = _mm_and_si128(v, m), hi = _mm_and_si128(_mm_srli_epi16(v, 4), m);
            _mm256_storeu_si256((__m256i *)p->q, _mm256_sub_epi8(_mm256_set_m128i(hi, lo), _mm256_set1_epi8(8)));
            /* the sum of the 32 nibbles (vpsadbw: two sums of 8 bytes of at most 30 each),
             * then of the q - 8 */
            const __m128i sad = _mm_sad_epu8(_mm_add_epi8(lo, hi), _mm_setzero_si128());
            const int32_t sum_q = _mm_cvtsi128_si32(sad) + _mm_extract_epi16(sad, 4);
            p->u.start = -128 * (sum_q - 32 * 8);
            p->d = x86_fp16_to_f32(wb[i].d);
        }
    }
}

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

static void q8_0_prepare(const uint8_t *w, size_t w_row_bytes, int64_t rows, int64_t nb, void *out) {
    q8_0_prep *p = out;
    for (int64_t r = 0; r < rows; r++) {
        const block_q8_0 *wb = (const block_q8_0 *)(w + (size_t)r * w_row_bytes);
        for (int64_t i = 0; i < nb; i++, p++) {
            /* |-128| is 0x80, which vpmaddubsw reads as the unsigned 128: still exact */
            _mm256_storeu_si256((__m256i *)p->absq, _mm256_abs_epi8(_mm256_loadu_si256((const __m256i *)wb[i].qs)));
            p->d = x86_fp16_to_f32(wb[i].d);
        }
    }
}

/* ---- Q4_0 · Q8_0: RM rows × NH halves (from half h0), one chain per (row, token) ----
 * Prepared row r is prep + r·nb; out[r·NH + j] gets row r, half h0 + j. */

static ALWAYS_INLINE void q4_0_tile(const int RM, const int NH, const q4_prep *prep, int64_t nb, const uint8_t *group,
                                    int h0, __m256 *out) {
    const size_t block_bytes = GROUP_Q_BYTES + T * sizeof(float);
    const __m256i ones16 = _mm256_set1_epi16(1);
    __m256 sum[Q4_0_RM][2];
    UNROLL
    for (int r = 0; r < RM; r++)
        UNROLL
        for (int j = 0; j < NH; j++) sum[r][j] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *pb = group + (size_t)i * block_bytes + (size_t)h0 * H * 4;
        __m256i isum[Q4_0_RM][2];
        UNROLL
        for (int k = 0; k < 8; k++) {
            __m256i xk[2];
            UNROLL
            for (int j = 0; j < NH; j++) xk[j] = _mm256_loadu_si256((const __m256i *)(pb + k * T * 4 + j * H * 4));
            UNROLL
            for (int r = 0; r < RM; r++) {
                const __m256i wk = broadcast_i32_from_memory(&prep[r * nb + i].q[k]);
                UNROLL
                for (int j = 0; j < NH; j++) {
                    const __m256i p = _mm256_maddubs_epi16(xk[j], wk);   /* exact: |pair| <= 4080 */
                    isum[r][j] = k == 0 ? p : _mm256_add_epi16(isum[r][j], p);
                    pin_register(&isum[r][j]);
                }
            }
        }
        const float *dx = (const float *)(group + (size_t)i * block_bytes + GROUP_Q_BYTES) + h0 * H;
        UNROLL
        for (int r = 0; r < RM; r++) {
            const q4_prep *pr = &prep[r * nb + i];
            const __m256i start = _mm256_set1_epi32(pr->u.start);
            const __m256 dw = _mm256_set1_ps(pr->d);
            UNROLL
            for (int j = 0; j < NH; j++) {
                const __m256i block_sum = _mm256_add_epi32(_mm256_madd_epi16(isum[r][j], ones16), start);
                /* the reference's fmaf((float)sumi, d_w · d_x, sum) */
                const __m256 scale = _mm256_mul_ps(dw, _mm256_loadu_ps(dx + j * H));
                sum[r][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(block_sum), scale, sum[r][j]);
            }
        }
    }
    UNROLL
    for (int r = 0; r < RM; r++)
        UNROLL
        for (int j = 0; j < NH; j++) out[r * NH + j] = sum[r][j];
}

/* ---- Q8_0 · Q8_0 (lane-8): one row × one half ---- */

static ALWAYS_INLINE void q8_0_tile(const uint8_t *w, const q8_0_prep *prep, int64_t nb, const uint8_t *group, int h0,
                                    __m256 *out) {
    const size_t block_bytes = GROUP_Q_BYTES + T * sizeof(float);
    const __m256i ones16 = _mm256_set1_epi16(1), flip = _mm256_set1_epi8((char)0x80);
    const block_q8_0 *wb = (const block_q8_0 *)w;
    __m256 acc[8];
    UNROLL
    for (int k = 0; k < 8; k++) acc[k] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *pb = group + (size_t)i * block_bytes + (size_t)h0 * H * 4;
        const __m256 dx = _mm256_loadu_ps((const float *)(group + (size_t)i * block_bytes + GROUP_Q_BYTES) + h0 * H);
        const __m256 scale = _mm256_mul_ps(_mm256_set1_ps(prep[i].d), dx);
        UNROLL
        for (int k = 0; k < 8; k++) {
            /* the activation quants as they were, then w's sign moved onto them: exact
             * because the quantizer keeps them in -127..127 (-128 would not negate) */
            const __m256i xs = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(pb + k * T * 4)), flip);
            const __m256i sx = _mm256_sign_epi8(xs, broadcast_i32_from_memory(wb[i].qs + 4 * k));
            const __m256i p = _mm256_maddubs_epi16(broadcast_i32_from_memory(&prep[i].absq[k]), sx);
            const __m256i s = _mm256_madd_epi16(p, ones16);
            acc[k] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(s), acc[k]);
        }
    }
    out[0] = lane8_sum_vertical(acc);
}

/* ---- Q4_1 · Q8_1 (lane-8 quant term, plus one fmaf chain of mins): one row × one half ---- */

static ALWAYS_INLINE void q4_1_tile(const q4_prep *prep, int64_t nb, const uint8_t *group, int h0, __m256 *out) {
    const size_t block_bytes = GROUP_Q_BYTES + 2 * T * sizeof(float);
    const __m256i ones16 = _mm256_set1_epi16(1);
    __m256 acc[8], mins = _mm256_setzero_ps();
    UNROLL
    for (int k = 0; k < 8; k++) acc[k] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *pb = group + (size_t)i * block_bytes + (size_t)h0 * H * 4;
        const float *fx = (const float *)(group + (size_t)i * block_bytes + GROUP_Q_BYTES) + h0 * H;
        const __m256 scale = _mm256_mul_ps(_mm256_set1_ps(prep[i].d), _mm256_loadu_ps(fx));
        mins = _mm256_fmadd_ps(_mm256_set1_ps(prep[i].u.m), _mm256_loadu_ps(fx + T), mins);
        UNROLL
        for (int k = 0; k < 8; k++) {
            const __m256i xk = _mm256_loadu_si256((const __m256i *)(pb + k * T * 4));
            const __m256i p = _mm256_maddubs_epi16(broadcast_i32_from_memory(&prep[i].q[k]), xk);   /* <= 2·15·128 */
            const __m256i s = _mm256_madd_epi16(p, ones16);
            acc[k] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(s), acc[k]);
        }
    }
    out[0] = _mm256_add_ps(lane8_sum_vertical(acc), mins);
}

/* ---- the tile variants the driver calls ---- */

/* A tile of rows starting at weight row w (prepared as prep) over the token group at
 * group: rm rows (the kernel's tile height, or 1) × both halves (h0 = 0) or one half h0.
 * out[r·halves + j]. */
typedef void (*tile_fn)(const uint8_t *w, size_t w_row_bytes, const void *prep, int64_t nb, const uint8_t *group,
                        int h0, __m256 *out);
typedef void (*prepare_fn)(const uint8_t *w, size_t w_row_bytes, int64_t rows, int64_t nb, void *out);

static void q4_0_many2(const uint8_t *w, size_t wrb, const void *prep, int64_t nb, const uint8_t *group, int h0,
                       __m256 *out) {
    (void)w, (void)wrb;
    q4_0_tile(Q4_0_RM, 2, prep, nb, group, h0, out);
}
static void q4_0_one2(const uint8_t *w, size_t wrb, const void *prep, int64_t nb, const uint8_t *group, int h0,
                      __m256 *out) {
    (void)w, (void)wrb;
    q4_0_tile(1, 2, prep, nb, group, h0, out);
}
static void q4_0_many1(const uint8_t *w, size_t wrb, const void *prep, int64_t nb, const uint8_t *group, int h0,
                       __m256 *out) {
    (void)w, (void)wrb;
    q4_0_tile(Q4_0_RM, 1, prep, nb, group, h0, out);
}
static void q4_0_one1(const uint8_t *w, size_t wrb, const void *prep, int64_t nb, const uint8_t *group, int h0,
                      __m256 *out) {
    (void)w, (void)wrb;
    q4_0_tile(1, 1, prep, nb, group, h0, out);
}
static void q8_0_one1(const uint8_t *w, size_t wrb, const void *prep, int64_t nb, const uint8_t *group, int h0,
                      __m256 *out) {
    (void)wrb;
    q8_0_tile(w, prep, nb, group, h0, out);
}
static void q4_1_one1(const uint8_t *w, size_t wrb, const void *prep, int64_t nb, const uint8_t *group, int h0,
                      __m256 *out) {
    (void)w, (void)wrb;
    q4_1_tile(prep, nb, group, h0, out);
}

/* One type's kernels. many2/one2 (or NULL) take both halves of a token group at once;
 * many1/one1 one half. rm is the height of the many tiles. */
typedef struct tile_kernels {
    int rm;
    tile_fn many2, one2, many1, one1;
    prepare_fn prepare;
    size_t prep_bytes;           /* per block */
    size_t panel_block_bytes;    /* per block of a token group */
} tile_kernels;

_Static_assert(sizeof(q4_prep) * (SEALM_GEMM_MAX_COLS / 32) <= PREP_BYTES &&
                   sizeof(q8_0_prep) * (SEALM_GEMM_MAX_COLS / 32) <= PREP_BYTES,
               "one prepared row of SEALM_GEMM_MAX_COLS elements must fit the buffer");

static const tile_kernels q4_0_kernels = {Q4_0_RM, q4_0_many2, q4_0_one2, q4_0_many1, q4_0_one1, q4_0_prepare,
                                          sizeof(q4_prep), GROUP_Q_BYTES + T * sizeof(float)};
static const tile_kernels q8_0_kernels = {1, NULL, NULL, q8_0_one1, q8_0_one1, q8_0_prepare, sizeof(q8_0_prep),
                                          GROUP_Q_BYTES + T * sizeof(float)};
static const tile_kernels q4_1_kernels = {1, NULL, NULL, q4_1_one1, q4_1_one1, q4_1_prepare, sizeof(q4_prep),
                                          GROUP_Q_BYTES + 2 * T * sizeof(float)};

/* ---- the driver: row panels, token groups, tiles ---- */

/* The results of rows [r, r + rm) for the halves [h0, h0 + halves) of the token group at
 * t0 (out[k·halves + j]), plus the bias (NULL: + 0.0f, as the unpacked path adds), for the
 * tokens that exist. */
/* Rows r, r+1 of 8 tokens from first on, all of them valid, biases added: interleaved so
 * that each token's two results (adjacent in y) leave in one 8-byte store. The same float
 * adds as store_rows' general case. */
static inline void store_pair8(float *y, int64_t y_stride, int64_t r, int32_t first, __m256 v0, __m256 v1) {
    /* per 128-bit lane l: tokens 4l, 4l+1 in lo, 4l+2, 4l+3 in hi, each as a (v0, v1) pair */
    const __m256 lo = _mm256_unpacklo_ps(v0, v1), hi = _mm256_unpackhi_ps(v0, v1);
    float *out = y + (int64_t)first * y_stride + r;
    for (int l = 0; l < 2; l++) {
        const __m128 a = l ? _mm256_extractf128_ps(lo, 1) : _mm256_castps256_ps128(lo);
        const __m128 b = l ? _mm256_extractf128_ps(hi, 1) : _mm256_castps256_ps128(hi);
        _mm_storel_pi((__m64 *)(out + (int64_t)(4 * l) * y_stride), a);
        _mm_storeh_pi((__m64 *)(out + (int64_t)(4 * l + 1) * y_stride), a);
        _mm_storel_pi((__m64 *)(out + (int64_t)(4 * l + 2) * y_stride), b);
        _mm_storeh_pi((__m64 *)(out + (int64_t)(4 * l + 3) * y_stride), b);
    }
}

static void store_rows(float *y, int64_t y_stride, int64_t r, int rm, int32_t t0, int h0, int halves,
                       int32_t n_tokens, const __m256 *out, const float *bias) {
    if (rm == 2) {
        const __m256 b0 = _mm256_set1_ps(bias ? bias[r] : 0.0f), b1 = _mm256_set1_ps(bias ? bias[r + 1] : 0.0f);
        int j = 0;
        for (; j < halves && n_tokens - (t0 + (h0 + j) * H) >= H; j++)
            store_pair8(y, y_stride, r, t0 + (h0 + j) * H, _mm256_add_ps(out[j], b0),
                        _mm256_add_ps(out[halves + j], b1));
        if (j == halves) return;
        /* a partial half: every result on its own, below (the full halves again: same bits) */
    }
    for (int k = 0; k < rm; k++) {
        const __m256 b = _mm256_set1_ps(bias ? bias[r + k] : 0.0f);
        for (int j = 0; j < halves; j++) {
            const int32_t first = t0 + (h0 + j) * H;
            const int valid = n_tokens - first < H ? n_tokens - first : H;
            float v[H];
            _mm256_storeu_ps(v, _mm256_add_ps(out[k * halves + j], b));
            for (int l = 0; l < valid; l++) y[(int64_t)(first + l) * y_stride + r + k] = v[l];
        }
    }
}

/* Rows of one row panel [p0, p1) (prepared at prep) against the token group at t0. */
static void panel_group(const tile_kernels *kn, const uint8_t *w, size_t w_row_bytes, int64_t p0, int64_t p1,
                        const uint8_t *prep, size_t prep_row, int64_t nb, const uint8_t *group, int32_t t0,
                        int32_t n_tokens, float *y, int64_t y_stride, const float *bias) {
    const int RM = kn->rm;
    const int halves_used = n_tokens - t0 > H ? 2 : 1;   /* a half past the last token is skipped */
    __m256 out[2 * 8];
    if (halves_used == 2 && kn->many2) {
        int64_t r = p0;
        for (; r + RM <= p1; r += RM) {
            kn->many2(w + (size_t)r * w_row_bytes, w_row_bytes, prep + (size_t)(r - p0) * prep_row, nb, group, 0, out);
            store_rows(y, y_stride, r, RM, t0, 0, 2, n_tokens, out, bias);
        }
        for (; r < p1; r++) {
            kn->one2(w + (size_t)r * w_row_bytes, w_row_bytes, prep + (size_t)(r - p0) * prep_row, nb, group, 0, out);
            store_rows(y, y_stride, r, 1, t0, 0, 2, n_tokens, out, bias);
        }
        return;
    }
    for (int h = 0; h < halves_used; h++) {
        int64_t r = p0;
        for (; r + RM <= p1; r += RM) {
            kn->many1(w + (size_t)r * w_row_bytes, w_row_bytes, prep + (size_t)(r - p0) * prep_row, nb, group, h, out);
            store_rows(y, y_stride, r, RM, t0, h, 1, n_tokens, out, bias);
        }
        for (; r < p1; r++) {
            kn->one1(w + (size_t)r * w_row_bytes, w_row_bytes, prep + (size_t)(r - p0) * prep_row, nb, group, h, out);
            store_rows(y, y_stride, r, 1, t0, h, 1, n_tokens, out, bias);
        }
    }
}

/* Rows are walked in panels whose prepared weights fit the stack buffer and whose weights
 * stay within ROW_PANEL_BYTES (so they stay in L2 while every token group reads them);
 * within a panel the token groups one after another, each group's activations (a few tens
 * of KiB) staying in L1/L2 while the panel's rows are run against them. */
static void run_tiles(const tile_kernels *kn, int64_t cols, int64_t r0, int64_t r1, const void *w, size_t w_row_bytes,
                      const void *panel, int32_t n_tokens, float *y, int64_t y_stride, const float *bias) {
    const int64_t nb = cols / 32;
    const size_t group_bytes = (size_t)nb * kn->panel_block_bytes;
    const int32_t groups = (n_tokens + T - 1) / T;
    _Alignas(32) uint8_t prep[PREP_BYTES];
    const size_t prep_row = (size_t)nb * kn->prep_bytes;
    int64_t panel_rows = (int64_t)(sizeof prep / prep_row);
    const int64_t weight_rows = (int64_t)(ROW_PANEL_BYTES / w_row_bytes);
    if (weight_rows < panel_rows) panel_rows = weight_rows;
    if (panel_rows >= kn->rm) panel_rows = panel_rows / kn->rm * kn->rm;
    if (panel_rows < 1) panel_rows = 1;
    for (int64_t p0 = r0; p0 < r1; p0 += panel_rows) {
        const int64_t p1 = p0 + panel_rows < r1 ? p0 + panel_rows : r1;
        kn->prepare((const uint8_t *)w + (size_t)p0 * w_row_bytes, w_row_bytes, p1 - p0, nb, prep);
        for (int32_t g = 0; g < groups; g++)
            panel_group(kn, w, w_row_bytes, p0, p1, prep, prep_row, nb, (const uint8_t *)panel + (size_t)g * group_bytes,
                        g * T, n_tokens, y, y_stride, bias);
    }
}

/* The table's gemm entry of one type: the shared driver over that type's kernels. */
#define GEMM_ENTRY(t)                                                                                          \
    static void gemm_##t##_avx2(int64_t cols, int64_t r0, int64_t r1, const void *w, size_t w_row_bytes,       \
                                const void *panel, int32_t n_tokens, float *y, int64_t y_stride, const float *bias) { \
        run_tiles(&t##_kernels, cols, r0, r1, w, w_row_bytes, panel, n_tokens, y, y_stride, bias);             \
    }
GEMM_ENTRY(q4_0)
GEMM_ENTRY(q8_0)
GEMM_ENTRY(q4_1)
#undef GEMM_ENTRY

void sealm_gemm_install_avx2(sealm_type_traits table[SEALM_TYPE_COUNT]) {
    table[SEALM_TYPE_Q4_0].gemm = gemm_q4_0_avx2;
    table[SEALM_TYPE_Q8_0].gemm = gemm_q8_0_avx2;
    table[SEALM_TYPE_Q4_1].gemm = gemm_q4_1_avx2;
}
