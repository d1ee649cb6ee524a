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
 * rounded to float. Two loops compute exactly that, only faster, each for its compiler; a test
 * holds both equal to the plain one bit for bit. Both are in the "axpy" form: a row of C is
 * updated along j, {@code c[j] = c[j] + x0·b0[j] + x1·b1[j] …} evaluated left to right, one step
 * of k after the other, so the order above holds.
 *
 * <p>{@link #TILES}, the default and what the browser runs: four rows of C side by side and four
 * steps of k per pass, so each value of B read serves four rows, and each element of C is loaded
 * and stored once per four products. TeaVM emits no SIMD, so in WebAssembly each product costs
 * one scalar multiply and one scalar add whatever the loop; what a loop can save is array
 * accesses, each with its bounds check. This one makes three per four products, about as few as
 * the register tiles with k innermost that fit in the sixteen float registers of an x86 core.
 * It walks all the columns and all of k for every four rows, so an operand larger than the caches
 * (the classifier's, 1 MB for dim 128 × vocab 2048) is read from L3 once per four rows; that costs
 * little, because the scalar loop reads it at under 1 GB/s (64 MB in 0.12 s for the classifier's
 * 256 rows), far below the 17 GB/s one core of this machine reads from memory.
 * Blocking the loop for the caches without copies (blocks of 64 steps of k × 128 columns, all rows
 * of C over each; 256 × 256 and 32 × 256 too; the same order, so the same bits) measured no faster
 * in Chromium: with two workers 0.94× and one 1.03× on <i>small</i>, 0.92× and 0.79× on <i>tiny</i>
 * (whose products it only cut into shorter loops). With a timer around each operation of the
 * passes in two workers side by side, every operation scaled alike, 1.6–2.0× one worker (the
 * whole pass 1.8–1.9×), as a scalar loop over 16 KB on two JVM threads does on this machine.
 *
 * <p>{@link #ROWS}, what {@code --kernels portable} runs on the JVM: the JVM's compiler (C2) turns
 * an axpy loop into SIMD instructions (8 floats at a time with AVX2; it keeps multiplies and adds
 * apart, so the bits do not change), which it never does for sums along a row (dot products), and
 * does here only when
 * <ul>
 *   <li>every array in the loop is indexed by the loop variable alone: with {@code c[cOff + j]}
 *       and {@code b[bOff + j]} it cannot tell that a store to C never feeds a later load of B,
 *       and keeps the loop scalar (so it does with {@link #TILES}). Hence copies: each block of
 *       {@link #K_BLOCK} rows of B ({@link #N_BLOCK} columns wide) into an array per row, and the
 *       rows of C being updated into arrays of their own, and back: one move per element of B per
 *       block, two per element of C per block of k, small beside the products;</li>
 *   <li>the loop body is small: two rows by two steps is the largest it still vectorizes (four by
 *       four and one row by eight are not).</li>
 * </ul>
 * On the JVM it trains 2.3× as fast as {@link #TILES} (dim128, one thread); in Chromium, with
 * twice the array accesses per product and no SIMD, 0.84× as fast (small, one worker), so the
 * browser keeps {@link #TILES}.
 */
final class PortableKernels implements Kernels.Implementation {
    /** Four rows by four steps of k, in place: the default, and the browser's. */
    static final PortableKernels TILES = new PortableKernels(false);
    /** Two rows by two steps of k over rows copied apart, which C2 vectorizes: the JVM's {@code --kernels portable}. */
    static final PortableKernels ROWS = new PortableKernels(true);

    /** Steps of k, and columns of B and C, per block {@link #ROWS} copies. */
    private static final int K_BLOCK = 64, N_BLOCK = 256;

    private final boolean copied;

    private PortableKernels(boolean copied) {
        this.copied = copied;
    }

    @Override
    public String name() {
        return "portable";
    }

    /** {@code C[m][n] = (accumulate ? C[m][n] : 0) + Σ_k A(m, k) · B[k][n]}, in {@link #plain}'s order. */
    @Override
    public void gemm(View c, View a, boolean transposeA, View b, boolean accumulate) {
        int aRow = transposeA ? 1 : a.stride(), aCol = transposeA ? a.stride() : 1;
        int depth = transposeA ? a.rows() : a.cols();
        if (!accumulate) {
            for (int m = 0; m < c.rows(); m++) {
                int from = c.offset() + m * c.stride();
                Arrays.fill(c.data(), from, from + c.cols(), 0f);
            }
        }
        // A(m, k) = a[aOff + m·aRow + k·aCol], B[k][n] = b[bOff + k·ldb + n], C[m][n] = c[cOff + m·ldc + n]
        if (copied) {
            copiedRows(c.data(), c.offset(), c.stride(), a.data(), a.offset(), aRow, aCol, b.data(), b.offset(), b.stride(),
                    c.rows(), depth, c.cols());
        } else {
            tiles(c.data(), c.offset(), c.stride(), a.data(), a.offset(), aRow, aCol, b.data(), b.offset(), b.stride(),
                    c.rows(), depth, c.cols());
        }
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

    /** {@link #TILES}: four rows of C by four steps of k, in place; the rows left over one at a time. */
    private static void tiles(float[] c, int cOff, int ldc, float[] a, int aOff, int aRow, int aCol,
                              float[] b, int bOff, int ldb, int rows, int depth, int cols) {
        int m = 0;
        for (; m + 4 <= rows; m += 4) {
            int c0 = cOff + m * ldc, c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
            int a0 = aOff + m * aRow, a1 = a0 + aRow, a2 = a1 + aRow, a3 = a2 + aRow;
            int k = 0;
            for (; k + 4 <= depth; k += 4) {
                int k0 = k * aCol, k1 = k0 + aCol, k2 = k1 + aCol, k3 = k2 + aCol;
                float x00 = a[a0 + k0], x01 = a[a0 + k1], x02 = a[a0 + k2], x03 = a[a0 + k3];
                float x10 = a[a1 + k0], x11 = a[a1 + k1], x12 = a[a1 + k2], x13 = a[a1 + k3];
                float x20 = a[a2 + k0], x21 = a[a2 + k1], x22 = a[a2 + k2], x23 = a[a2 + k3];
                float x30 = a[a3 + k0], x31 = a[a3 + k1], x32 = a[a3 + k2], x33 = a[a3 + k3];
                int b0 = bOff + k * ldb, b1 = b0 + ldb, b2 = b1 + ldb, b3 = b2 + ldb;
                for (int j = 0; j < cols; j++) {
                    float y0 = b[b0 + j], y1 = b[b1 + j], y2 = b[b2 + j], y3 = b[b3 + j];
                    c[c0 + j] = c[c0 + j] + x00 * y0 + x01 * y1 + x02 * y2 + x03 * y3;
                    c[c1 + j] = c[c1 + j] + x10 * y0 + x11 * y1 + x12 * y2 + x13 * y3;
                    c[c2 + j] = c[c2 + j] + x20 * y0 + x21 * y1 + x22 * y2 + x23 * y3;
                    c[c3 + j] = c[c3 + j] + x30 * y0 + x31 * y1 + x32 * y2 + x33 * y3;
                }
            }
            for (; k < depth; k++) {
                int kk = k * aCol, bk = bOff + k * ldb;
                float x0 = a[a0 + kk], x1 = a[a1 + kk], x2 = a[a2 + kk], x3 = a[a3 + kk];
                for (int j = 0; j < cols; j++) {
                    float y = b[bk + j];
                    c[c0 + j] = c[c0 + j] + x0 * y;
                    c[c1 + j] = c[c1 + j] + x1 * y;
                    c[c2 + j] = c[c2 + j] + x2 * y;
                    c[c3 + j] = c[c3 + j] + x3 * y;
                }
            }
        }
        for (; m < rows; m++) {
            int cm = cOff + m * ldc, am = aOff + m * aRow;
            for (int k = 0; k < depth; k++) {
                Kernels.axpy(c, cm, a[am + k * aCol], b, bOff + k * ldb, cols);
            }
        }
    }

    /**
     * {@link #ROWS}: blocks of B's rows, and the two rows of C being updated, copied into arrays
     * of their own; two rows by two steps of k over them.
     */
    private static void copiedRows(float[] c, int cOff, int ldc, float[] a, int aOff, int aRow, int aCol,
                                   float[] b, int bOff, int ldb, int rows, int depth, int cols) {
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
