/* The NEON quantized dot products again, built for the dot-product extension.
 *
 * Compiled with -march=armv8.2-a+dotprod (CMakeLists.txt), so quant_neon_dots.h's byte dot
 * becomes one SDOT (vdotq_s32) instead of two widening multiplies and three pairwise adds.
 * Only the quantized vec_dots change: cpu.c installs quant_neon.c's kernels first and these
 * over them, and only where the kernel reports HWCAP_ASIMDDP (the neon-dotprod level);
 * an SDOT on a CPU without the extension (Cortex-A53, A72) is an illegal instruction.
 * SDOT and the widening path leave the same exact integer sums in the same lanes, so this
 * build returns the baseline's bits (tests/engine/test_kernels.c compares them). */
#include "engine/quant_simd.h"
#include "engine/quant_neon_dots.h"

#if !defined(__ARM_FEATURE_DOTPROD)
#error "quant_neon_dotprod.c needs the dot-product extension: compile it with -march=armv8.2-a+dotprod"
#endif

void sealm_kernels_install_neon_dotprod(sealm_type_traits table[SEALM_TYPE_COUNT]) {
    neon_install_quantized_dots(table);
}
