/* AVX2 tiled prefill products (gemm.h): the kernels of gemm_avx2_tiles.h built for AVX2
 * (-mavx2 -mfma -mf16c -mbmi2, CMakeLists.txt), for x86-64 CPUs without AVX-512 VNNI;
 * gemm_avxvnni.c builds the same source for AVX-VNNI. */
#include "engine/gemm_avx2_tiles.h"

void sealm_gemm_install_avx2(sealm_type_traits table[SEALM_TYPE_COUNT]) {
    table[SEALM_TYPE_Q4_0].gemm = gemm_q4_0_avx2;
    table[SEALM_TYPE_Q8_0].gemm = gemm_q8_0_avx2;
    table[SEALM_TYPE_Q4_1].gemm = gemm_q4_1_avx2;
    table[SEALM_TYPE_Q4_K].gemm = gemm_q4_K_avx2;
    table[SEALM_TYPE_Q6_K].gemm = gemm_q6_K_avx2;
}
