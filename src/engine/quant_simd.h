/* Engine-internal: entry points of the SIMD kernel files.
 *
 * Each ISA file (quant_avx2.c, quant_avxvnni.c, quant_avx512.c, quant_neon.c, quant_neon_dotprod.c —
 * compiled with that ISA's flags only, see CMakeLists.txt) exports one install function
 * that overwrites the vec_dot / from_float_fast pointers of the types it accelerates, and
 * the vector ops it has. cpu.c calls them in order of increasing width after checking the
 * CPU supports the ISA, so a wider ISA only replaces what it implements. */
#ifndef SEALM_ENGINE_QUANT_SIMD_H
#define SEALM_ENGINE_QUANT_SIMD_H

#include "engine/quant.h"

#if defined(__x86_64__) || defined(_M_X64)
void sealm_kernels_install_avx2(sealm_type_traits table[SEALM_TYPE_COUNT], sealm_vec_ops *ops);
void sealm_kernels_install_avx512(sealm_type_traits table[SEALM_TYPE_COUNT], sealm_vec_ops *ops);
/* The quantized vec_dots again, with AVX-VNNI's vpdpbusd (quant_avxvnni.c): only on a CPU
 * with AVX-VNNI, at the avx-vnni level, after sealm_kernels_install_avx2. */
void sealm_kernels_install_avxvnni(sealm_type_traits table[SEALM_TYPE_COUNT]);
/* The same with AVX-512 VNNI's vpdpbusd on ymm (quant_ymm_avx512.c): at the avx512 level on
 * a CPU without AVX-VNNI, after sealm_kernels_install_avx2 and before ..._avx512. */
void sealm_kernels_install_avx512_ymm(sealm_type_traits table[SEALM_TYPE_COUNT]);
/* The attention kernels, blocked and grouped (attention_avx2.c, attention_avx512.c). */
void sealm_attention_install_avx2(sealm_vec_ops *ops);
void sealm_attention_install_avx512(sealm_vec_ops *ops);
#endif
#if defined(__aarch64__)
void sealm_kernels_install_neon(sealm_type_traits table[SEALM_TYPE_COUNT], sealm_vec_ops *ops);
/* The quantized vec_dots again, with SDOT (quant_neon_dotprod.c): only on a CPU with
 * HWCAP_ASIMDDP, after sealm_kernels_install_neon. */
void sealm_kernels_install_neon_dotprod(sealm_type_traits table[SEALM_TYPE_COUNT]);
/* The grouped decode attention kernels (attention_neon.c). */
void sealm_attention_install_neon(sealm_vec_ops *ops);
#endif

#endif
