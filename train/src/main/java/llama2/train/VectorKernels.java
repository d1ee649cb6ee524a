package llama2.train;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The matrix product {@code C (+)= A · B} with the JDK's vector API: the classic register-blocked
 * micro-kernel of BLAS libraries. A tile of 4 rows × 4 vectors of C lives in 16 vector registers
 * while k runs over the shared dimension; each step loads 4 vectors of one row of B, broadcasts 4
 * elements of A and issues 16 fused multiply-adds. That keeps the arithmetic units busy instead of
 * waiting on loads and stores, several times faster than the plain loops of {@link Kernels}.
 *
 * <p>B and C are row-major with contiguous rows; A is addressed through strides so that the same
 * kernel also multiplies by a transpose (the weight gradient reads {@code dYᵀ}). The order of the
 * additions is fixed by the shapes alone, so results are reproducible run to run.
 *
 * <p>Loaded only when the {@code jdk.incubator.vector} module is present (see {@link Kernels}).
 */
final class VectorKernels {
    private VectorKernels() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    /**
     * {@code C[m][n] = (accumulate ? C[m][n] : 0) + Σ_k A(m, k) · B[k][n]} for m &lt; rows,
     * n &lt; cols, k &lt; depth, where {@code A(m, k) = a[aOff + m·aRow + k·aCol]},
     * {@code B[k][n] = b[bOff + k·ldb + n]} and {@code C[m][n] = c[cOff + m·ldc + n]}.
     */
    static void gemm(float[] c, int cOff, int ldc, float[] a, int aOff, int aRow, int aCol,
                     float[] b, int bOff, int ldb, int rows, int depth, int cols, boolean accumulate) {
        int n = 0;
        for (; n + 4 * L <= cols; n += 4 * L) {
            int m = 0;
            for (; m + 4 <= rows; m += 4) {
                tile4x4(c, cOff, ldc, a, aOff, aRow, aCol, b, bOff, ldb, m, n, depth, accumulate);
            }
            for (; m < rows; m++) {
                for (int j = 0; j < 4; j++) {
                    row1x1(c, cOff, ldc, a, aOff, aRow, aCol, b, bOff, ldb, m, n + j * L, depth, accumulate);
                }
            }
        }
        for (; n + L <= cols; n += L) {
            int m = 0;
            for (; m + 4 <= rows; m += 4) {
                tile4x1(c, cOff, ldc, a, aOff, aRow, aCol, b, bOff, ldb, m, n, depth, accumulate);
            }
            for (; m < rows; m++) {
                row1x1(c, cOff, ldc, a, aOff, aRow, aCol, b, bOff, ldb, m, n, depth, accumulate);
            }
        }
        for (; n < cols; n++) {
            for (int m = 0; m < rows; m++) {
                float sum = accumulate ? c[cOff + m * ldc + n] : 0f;
                for (int k = 0; k < depth; k++) {
                    sum = Math.fma(a[aOff + m * aRow + k * aCol], b[bOff + k * ldb + n], sum);
                }
                c[cOff + m * ldc + n] = sum;
            }
        }
    }

    private static void tile4x4(float[] c, int cOff, int ldc, float[] a, int aOff, int aRow, int aCol,
                                float[] b, int bOff, int ldb, int m, int n, int depth, boolean accumulate) {
        int c0 = cOff + m * ldc + n, c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
        FloatVector z = FloatVector.zero(S);
        FloatVector s00 = z, s01 = z, s02 = z, s03 = z, s10 = z, s11 = z, s12 = z, s13 = z;
        FloatVector s20 = z, s21 = z, s22 = z, s23 = z, s30 = z, s31 = z, s32 = z, s33 = z;
        if (accumulate) {
            s00 = FloatVector.fromArray(S, c, c0); s01 = FloatVector.fromArray(S, c, c0 + L);
            s02 = FloatVector.fromArray(S, c, c0 + 2 * L); s03 = FloatVector.fromArray(S, c, c0 + 3 * L);
            s10 = FloatVector.fromArray(S, c, c1); s11 = FloatVector.fromArray(S, c, c1 + L);
            s12 = FloatVector.fromArray(S, c, c1 + 2 * L); s13 = FloatVector.fromArray(S, c, c1 + 3 * L);
            s20 = FloatVector.fromArray(S, c, c2); s21 = FloatVector.fromArray(S, c, c2 + L);
            s22 = FloatVector.fromArray(S, c, c2 + 2 * L); s23 = FloatVector.fromArray(S, c, c2 + 3 * L);
            s30 = FloatVector.fromArray(S, c, c3); s31 = FloatVector.fromArray(S, c, c3 + L);
            s32 = FloatVector.fromArray(S, c, c3 + 2 * L); s33 = FloatVector.fromArray(S, c, c3 + 3 * L);
        }
        int a0 = aOff + m * aRow, a1 = a0 + aRow, a2 = a1 + aRow, a3 = a2 + aRow;
        for (int k = 0; k < depth; k++) {
            int bk = bOff + k * ldb + n;
            FloatVector b0 = FloatVector.fromArray(S, b, bk);
            FloatVector b1 = FloatVector.fromArray(S, b, bk + L);
            FloatVector b2 = FloatVector.fromArray(S, b, bk + 2 * L);
            FloatVector b3 = FloatVector.fromArray(S, b, bk + 3 * L);
            int ak = k * aCol;
            FloatVector x = FloatVector.broadcast(S, a[a0 + ak]);
            s00 = b0.fma(x, s00); s01 = b1.fma(x, s01); s02 = b2.fma(x, s02); s03 = b3.fma(x, s03);
            x = FloatVector.broadcast(S, a[a1 + ak]);
            s10 = b0.fma(x, s10); s11 = b1.fma(x, s11); s12 = b2.fma(x, s12); s13 = b3.fma(x, s13);
            x = FloatVector.broadcast(S, a[a2 + ak]);
            s20 = b0.fma(x, s20); s21 = b1.fma(x, s21); s22 = b2.fma(x, s22); s23 = b3.fma(x, s23);
            x = FloatVector.broadcast(S, a[a3 + ak]);
            s30 = b0.fma(x, s30); s31 = b1.fma(x, s31); s32 = b2.fma(x, s32); s33 = b3.fma(x, s33);
        }
        s00.intoArray(c, c0); s01.intoArray(c, c0 + L); s02.intoArray(c, c0 + 2 * L); s03.intoArray(c, c0 + 3 * L);
        s10.intoArray(c, c1); s11.intoArray(c, c1 + L); s12.intoArray(c, c1 + 2 * L); s13.intoArray(c, c1 + 3 * L);
        s20.intoArray(c, c2); s21.intoArray(c, c2 + L); s22.intoArray(c, c2 + 2 * L); s23.intoArray(c, c2 + 3 * L);
        s30.intoArray(c, c3); s31.intoArray(c, c3 + L); s32.intoArray(c, c3 + 2 * L); s33.intoArray(c, c3 + 3 * L);
    }

    /** Four rows by one vector: narrow products (one attention head) still get 4 independent sums. */
    private static void tile4x1(float[] c, int cOff, int ldc, float[] a, int aOff, int aRow, int aCol,
                                float[] b, int bOff, int ldb, int m, int n, int depth, boolean accumulate) {
        int c0 = cOff + m * ldc + n, c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
        FloatVector s0, s1, s2, s3;
        if (accumulate) {
            s0 = FloatVector.fromArray(S, c, c0); s1 = FloatVector.fromArray(S, c, c1);
            s2 = FloatVector.fromArray(S, c, c2); s3 = FloatVector.fromArray(S, c, c3);
        } else {
            s0 = s1 = s2 = s3 = FloatVector.zero(S);
        }
        int a0 = aOff + m * aRow, a1 = a0 + aRow, a2 = a1 + aRow, a3 = a2 + aRow;
        for (int k = 0; k < depth; k++) {
            FloatVector bk = FloatVector.fromArray(S, b, bOff + k * ldb + n);
            int ak = k * aCol;
            s0 = bk.fma(FloatVector.broadcast(S, a[a0 + ak]), s0);
            s1 = bk.fma(FloatVector.broadcast(S, a[a1 + ak]), s1);
            s2 = bk.fma(FloatVector.broadcast(S, a[a2 + ak]), s2);
            s3 = bk.fma(FloatVector.broadcast(S, a[a3 + ak]), s3);
        }
        s0.intoArray(c, c0); s1.intoArray(c, c1); s2.intoArray(c, c2); s3.intoArray(c, c3);
    }

    private static void row1x1(float[] c, int cOff, int ldc, float[] a, int aOff, int aRow, int aCol,
                               float[] b, int bOff, int ldb, int m, int n, int depth, boolean accumulate) {
        int c0 = cOff + m * ldc + n;
        FloatVector s = accumulate ? FloatVector.fromArray(S, c, c0) : FloatVector.zero(S);
        int a0 = aOff + m * aRow;
        for (int k = 0; k < depth; k++) {
            s = FloatVector.fromArray(S, b, bOff + k * ldb + n).fma(FloatVector.broadcast(S, a[a0 + k * aCol]), s);
        }
        s.intoArray(c, c0);
    }
}
