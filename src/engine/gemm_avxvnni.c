/* The AVX2 tiled prefill products again, built for AVX-VNNI.
 *
 * Compiled with the AVX2 flags plus -mavxvnni (CMakeLists.txt), so the byte products of
 * gemm_avx2_tiles.h's Q4_0, Q8_0 and Q4_1 tiles are vpdpbusd (VEX, ymm), and the K-quant
 * tiles' scaled pair sums vpdpwssd. cpu.c installs
 * these over gemm_avx2.c's at the avx-vnni level only, which needs cpuid's AVX-VNNI bit.
 * The integer sums are exact in both builds and the float steps shared, so both give the
 * reference's bits (tests/engine/test_gemm.c compares each level with it). */
#include "engine/gemm_avx2_tiles.h"

#if !defined(__AVXVNNI__)
#error "gemm_avxvnni.c needs AVX-VNNI: compile it with -mavxvnni (see CMakeLists.txt)"
#endif

void sealm_gemm_install_avxvnni(sealm_type_traits table[SEALM_TYPE_COUNT]) {
    table[SEALM_TYPE_Q4_0].gemm = gemm_q4_0_avx2;
    table[SEALM_TYPE_Q8_0].gemm = gemm_q8_0_avx2;
    table[SEALM_TYPE_Q4_1].gemm = gemm_q4_1_avx2;
    table[SEALM_TYPE_Q4_K].gemm = gemm_q4_K_avx2;
    table[SEALM_TYPE_Q6_K].gemm = gemm_q6_K_avx2;
}
