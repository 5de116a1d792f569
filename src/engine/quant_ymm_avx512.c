/* The AVX2 quantized dot products again, built for AVX-512 VNNI on ymm registers.
 *
 * Compiled with the AVX-512 flags (CMakeLists.txt, the *_avx512.c files), so simd_x86.h's
 * byte dots and scaled pair sums in quant_avx2_dots.h become the EVEX forms of vpdpbusd and
 * vpdpwssd on ymm (AVX512_VNNI with AVX512VL), as quant_avxvnni.c's are the VEX forms. It
 * exists for the CPUs with AVX-512 VNNI but without AVX-VNNI (Ice Lake, Tiger Lake, Zen 4):
 * there the avx512 level used to keep the plain AVX2 build for the types quant_avx512.c
 * leaves to AVX2 (Q4_K's decode dots above all, Q4_0's decode matvec, also Q5_0, Q5_1 and
 * the single K-quant dots). cpu.c installs it at the avx512 level where the CPU lacks
 * AVX-VNNI, before quant_avx512.c's kernels; where it has AVX-VNNI, quant_avxvnni.c's build
 * runs instead.
 * All builds leave the same exact integer sums in the same lanes, so this one returns the
 * AVX2 build's bits (tests/engine/test_kernels.c compares them). */
#include "engine/quant_simd.h"
#include "engine/quant_avx2_dots.h"

#if !X86_YMM_VNNI || defined(__AVXVNNI__)
#error "quant_ymm_avx512.c needs AVX-512 VNNI and VL without -mavxvnni (see CMakeLists.txt)"
#endif

void sealm_kernels_install_avx512_ymm(sealm_type_traits table[SEALM_TYPE_COUNT]) {
    avx2_install_quantized_dots(table);
}
