/* neon kernels (placeholder until written: installs nothing, so the scalar ones stay). */
#include "engine/quant_simd.h"

void sealm_kernels_install_neon(sealm_type_traits table[SEALM_TYPE_COUNT], sealm_vec_ops *ops) {
    (void)table;
    (void)ops;
}
