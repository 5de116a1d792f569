/* A portable e^x for the sampler's probabilities.
 *
 * The sampler promises the same token for the same seed on every platform. libm's exp is
 * only faithfully rounded and differs between C libraries in the last bit, which can move
 * a draw across a CDF boundary. This version uses only correctly rounded IEEE operations:
 * Cody-Waite range reduction x = k·ln2 + r with |r| <= ln2/2, a degree-13 Taylor polynomial
 * for e^r (truncation error below 1e-17 relative), then an exact scaling by 2^k. */
#include "sample/sample_internal.h"

#include <math.h>

/* Keep a*b+c as two rounded operations: a fused multiply-add would change the bits on
 * platforms that contract (GCC already does not in ISO C mode). */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

/* ln2 split in two: LN2_HI has its low 32 bits zero, so k·LN2_HI is exact for |k| < 2^20. */
static const double LN2_HI = 6.93147180369123816490e-01;
static const double LN2_LO = 1.90821492927058770002e-10;
static const double INV_LN2 = 1.44269504088896338700e+00;

/* 1/n! for n = 0..13 (constant-folded with correct rounding). */
static const double INV_FACT[14] = {
    1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040, 1.0 / 40320,
    1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800.0,
};

double sealm_sample_exp(double x) {
    if (isnan(x)) return x;
    if (x < -746.0) return 0.0;        /* below the smallest subnormal (also -inf) */
    if (x > 709.78) return HUGE_VAL;   /* above DBL_MAX */
    /* k = round(x / ln2), half away from zero, without depending on the rounding mode. */
    double kd = x * INV_LN2;
    kd = kd < 0 ? -floor(0.5 - kd) : floor(kd + 0.5);
    int k = (int)kd;
    double r = (x - kd * LN2_HI) - kd * LN2_LO;
    double poly = INV_FACT[13];
    for (int n = 12; n >= 0; n--) poly = poly * r + INV_FACT[n];
    return ldexp(poly, k);
}
