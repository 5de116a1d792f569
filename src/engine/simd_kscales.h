/* Engine-internal, private to the SIMD kernel files: unpacking of the K-quant scales.
 *
 * The K-quant super-blocks (256 weights) store their per-sub-block scales bit-packed.
 * Unpacking them is a handful of byte operations per 256 weights, so every ISA file
 * does it in plain C with these helpers and keeps its vector code for the quants. */
#ifndef SEALM_ENGINE_SIMD_KSCALES_H
#define SEALM_ENGINE_SIMD_KSCALES_H

#include "engine/quant.h"

#include <stdint.h>
#include <string.h>

/* Q4_K / Q5_K: 12 bytes hold 8 six-bit scales and 8 six-bit mins (one pair per 32 weights).
 * Sub-blocks 0..3 keep their value in the low 6 bits of bytes 0..3 (scales) and 4..7 (mins);
 * sub-blocks 4..7 keep their low 4 bits in the nibbles of bytes 8..11 and their top 2 bits
 * in the spare top bits of bytes 0..7. */
static inline void simd_unpack_k4_scales(const uint8_t packed[K_SCALE_SIZE], uint8_t scales[8],
                                         uint8_t mins[8]) {
    for (int j = 0; j < 4; j++) {
        scales[j] = packed[j] & 63;
        mins[j] = packed[j + 4] & 63;
    }
    for (int j = 4; j < 8; j++) {
        scales[j] = (uint8_t)((packed[j + 4] & 0x0F) | ((packed[j - 4] >> 6) << 4));
        mins[j] = (uint8_t)((packed[j + 4] >> 4) | ((packed[j] >> 6) << 4));
    }
}

/* The same unpacking four bytes at a time: scales[0..7] and mins[0..7] as two 8-byte
 * little-endian words (bytes 0..3 of each come straight from packed[0..7]; bytes 4..7 join
 * the nibbles of packed[8..11] with the top bits of packed[0..7]). */
static inline void simd_unpack_k4_scales_u64(const uint8_t packed[K_SCALE_SIZE], uint64_t *scales,
                                             uint64_t *mins) {
    uint32_t a0, a1, a2;
    memcpy(&a0, packed, 4);
    memcpy(&a1, packed + 4, 4);
    memcpy(&a2, packed + 8, 4);
    const uint32_t sc_lo = a0 & 0x3f3f3f3fu;
    const uint32_t mn_lo = a1 & 0x3f3f3f3fu;
    const uint32_t sc_hi = (a2 & 0x0f0f0f0fu) | (((a0 >> 6) & 0x03030303u) << 4);
    const uint32_t mn_hi = ((a2 >> 4) & 0x0f0f0f0fu) | (((a1 >> 6) & 0x03030303u) << 4);
    *scales = (uint64_t)sc_lo | ((uint64_t)sc_hi << 32);
    *mins = (uint64_t)mn_lo | ((uint64_t)mn_hi << 32);
}

/* Q3_K: 12 bytes hold 16 six-bit scales (one per 16 weights) stored with a bias of 32.
 * Low 4 bits: scales 0..7 in the low nibbles of bytes 0..7, scales 8..15 in their high
 * nibbles. Top 2 bits: scale j in bits 2*(j/4)..2*(j/4)+1 of byte 8 + j%4. */
static inline void simd_unpack_q3k_scales(const uint8_t packed[12], int8_t scales[16]) {
    for (int j = 0; j < 16; j++) {
        int low = j < 8 ? (packed[j] & 0x0F) : (packed[j - 8] >> 4);
        int high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
        scales[j] = (int8_t)((low | (high << 4)) - 32);
    }
}

#endif
