package llama2.engine;

/**
 * Single-precision {@code exp}, {@code sin}, {@code cos} and {@code pow(10000, y)} that return
 * exactly the bits that the reference llama2.c {@code run.c} gets from glibc 2.36's {@code expf},
 * {@code sinf}, {@code cosf} and {@code powf} on x86_64 with FMA/AVX2 (glibc's ifunc selects the {@code -mfma}
 * builds of the generic ARM optimized-routines code there).
 *
 * <p>Why: those glibc functions are not correctly rounded, so {@code (float) Math.exp(x)} and
 * friends differ from them in the last bit for some inputs, and a last-bit difference in a logit or
 * a RoPE rotation is enough to change a sampled token. Token-for-token parity with {@code run.c}
 * therefore needs the same algorithms with the same rounding steps.
 *
 * <p>How: each method follows glibc's algorithm step by step in {@code double} arithmetic (Java
 * doubles are IEEE binary64 with no contraction, like C compiled with {@code -ffp-contract=off}).
 * In the FMA builds GCC fused many {@code a * b + c} expressions into single-rounding fused
 * multiply-adds; which ones was read off the machine code of this machine's {@code libm.so.6}.
 * {@code Math.fma} is not available under TeaVM, so every fused operation is reproduced either by
 * an exact split tailored to its operands (commented at the call site) or by {@link #fma}, an
 * exact two-product plus two-sum emulation.
 *
 * <p>Domains and verification (bit-for-bit against the real glibc functions on this machine):
 * {@link #exp}, {@link #sin} and {@link #cos} were compared over all 2^32 float inputs (special
 * values included) with zero mismatches. {@link #pow10000} serves one call, RoPE's frequencies, and
 * was compared over every float exponent in [0, 1) with zero mismatches. NaN results are NaN, but
 * their sign/payload bits are not reproduced (Java and JavaScript canonicalise NaNs anyway). See
 * {@code FloatMathTest}.
 */
public final class FloatMath {

    private FloatMath() {
    }

    // ---------------------------------------------------------------------------------------
    // Shared helpers
    // ---------------------------------------------------------------------------------------

    /** Veltkamp splitting constant 2^27 + 1: splits a double into two halves of at most 26 bits. */
    private static final double SPLITTER = 134217729.0;

    /**
     * Emulates a fused multiply-add {@code a * b + c} rounded once, without {@code Math.fma}:
     * Dekker's exact product {@code a*b = p + e}, Knuth's two-sum {@code p + c = s + err}, then
     * {@code s + (err + e)}. This is not a correctly rounded fma for every conceivable input
     * (the inner sum {@code err + e} is rounded), but at every call site below it reproduces the
     * hardware FMA result for the inputs that reach it (verified against glibc as described in the
     * class comment).
     */
    private static double fma(double a, double b, double c) {
        double t = SPLITTER * a;
        double aHi = t - (t - a);
        double aLo = a - aHi;
        t = SPLITTER * b;
        double bHi = t - (t - b);
        double bLo = b - bHi;
        double p = a * b;
        double e = ((aHi * bHi - p) + aHi * bLo + aLo * bHi) + aLo * bLo;
        double s = p + c;
        double bv = s - p;
        double err = (p - (s - bv)) + (c - bv);
        return s + (err + e);
    }

    /**
     * Returns {@code d * 2^e} for {@code e} in [-150, 128], exactly (the product stays a normal
     * double). glibc adds {@code e} to the exponent field of a 64-bit integer; this builds the power
     * of two from float bits instead, so no {@code long} arithmetic is needed.
     */
    private static double scaleByPowerOfTwo(double d, int e) {
        if (e >= -126 && e <= 127) {
            return d * Float.intBitsToFloat((e + 127) << 23);
        }
        int e1 = e >> 1;
        int e2 = e - e1;
        return d * Float.intBitsToFloat((e1 + 127) << 23) * Float.intBitsToFloat((e2 + 127) << 23);
    }

    // ---------------------------------------------------------------------------------------
    // 2^(i/32) table shared by exp and pow (glibc's __exp2f_data)
    // ---------------------------------------------------------------------------------------

    /** log2 of the number of table entries per octave (glibc EXP2F_TABLE_BITS). */
    private static final int EXP2_TABLE_BITS = 5;

    private static final int EXP2_TABLE_MASK = (1 << EXP2_TABLE_BITS) - 1;

    /**
     * {@code 2^(i/32)} rounded to double, i = 0..31. glibc stores these with {@code i << 47}
     * subtracted from the bit pattern so that adding {@code k << 47} yields {@code 2^(k/32)}; here
     * the values themselves are stored and the integer part of {@code k/32} is applied by
     * {@link #scaleByPowerOfTwo}, which gives the same double.
     */
    private static final double[] EXP2_TABLE = {
        0x1.0000000000000p+0, 0x1.059b0d3158574p+0, 0x1.0b5586cf9890fp+0, 0x1.11301d0125b51p+0,
        0x1.172b83c7d517bp+0, 0x1.1d4873168b9aap+0, 0x1.2387a6e756238p+0, 0x1.29e9df51fdee1p+0,
        0x1.306fe0a31b715p+0, 0x1.371a7373aa9cbp+0, 0x1.3dea64c123422p+0, 0x1.44e086061892dp+0,
        0x1.4bfdad5362a27p+0, 0x1.5342b569d4f82p+0, 0x1.5ab07dd485429p+0, 0x1.6247eb03a5585p+0,
        0x1.6a09e667f3bcdp+0, 0x1.71f75e8ec5f74p+0, 0x1.7a11473eb0187p+0, 0x1.82589994cce13p+0,
        0x1.8ace5422aa0dbp+0, 0x1.93737b0cdc5e5p+0, 0x1.9c49182a3f090p+0, 0x1.a5503b23e255dp+0,
        0x1.ae89f995ad3adp+0, 0x1.b7f76f2fb5e47p+0, 0x1.c199bdd85529cp+0, 0x1.cb720dcef9069p+0,
        0x1.d5818dcfba487p+0, 0x1.dfc97337b9b5fp+0, 0x1.ea4afa2a490dap+0, 0x1.f50765b6e4540p+0,
    };

    /** Coefficients of 2^r ~ 1 + C2 r + C1 r^2 + C0 r^3 for r in [-1/64, 1/64] (exp2f poly). */
    private static final double EXP2_C0 = 0x1.c6af84b912394p-5;
    private static final double EXP2_C1 = 0x1.ebfce50fac4f3p-3;
    private static final double EXP2_C2 = 0x1.62e42ff0c52d6p-1;

    // ---------------------------------------------------------------------------------------
    // exp
    // ---------------------------------------------------------------------------------------

    /** 32/ln2 (glibc invln2_scaled), split so that float * HI and float * LO are exact. */
    private static final double EXP_INV_LN2_N = 0x1.71547652b82fep+5;
    private static final double EXP_INV_LN2_N_HI = 0x1.7154765p+5;
    private static final double EXP_INV_LN2_N_LO = EXP_INV_LN2_N - EXP_INV_LN2_N_HI;
    /** 1.5 * 2^52: adding it rounds a double of magnitude < 2^51 to an integer (ties to even). */
    private static final double ROUND_SHIFT = 0x1.8p52;
    /** The exp2 polynomial rescaled for r in units of 1/32 (glibc poly_scaled). */
    private static final double EXP_C0 = 0x1.c6af84b912394p-20;
    private static final double EXP_C1 = 0x1.ebfce50fac4f3p-13;
    private static final double EXP_C2 = 0x1.62e42ff0c52d6p-6;
    /** Top 12 bits of 88.0f: at or above this |x| (or NaN) the special cases are checked. */
    private static final int EXP_SPECIAL_TOP12 = 0x42b;
    private static final int FLOAT_INF_TOP12 = 0x7f8;
    private static final int NEG_INFINITY_BITS = 0xff800000;
    /** Above this exp(x) overflows to +inf (glibc: x > log(0x1p128)). */
    private static final float EXP_OVERFLOW_BOUND = 0x1.62e42ep6f;
    /** Below this exp(x) underflows to 0 (glibc: x < log(0x1p-150)). */
    private static final float EXP_UNDERFLOW_BOUND = -0x1.9fe368p6f;
    /** Below this glibc's errno path (__math_may_uflowf) returns the smallest subnormal. */
    private static final float EXP_MAY_UNDERFLOW_BOUND = -0x1.9d1d9ep6f;

    /**
     * glibc 2.36 {@code expf} (sysdeps/ieee754/flt-32/e_expf.c, FMA build), bit for bit, for every
     * float input. Algorithm: x*32/ln2 = k + r with integer k (round to nearest even) and
     * |r| <= 1/2, then exp(x) = 2^(k/32) * (1 + C2 r + C1 r^2 + C0 r^3) evaluated in double and
     * rounded once to float. Fused in the FMA build: k = round(x*32/ln2), r = x*32/ln2 - k (both
     * from the exact product, reproduced exactly here), and the three polynomial steps (see below).
     */
    public static float exp(float x) {
        int ix = Float.floatToRawIntBits(x);
        int absTop12 = (ix >>> 20) & 0x7ff;
        if (absTop12 >= EXP_SPECIAL_TOP12) {
            // |x| >= 88 or NaN.
            if (ix == NEG_INFINITY_BITS) {
                return 0.0f;
            }
            if (absTop12 >= FLOAT_INF_TOP12) {
                return x + x; // +inf or NaN
            }
            if (x > EXP_OVERFLOW_BOUND) {
                return Float.POSITIVE_INFINITY;
            }
            if (x < EXP_UNDERFLOW_BOUND) {
                return 0.0f;
            }
            if (x < EXP_MAY_UNDERFLOW_BOUND) {
                return Float.MIN_VALUE;
            }
        }
        double xd = x;
        // z = x * 32/ln2 exactly, as p1 + p2 (x has 24 significant bits, HI 29 and LO 24).
        double p1 = xd * EXP_INV_LN2_N_HI;
        double p2 = xd * EXP_INV_LN2_N_LO;
        double zHi = p1 + p2;
        double zLo = p2 - (zHi - p1); // exact: |p1| >= |p2|
        // kd = fma(x, 32/ln2, SHIFT) - SHIFT: the integer nearest to the exact z, ties to even.
        double kd = (zHi + ROUND_SHIFT) - ROUND_SHIFT;
        double t = zHi - kd; // exact, in [-1/2, 1/2]
        // zHi may sit exactly on a half-way point that the exact z does not.
        if (t == 0.5 && zLo > 0) {
            kd += 1;
            t -= 1;
        } else if (t == -0.5 && zLo < 0) {
            kd -= 1;
            t += 1;
        }
        double r = t + zLo; // = fma(x, 32/ln2, -kd): one rounding of the exact z - kd
        int k = (int) kd;
        // The FMA build also fuses these three polynomial steps. Here they are evaluated unfused:
        // over all 2^32 inputs that gives the same float result (checked exhaustively against
        // glibc), because their rounding errors are far below what the final float rounding can
        // see, unlike k and r above, which must be exact. This keeps exp cheap.
        double z = EXP_C0 * r + EXP_C1;
        double r2 = r * r;
        double y = EXP_C2 * r + 1.0;
        y = z * r2 + y;
        return (float) scaleByPowerOfTwo(y * EXP2_TABLE[k & EXP2_TABLE_MASK], k >> EXP2_TABLE_BITS);
    }

    // ---------------------------------------------------------------------------------------
    // sin / cos
    // ---------------------------------------------------------------------------------------

    /** 2/pi * 2^24: the quadrant ends up in bits 24..31 of the truncated product. */
    private static final double HALF_PI_INV_SCALED = 0x1.45f306dc9c883p+23;
    /** pi/2 = HALF_PI_HI + HALF_PI_LO; HI has 45 bits so n * HALF_PI_HI is exact for |n| < 2^8. */
    private static final double HALF_PI = 0x1.921fb54442d18p+0;
    private static final double HALF_PI_HI = 0x1.921fb54442dp+0;
    private static final double HALF_PI_LO = HALF_PI - HALF_PI_HI;
    /** 2*pi * 2^-64: scales the 2.62 fixed-point reduced argument. */
    private static final double PI63 = 0x1.921fb54442d18p-62;
    /** Cosine polynomial 1 + COS1 x^2 + COS2 x^4 + COS3 x^6 + COS4 x^8 on [-pi/4, pi/4]. */
    private static final double COS1 = -0x1.ffffffd0c621cp-2;
    private static final double COS2 = 0x1.55553e1068f19p-5;
    private static final double COS3 = -0x1.6c087e89a359dp-10;
    private static final double COS4 = 0x1.99343027bf8c3p-16;
    /** Sine polynomial x + SIN1 x^3 + SIN2 x^5 + SIN3 x^7 on [-pi/4, pi/4]. */
    private static final double SIN1 = -0x1.555545995a603p-3;
    private static final double SIN2 = 0x1.1107605230bc4p-7;
    private static final double SIN3 = -0x1.994eb3774cf24p-13;
    /** Top 12 bits of pi/4 (float), 2^-12, 120 and infinity: the range-reduction boundaries. */
    private static final int PIO4_TOP12 = 0x3f4;
    private static final int TINY_TOP12 = 0x398;
    private static final int FAST_REDUCTION_LIMIT_TOP12 = 0x42f;
    /** 4/pi to 192 bits; entry j holds bits 8j .. 8j+31 (glibc __inv_pio4). */
    private static final int[] INV_PIO4 = {
        0xa2, 0xa2f9, 0xa2f983, 0xa2f9836e,
        0xf9836e4e, 0x836e4e44, 0x6e4e4415, 0x4e441529,
        0x441529fc, 0x1529fc27, 0x29fc2757, 0xfc2757d1,
        0x2757d1f5, 0x57d1f534, 0xd1f534dd, 0xf534ddc0,
        0x34ddc0db, 0xddc0db62, 0xc0db6295, 0xdb629599,
        0x6295993c, 0x95993c43, 0x993c4390, 0x3c439041,
    };

    /**
     * glibc 2.36 {@code sinf} (sysdeps/ieee754/flt-32/s_sinf.c + s_sincosf.h, FMA build), bit for
     * bit, for every float input. Algorithm: |x| < pi/4 evaluates the odd polynomial directly;
     * |x| < 120 reduces by x - n*pi/2 with one fused multiply-subtract; larger |x| reduces with a
     * 32x96-bit integer product against 4/pi. The reduced argument r in [-pi/4, pi/4] then feeds the
     * sine or cosine polynomial according to the quadrant n.
     */
    public static float sin(float x) {
        return sinOrCos(x, false);
    }

    /** glibc 2.36 {@code cosf} (s_cosf.c, FMA build), bit for bit; same scheme as {@link #sin}. */
    public static float cos(float x) {
        return sinOrCos(x, true);
    }

    private static float sinOrCos(float y, boolean cosine) {
        int iy = Float.floatToRawIntBits(y);
        int absTop12 = (iy >>> 20) & 0x7ff;
        double x = y;
        int n; // quadrant: selects polynomial (n & 1) and the result's sign
        int signQuadrant; // quadrant used for the sign: n, plus 1 for negative large inputs
        if (absTop12 < PIO4_TOP12) {
            if (absTop12 < TINY_TOP12) {
                return cosine ? 1.0f : y;
            }
            return cosine ? cosPoly(x * x, 1.0) : sinPoly(x, x * x);
        } else if (absTop12 < FAST_REDUCTION_LIMIT_TOP12) {
            // glibc reduce_fast: truncating conversion of the prescaled product, rounded by +2^23.
            n = ((int) (x * HALF_PI_INV_SCALED) + 0x800000) >> 24;
            // fma(-n, pi/2, x): x - n*HI is exact (cancellation, 45-bit HI); one rounding after LO.
            x = (x - n * HALF_PI_HI) - n * HALF_PI_LO;
            signQuadrant = n;
        } else if (absTop12 < FLOAT_INF_TOP12) {
            long fixed = reduceLarge(iy);
            long quadrant = (fixed + (1L << 61)) >>> 62; // round to the nearest quarter turn
            n = (int) quadrant;
            x = (double) (fixed - (quadrant << 62)) * PI63;
            signQuadrant = n + (iy >>> 31);
        } else {
            return Float.NaN; // sin/cos of +-inf or NaN
        }
        double x2 = x * x;
        boolean useCos = ((n & 1) != 0) != cosine;
        double negate = (signQuadrant & 2) != 0 ? -1.0 : 1.0;
        if (useCos) {
            return cosPoly(x2, negate);
        }
        boolean negateSinArg = ((signQuadrant + 1) & 2) != 0; // glibc sign[] = {1, -1, -1, 1}
        return sinPoly(negateSinArg ? -x : x, x2);
    }

    /**
     * glibc reduce_large for |x| >= 120: multiplies the 24-bit significand (pre-shifted by the low
     * three exponent bits) by the 96 bits of 4/pi that matter for this exponent, keeping bits
     * 32..95 of the 128-bit product. The result is x * 4/pi modulo 4 as an unsigned 2.62
     * fixed-point number; the caller rounds it to a quadrant. Uses {@code long} (as glibc does);
     * this path is only reached for |x| >= 120.
     */
    private static long reduceLarge(int xi) {
        int index = (xi >>> 26) & 15;
        int shift = (xi >>> 23) & 7;
        int m = ((xi & 0xffffff) | 0x800000) << shift;
        long mu = m & 0xffffffffL;
        long res0 = (long) (m * INV_PIO4[index]) << 32; // only the low 32 bits of this product count
        long res1 = mu * (INV_PIO4[index + 4] & 0xffffffffL);
        long res2 = mu * (INV_PIO4[index + 8] & 0xffffffffL);
        return ((res2 >>> 32) | res0) + res1;
    }

    /** Sine polynomial of glibc sinf_poly (n even), with its FMA contractions. */
    private static float sinPoly(double x, double x2) {
        double x3 = x * x2;
        double s1 = fma(x2, SIN3, SIN2);
        double x7 = x3 * x2;
        double s = fma(x3, SIN1, x);
        return (float) fma(x7, s1, s);
    }

    /**
     * Cosine polynomial of glibc sinf_poly (n odd), with its FMA contractions. {@code sign} is -1
     * for glibc's second table, which holds the negated cosine coefficients.
     */
    private static float cosPoly(double x2, double sign) {
        double x4 = x2 * x2;
        double c1 = fma(x2, sign * COS1, sign);
        double c2 = fma(x2, sign * COS4, sign * COS3);
        double x6 = x4 * x2;
        double c = fma(x4, sign * COS2, c1);
        return (float) fma(x6, c2, c);
    }

    // ---------------------------------------------------------------------------------------
    // pow(10000, y)
    // ---------------------------------------------------------------------------------------

    /** What glibc's powf multiplies y by for x = 10000: its log2_inline(10000f), not log2(10000) rounded. */
    private static final double LOG2_10000 = 0x1.a934f0979a22dp3;
    /** 1.5 * 2^47: adding it rounds to a multiple of 1/32. */
    private static final double EXP2_SHIFT_SCALED = 0x1.8p47;

    /**
     * glibc 2.36 {@code powf(10000, y)} (e_powf.c, FMA build), bit for bit, for {@code 0 <= y < 1}:
     * the one use of pow in the engine, RoPE's {@code 10000^(i/head_size)}. With x fixed, powf's
     * log2 step is the constant above; what remains is its exp2 step: y*log2(x) = k/32 + r with
     * |r| <= 1/64, then 2^(k/32) from the table times a cubic in r, with glibc's fused steps.
     * Verified against glibc's powf for every float y in [0, 1).
     */
    public static float pow10000(float y) {
        double ylogx = y * LOG2_10000;
        double kd = (ylogx + EXP2_SHIFT_SCALED) - EXP2_SHIFT_SCALED;
        double r = ylogx - kd;
        int k = (int) (kd * (1 << EXP2_TABLE_BITS));
        double z = fma(EXP2_C0, r, EXP2_C1);
        double r2 = r * r;
        double p = fma(EXP2_C2, r, 1.0);
        p = fma(z, r2, p);
        return (float) scaleByPowerOfTwo(p * EXP2_TABLE[k & EXP2_TABLE_MASK], k >> EXP2_TABLE_BITS);
    }
}
