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
 * <p>How it is faster: four rows of C are updated side by side and four steps of k are taken per
 * pass over a row, so each value of B read serves four rows, and each element of C is loaded and
 * stored once per four products instead of once per product. The sum
 * {@code c + x0·y0 + x1·y1 + x2·y2 + x3·y3} is evaluated left to right, so the order above holds.
 * Without SIMD (TeaVM emits none, and the JVM does not vectorize these loops) each product costs
 * one scalar multiply and one scalar add whatever the loop; what a loop can save is array accesses,
 * each with its bounds check in WebAssembly. This one makes three per four products (per sixteen:
 * four loads of B, four loads and four stores of C), about as few as the register tiles with k
 * innermost (the engine's FloatMatrix layout) that fit in the sixteen float registers of an x86 core.
 */
final class PortableKernels implements Kernels.Implementation {
    static final PortableKernels INSTANCE = new PortableKernels();

    private PortableKernels() {}

    /** Rows of C updated side by side, and steps of k per pass. */
    private static final int ROWS = 4, STEPS = 4;

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
        int m = 0;
        for (; m + ROWS <= rows; m += ROWS) {
            int c0 = cOff + m * ldc, c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
            int a0 = aOff + m * aRow, a1 = a0 + aRow, a2 = a1 + aRow, a3 = a2 + aRow;
            int k = 0;
            for (; k + STEPS <= depth; k += STEPS) {
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
}
