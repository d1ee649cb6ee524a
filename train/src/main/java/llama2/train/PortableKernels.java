package llama2.train;

import java.util.Arrays;

import llama2.train.Kernels.View;

/**
 * The matrix products in plain Java: no vector API, no threads, no fused multiply-add. This is
 * what TeaVM compiles for training in the browser, and its results are the same bits on every
 * JVM and in WebAssembly.
 *
 * <p><b>The order of the arithmetic</b>, which fixes those bits, is {@link #plain}'s: each element
 * of C starts from its old value (or +0 when the product overwrites C) and adds the products
 * {@code A(i, k) · B(k, j)} one at a time, k ascending, each product rounded to float and each sum
 * rounded to float. {@link #gemm} computes exactly that, only faster; a test holds them equal bit
 * for bit.
 *
 * <p>How it is faster: C is updated a row at a time in the "axpy" form, {@code c[j] += x · b[j]}
 * for j along the row, one step of k after the other: two rows of C side by side and two steps of
 * k per pass, {@code c0[j] = c0[j] + x0·b0[j] + x1·b1[j]} evaluated left to right, so the order
 * above holds. The JVM's compiler (C2) turns such a loop into SIMD instructions (8 floats at a
 * time with AVX2; it keeps multiplies and adds apart, so the bits do not change), which it does
 * not do for sums along a row (dot products), and does here only when
 * <ul>
 *   <li>every array in the loop is indexed by the loop variable alone: with {@code c[cOff + j]}
 *       and {@code b[bOff + j]} it cannot tell that a store to C never feeds a later load of B
 *       and keeps the loop scalar. Hence the copies: each block of {@link #K_BLOCK} rows of B
 *       ({@link #N_BLOCK} columns wide) into an array per row, and the two rows of C being
 *       updated into two arrays, and back. They cost one move per element of B per block and two
 *       per element of C per block of k, small beside the products;</li>
 *   <li>the loop body is small: two rows by two steps is the largest it still vectorizes (four by
 *       four, the previous loop, and one row by eight are not).</li>
 * </ul>
 * TeaVM emits no SIMD, so in WebAssembly each product costs one scalar multiply and one scalar
 * add whatever the loop, and what a loop can save is array accesses (each with its bounds check).
 * This one makes six per four products, the four-by-four one it replaced three, yet in Chromium it
 * measured no slower (the copies keep the rows at hand in the cache).
 */
final class PortableKernels implements Kernels.Implementation {
    static final PortableKernels INSTANCE = new PortableKernels();

    private PortableKernels() {}

    /** Steps of k, and columns of B and C, per block copied into separate arrays. */
    private static final int K_BLOCK = 64, N_BLOCK = 256;

    @Override
    public String name() {
        return "portable";
    }

    @Override
    public void gemm(View c, View a, boolean transposeA, View b, boolean accumulate) {
        int aRow = transposeA ? 1 : a.stride(), aCol = transposeA ? a.stride() : 1;
        int depth = transposeA ? a.rows() : a.cols();
        gemm(c.data(), c.offset(), c.stride(), a.data(), a.offset(), aRow, aCol, b.data(), b.offset(), b.stride(),
                c.rows(), depth, c.cols(), accumulate);
    }

    /**
     * The meaning of {@link #gemm} and the order of its additions: {@code C = (accumulate ? C : 0)
     * + A'·B}, A' being A or Aᵀ, one element at a time.
     */
    static void plain(View c, View a, boolean transposeA, View b, boolean accumulate) {
        int depth = transposeA ? a.rows() : a.cols();
        for (int i = 0; i < c.rows(); i++) {
            for (int j = 0; j < c.cols(); j++) {
                int at = c.offset() + i * c.stride() + j;
                float sum = accumulate ? c.data()[at] : 0f;
                for (int k = 0; k < depth; k++) {
                    float aik = transposeA ? a.data()[a.offset() + k * a.stride() + i] : a.data()[a.offset() + i * a.stride() + k];
                    sum += aik * b.data()[b.offset() + k * b.stride() + j];
                }
                c.data()[at] = sum;
            }
        }
    }

    /**
     * {@code C[m][n] = (accumulate ? C[m][n] : 0) + Σ_k A(m, k) · B[k][n]}, where
     * {@code A(m, k) = a[aOff + m·aRow + k·aCol]}, {@code B[k][n] = b[bOff + k·ldb + n]} and
     * {@code C[m][n] = c[cOff + m·ldc + n]}.
     */
    private static void gemm(float[] c, int cOff, int ldc, float[] a, int aOff, int aRow, int aCol,
                             float[] b, int bOff, int ldb, int rows, int depth, int cols, boolean accumulate) {
        if (!accumulate) {
            for (int m = 0; m < rows; m++) {
                Arrays.fill(c, cOff + m * ldc, cOff + m * ldc + cols, 0f);
            }
        }
        Scratch s = SCRATCH.get();
        float[][] bRows = s.bRows;
        float[] c0 = s.c0, c1 = s.c1;
        for (int n0 = 0; n0 < cols; n0 += N_BLOCK) {
            int width = Math.min(N_BLOCK, cols - n0);
            for (int k0 = 0; k0 < depth; k0 += K_BLOCK) {
                int steps = Math.min(K_BLOCK, depth - k0);
                for (int k = 0; k < steps; k++) {
                    System.arraycopy(b, bOff + (k0 + k) * ldb + n0, bRows[k], 0, width);
                }
                int m = 0;
                for (; m + 2 <= rows; m += 2) {
                    int cm = cOff + m * ldc + n0, am = aOff + m * aRow + k0 * aCol;
                    System.arraycopy(c, cm, c0, 0, width);
                    System.arraycopy(c, cm + ldc, c1, 0, width);
                    int k = 0;
                    for (; k + 2 <= steps; k += 2) {
                        int ak = am + k * aCol;
                        twoRowsTwoSteps(c0, c1, a[ak], a[ak + aCol], a[ak + aRow], a[ak + aRow + aCol],
                                bRows[k], bRows[k + 1], width);
                    }
                    if (k < steps) {
                        int ak = am + k * aCol;
                        twoRowsOneStep(c0, c1, a[ak], a[ak + aRow], bRows[k], width);
                    }
                    System.arraycopy(c0, 0, c, cm, width);
                    System.arraycopy(c1, 0, c, cm + ldc, width);
                }
                if (m < rows) {
                    int cm = cOff + m * ldc + n0, am = aOff + m * aRow + k0 * aCol;
                    System.arraycopy(c, cm, c0, 0, width);
                    for (int k = 0; k < steps; k++) {
                        oneRowOneStep(c0, a[am + k * aCol], bRows[k], width);
                    }
                    System.arraycopy(c0, 0, c, cm, width);
                }
            }
        }
    }

    private static void twoRowsTwoSteps(float[] c0, float[] c1, float x0, float x1, float z0, float z1,
                                        float[] b0, float[] b1, int width) {
        for (int j = 0; j < width; j++) {
            float y0 = b0[j], y1 = b1[j];
            c0[j] = c0[j] + x0 * y0 + x1 * y1;
            c1[j] = c1[j] + z0 * y0 + z1 * y1;
        }
    }

    private static void twoRowsOneStep(float[] c0, float[] c1, float x, float z, float[] b0, int width) {
        for (int j = 0; j < width; j++) {
            float y = b0[j];
            c0[j] = c0[j] + x * y;
            c1[j] = c1[j] + z * y;
        }
    }

    private static void oneRowOneStep(float[] c0, float x, float[] b0, int width) {
        for (int j = 0; j < width; j++) {
            c0[j] = c0[j] + x * b0[j];
        }
    }

    /** Each thread's copies: a block of B's rows, two rows of C. */
    private static final class Scratch {
        final float[][] bRows = new float[K_BLOCK][N_BLOCK];
        final float[] c0 = new float[N_BLOCK], c1 = new float[N_BLOCK];
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);
}
