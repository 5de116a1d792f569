/* The AVX2 quantized dot products again, built for AVX-VNNI.
 *
 * Compiled with the AVX2 flags plus -mavxvnni (CMakeLists.txt), so simd_x86.h's byte dots
 * in quant_avx2_dots.h become one vpdpbusd (the VEX form, on ymm) instead of vpmaddubsw
 * and vpmaddwd, and the K-quants' scaled pair sums one vpdpwssd instead of vpmaddwd and
 * vpaddd. Only the quantized vec_dots change: cpu.c installs quant_avx2.c's kernels
 * first and these over them, and only at the avx-vnni level, which needs cpuid's AVX-VNNI
 * bit; on a CPU without it (Skylake, Zen 1-4) vpdpbusd ymm is an illegal instruction. Both
 * builds leave the same exact integer sums in the same lanes, so this one returns the
 * AVX2 build's bits (tests/engine/test_kernels.c compares them). */
#include "engine/quant_simd.h"
#include "engine/quant_avx2_dots.h"

#if !defined(__AVXVNNI__)
#error "quant_avxvnni.c needs AVX-VNNI: compile it with -mavxvnni (see CMakeLists.txt)"
#endif

void sealm_kernels_install_avxvnni(sealm_type_traits table[SEALM_TYPE_COUNT]) {
    avx2_install_quantized_dots(table);
}
