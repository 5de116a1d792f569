/* The kernel table, CPU feature detection, and the choice of SIMD kernels.
 *
 * The table starts out holding the scalar reference kernels (so it is usable before
 * sealm_kernels_init); init detects what the CPU (and the OS) support and lets the ISA
 * files overwrite the entries they accelerate, narrowest ISA first. */
#include "engine/gemm.h"
#include "engine/quant_ref.h"
#include "engine/quant_simd.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#define SEALM_X86 1
#elif defined(__aarch64__)
#include <sys/auxv.h>
#include <asm/hwcap.h>
#define SEALM_ARM64 1
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)   /* SDOT/UDOT; Linux 4.15+ reports it (arch/arm64 uapi hwcap.h) */
#endif
#endif

/* ---- the table ---- */

/* The table kernels are installed into (defined with its contents below). */
static sealm_type_traits table[SEALM_TYPE_COUNT];

/* The default vec_dot_x4: the type's installed vec_dot, four times. Every type has one at
 * every level, with vec_dot's bits by construction; the ISA files replace it with
 * interleaved kernels where they have them. It reads the table at each call, so it follows
 * whatever vec_dot the current level installed. */
static inline void vec_dot_x4_by_one(sealm_tensor_type t, int64_t n, float *restrict s,
                                     const void *const w[4], const void *const x[4]) {
    const sealm_vec_dot_fn dot = table[t].vec_dot;
    for (int i = 0; i < 4; i++)
        dot(n, &s[i], w[i], x[i]);
}

#define X4_BY_ONE(T)                                                                      static void vec_dot_x4_by_one_##T(int64_t n, float *restrict s,                                                         const void *const w[4], const void *const x[4]) {         vec_dot_x4_by_one(SEALM_TYPE_##T, n, s, w, x);                                     }
X4_BY_ONE(F32) X4_BY_ONE(F16) X4_BY_ONE(BF16) X4_BY_ONE(Q4_0) X4_BY_ONE(Q4_1)
X4_BY_ONE(Q5_0) X4_BY_ONE(Q5_1) X4_BY_ONE(Q8_0) X4_BY_ONE(Q2_K) X4_BY_ONE(Q3_K)
X4_BY_ONE(Q4_K) X4_BY_ONE(Q5_K) X4_BY_ONE(Q6_K)
#undef X4_BY_ONE

#define ENTRY(T, nm, elems, bytes, vdt, fn, dot, dot_x4)                             \
    [SEALM_TYPE_##T] = {                                                              \
        .name = nm, .block_elems = elems, .block_bytes = bytes,                      \
        .vec_dot_type = SEALM_TYPE_##vdt,                                             \
        .to_float = sealm_##fn##_to_float, .from_float = sealm_##fn##_from_float,     \
        .vec_dot_ref = dot, .vec_dot = dot, .vec_dot_x4 = dot_x4,                     \
        .from_float_fast = sealm_##fn##_from_float,                                   \
    }
#define X4(T) vec_dot_x4_by_one_##T

/* Weight types carry a vec_dot; Q8_1 and Q8_K exist only as activation formats. */
#define TYPE_TABLE                                                                                   \
    ENTRY(F32,  "f32",  1,    sizeof(float),      F32,  f32,  sealm_f32_vec_dot_ref,  X4(F32)),     \
    ENTRY(F16,  "f16",  1,    sizeof(sealm_fp16), F16,  f16,  sealm_f16_vec_dot_ref,  X4(F16)),     \
    ENTRY(BF16, "bf16", 1,    sizeof(sealm_bf16), BF16, bf16, sealm_bf16_vec_dot_ref, X4(BF16)),    \
    ENTRY(Q4_0, "q4_0", QK4_0, sizeof(block_q4_0), Q8_0, q4_0, sealm_q4_0_vec_dot_ref, X4(Q4_0)),   \
    ENTRY(Q4_1, "q4_1", QK4_1, sizeof(block_q4_1), Q8_1, q4_1, sealm_q4_1_vec_dot_ref, X4(Q4_1)),   \
    ENTRY(Q5_0, "q5_0", QK5_0, sizeof(block_q5_0), Q8_0, q5_0, sealm_q5_0_vec_dot_ref, X4(Q5_0)),   \
    ENTRY(Q5_1, "q5_1", QK5_1, sizeof(block_q5_1), Q8_1, q5_1, sealm_q5_1_vec_dot_ref, X4(Q5_1)),   \
    ENTRY(Q8_0, "q8_0", QK8_0, sizeof(block_q8_0), Q8_0, q8_0, sealm_q8_0_vec_dot_ref, X4(Q8_0)),   \
    ENTRY(Q8_1, "q8_1", QK8_1, sizeof(block_q8_1), Q8_1, q8_1, NULL, NULL),                         \
    ENTRY(Q8_K, "q8_K", QK_K,  sizeof(block_q8_K), Q8_K, q8_K, NULL, NULL),                         \
    ENTRY(Q2_K, "q2_K", QK_K,  sizeof(block_q2_K), Q8_K, q2_K, sealm_q2_K_vec_dot_ref, X4(Q2_K)),   \
    ENTRY(Q3_K, "q3_K", QK_K,  sizeof(block_q3_K), Q8_K, q3_K, sealm_q3_K_vec_dot_ref, X4(Q3_K)),   \
    ENTRY(Q4_K, "q4_K", QK_K,  sizeof(block_q4_K), Q8_K, q4_K, sealm_q4_K_vec_dot_ref, X4(Q4_K)),   \
    ENTRY(Q5_K, "q5_K", QK_K,  sizeof(block_q5_K), Q8_K, q5_K, sealm_q5_K_vec_dot_ref, X4(Q5_K)),   \
    ENTRY(Q6_K, "q6_K", QK_K,  sizeof(block_q6_K), Q8_K, q6_K, sealm_q6_K_vec_dot_ref, X4(Q6_K)),

/* The pristine scalar table, and the one kernels are installed into. */
static const sealm_type_traits table_ref[SEALM_TYPE_COUNT] = { TYPE_TABLE };
static sealm_type_traits table[SEALM_TYPE_COUNT] = { TYPE_TABLE };
#undef X4
#undef ENTRY
#undef TYPE_TABLE

const sealm_type_traits *sealm_type_traits_get(sealm_tensor_type t) {
    if ((unsigned)t >= SEALM_TYPE_COUNT || table[t].name == NULL)
        return NULL;
    return &table[t];
}

/* ---- CPU detection ---- */

#ifdef SEALM_X86
/* Extended control register 0: which register states the OS saves on context switch. */
static uint64_t read_xcr0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

/* What the CPU and the OS allow, level by level (the x86 levels do not nest: AVX-VNNI
 * came to client cores without AVX-512 and is absent from some with it, Zen 4 and Ice Lake). */
typedef struct cpu_features {
    bool avx2;       /* AVX2, FMA, F16C, with the YMM state saved */
    bool avx_vnni;   /* and the VEX-encoded vpdpbusd (AVX-VNNI) */
    bool avx512;     /* and AVX-512 F, BW, VL, VNNI with the ZMM state saved */
} cpu_features;

/* cpuid directly rather than __builtin_cpu_supports, because clang does not know every
 * feature name we need ("f16c"); the OS check (XCR0 via xgetbv) matters as much as the
 * CPU bits: an OS that does not save the YMM/ZMM state makes those instructions fault.
 * Bits from the Intel SDM, vol. 2A, CPUID: leaf 1 ECX, leaf 7 sub-leaf 0 EBX/ECX, and leaf
 * 7 sub-leaf 1 EAX bit 4 for AVX-VNNI (which needs only the YMM state). */
static cpu_features cpu_detect(void) {
    cpu_features f = {false, false, false};
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return f;
    const bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28), f16c = c & (1u << 29);
    if (!(osxsave && avx && fma && f16c))
        return f;
    const uint64_t xcr0 = read_xcr0();
    if ((xcr0 & 0x6) != 0x6)                  /* XMM and YMM state */
        return f;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return f;
    const unsigned max_subleaf = a;
    f.avx2 = b & (1u << 5);
    if (!f.avx2)
        return f;
    const bool avx512f = b & (1u << 16), avx512bw = b & (1u << 30), avx512vl = b & (1u << 31);
    const bool avx512vnni = c & (1u << 11);
    const bool zmm_state = (xcr0 & 0xe0) == 0xe0; /* opmask, upper ZMM0-15, ZMM16-31 */
    f.avx512 = avx512f && avx512bw && avx512vl && avx512vnni && zmm_state;
    if (max_subleaf >= 1 && __get_cpuid_count(7, 1, &a, &b, &c, &d))
        f.avx_vnni = a & (1u << 4);
    return f;
}

/* Whether this CPU runs the kernels of level l (scalar always; another ISA's never). */
static bool cpu_runs(sealm_simd_level l) {
    const cpu_features f = cpu_detect();
    switch (l) {
    case SEALM_SIMD_SCALAR: return true;
    case SEALM_SIMD_AVX2: return f.avx2;
    case SEALM_SIMD_AVX_VNNI: return f.avx2 && f.avx_vnni;
    case SEALM_SIMD_AVX512: return f.avx2 && f.avx512;
    default: return false;
    }
}
#define SEALM_TOP_LEVEL SEALM_SIMD_AVX512
#elif defined(SEALM_ARM64)
/* The kernel's hwcaps rather than reading ID_AA64ISAR0_EL1 ourselves: it tells us what the
 * CPU has and the OS allows. Dot product (SDOT) is optional in ARMv8.2, so the architecture
 * version alone does not say (Cortex-A55/A75/A76+, Neoverse and Apple cores have it; the
 * A53 and A72 do not). */
static bool cpu_runs(sealm_simd_level l) {
    const unsigned long hwcap = getauxval(AT_HWCAP);
    switch (l) {
    case SEALM_SIMD_SCALAR: return true;
    case SEALM_SIMD_NEON: return hwcap & HWCAP_ASIMD;
    case SEALM_SIMD_NEON_DOTPROD: return (hwcap & HWCAP_ASIMD) && (hwcap & HWCAP_ASIMDDP);
    default: return false;
    }
}
#define SEALM_TOP_LEVEL SEALM_SIMD_NEON_DOTPROD
#else
static bool cpu_runs(sealm_simd_level l) { return l == SEALM_SIMD_SCALAR; }
#define SEALM_TOP_LEVEL SEALM_SIMD_SCALAR
#endif

/* The next level down a ladder: scalar < avx2 < avx-vnni < avx512 on x86-64, scalar < neon
 * < neon-dotprod on aarch64. */
static sealm_simd_level level_below(sealm_simd_level l) {
    switch (l) {
    case SEALM_SIMD_AVX512: return SEALM_SIMD_AVX_VNNI;
    case SEALM_SIMD_AVX_VNNI: return SEALM_SIMD_AVX2;
    case SEALM_SIMD_NEON_DOTPROD: return SEALM_SIMD_NEON;
    default: return SEALM_SIMD_SCALAR;
    }
}

/* The level to install for a request: the request itself when this CPU can run it, else
 * the nearest level below it on its ladder that it can (so avx-vnni on a CPU without
 * AVX-VNNI gives avx2, even where the CPU has AVX-512), and scalar when it names another
 * architecture's ISA (cpu_runs is false for all of that ladder). The walk follows the
 * ladder explicitly, so nothing depends on the enum's numeric values. */
static sealm_simd_level clamp_level(sealm_simd_level want) {
    while (!cpu_runs(want))
        want = level_below(want);
    return want;
}

/* ---- installing ---- */

static sealm_simd_level installed = SEALM_SIMD_SCALAR;

static sealm_simd_level install(sealm_simd_level want) {
    const sealm_simd_level level = clamp_level(want);
    sealm_vec_ops *ops = sealm_vec_ops_installed();
    /* back to the scalar kernels first (vec_dot_x4 included), so that a lower level than
     * the one installed leaves nothing of it behind */
    memcpy(table, table_ref, sizeof table);
    *ops = *sealm_vec_ops_ref();
#ifdef SEALM_X86
    if (level == SEALM_SIMD_AVX2 || level == SEALM_SIMD_AVX_VNNI || level == SEALM_SIMD_AVX512) {
        sealm_kernels_install_avx2(table, ops);
        sealm_attention_install_avx2(ops);
        sealm_gemm_install_avx2(table);
    }
    /* the AVX2 kernels whose byte products change, over the plain ones; below avx512 only
     * where the CPU has AVX-VNNI too (Sapphire Rapids, Zen 5; not Ice Lake or Zen 4), for
     * the types the AVX-512 set leaves to AVX2 (Q4_K's decode dot, Q5_0, Q5_1, the
     * K-quants' single dots, Q4_0's decode matvec): the same bits, by vpdpbusd and vpdpwssd */
    if (level == SEALM_SIMD_AVX_VNNI || (level == SEALM_SIMD_AVX512 && cpu_runs(SEALM_SIMD_AVX_VNNI))) {
        sealm_kernels_install_avxvnni(table);
        sealm_gemm_install_avxvnni(table);
    } else if (level == SEALM_SIMD_AVX512) {
        /* no AVX-VNNI (Ice Lake, Zen 4): the same build with AVX-512 VNNI's EVEX vpdpbusd on
         * ymm. The prefill tiles need no such build: the avx512 level replaces them all. */
        sealm_kernels_install_avx512_ymm(table);
    }
    if (level == SEALM_SIMD_AVX512) {
        sealm_kernels_install_avx512(table, ops);
        sealm_attention_install_avx512(ops);
        sealm_gemm_install_avx512(table);
    }
#elif defined(SEALM_ARM64)
    if (level == SEALM_SIMD_NEON || level == SEALM_SIMD_NEON_DOTPROD) {
        sealm_kernels_install_neon(table, ops);
        sealm_attention_install_neon(ops);
    }
    if (level == SEALM_SIMD_NEON_DOTPROD)
        sealm_kernels_install_neon_dotprod(table);
#endif
    installed = level;
    return level;
}

/* The level init installs: the CPU's best, unless SEALM_SIMD=scalar|avx2|avx-vnni|avx512|
 * neon|neon-dotprod asks for another (clamped as above: a level this CPU lacks gives the
 * nearest below it). An unknown value is ignored rather than failing: init has no way to
 * report an error. */
static sealm_simd_level requested_level(void) {
    const char *v = getenv("SEALM_SIMD");
    if (v != NULL) {
        for (int l = SEALM_SIMD_SCALAR; l <= SEALM_SIMD_NEON_DOTPROD; l++)
            if (strcmp(v, sealm_simd_level_name((sealm_simd_level)l)) == 0)
                return (sealm_simd_level)l;
    }
    return SEALM_TOP_LEVEL;   /* clamped by install to the best this CPU runs */
}

static void init_once(void) {
    install(requested_level());
}

static pthread_once_t init_guard = PTHREAD_ONCE_INIT;

sealm_simd_level sealm_kernels_init(void) {
    pthread_once(&init_guard, init_once);
    return installed;
}

/* Not thread-safe: it rewrites the table in place, so no kernel may run concurrently.
 * Meant for tests that compare the levels one after the other. */
sealm_simd_level sealm_kernels_set_level(sealm_simd_level want) {
    pthread_once(&init_guard, init_once);   /* a later init must not undo this choice */
    return install(want);
}

const char *sealm_simd_level_name(sealm_simd_level l) {
    switch (l) {
    case SEALM_SIMD_SCALAR: return "scalar";
    case SEALM_SIMD_AVX2: return "avx2";
    case SEALM_SIMD_AVX_VNNI: return "avx-vnni";
    case SEALM_SIMD_AVX512: return "avx512";
    case SEALM_SIMD_NEON: return "neon";
    case SEALM_SIMD_NEON_DOTPROD: return "neon-dotprod";
    }
    return "unknown";
}
