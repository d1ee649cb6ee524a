package llama2.train;

/**
 * Matrix products, the only heavy arithmetic of training.
 *
 * <p>Everything goes through one general product, {@link #gemm}. When the JVM runs with
 * {@code --add-modules jdk.incubator.vector} it is {@link VectorKernels}' register-blocked SIMD
 * kernel (roughly 15 times faster on a modern x86 core); otherwise it is the portable loop below,
 * whose inner loop {@code c[i] += s * b[i]} over contiguous memory C2 still auto-vectorizes.
 *
 * <p>The linear-layer shapes: {@code x [n][in]}, {@code y [n][out]}, {@code W [out][in]} (llama2.c's
 * layout) and {@code Wt [in][out]}, its transpose, kept by {@link Model} for the forward pass.
 */
final class Kernels {
    private Kernels() {}

    /**
     * Whether the vector API is available (and not switched off with
     * {@code -Dllama2.train.scalar=true}).
     */
    static final boolean VECTOR = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()
            && !Boolean.getBoolean("llama2.train.scalar");

    /**
     * {@code C[m][j] = (accumulate ? C[m][j] : 0) + Σ_k A(m, k) · B[k][j]} for m &lt; rows,
     * k &lt; depth, j &lt; cols, where {@code A(m, k) = a[aOff + m·aRow + k·aCol]} (strides let A be
     * a transpose), {@code B[k][j] = b[bOff + k·ldb + j]} and {@code C[m][j] = c[cOff + m·ldc + j]}.
     */
    static void gemm(float[] c, int cOff, int ldc, float[] a, int aOff, int aRow, int aCol,
                     float[] b, int bOff, int ldb, int rows, int depth, int cols, boolean accumulate) {
        if (VECTOR) {
            VectorKernels.gemm(c, cOff, ldc, a, aOff, aRow, aCol, b, bOff, ldb, rows, depth, cols, accumulate);
        } else {
            scalarGemm(c, cOff, ldc, a, aOff, aRow, aCol, b, bOff, ldb, rows, depth, cols, accumulate);
        }
    }

    /** The portable {@link #gemm}: one row of C at a time, one scaled row of B added per k. */
    static void scalarGemm(float[] c, int cOff, int ldc, float[] a, int aOff, int aRow, int aCol,
                           float[] b, int bOff, int ldb, int rows, int depth, int cols, boolean accumulate) {
        for (int m = 0; m < rows; m++) {
            int cRow = cOff + m * ldc;
            if (!accumulate) {
                java.util.Arrays.fill(c, cRow, cRow + cols, 0f);
            }
            for (int k = 0; k < depth; k++) {
                axpy(c, cRow, a[aOff + m * aRow + k * aCol], b, bOff + k * ldb, cols);
            }
        }
    }

    /** {@code y = x · Wᵀ}, computed from {@code Wt}. */
    static void forward(float[] y, float[] x, float[] wt, int wtOff, int n, int in, int out) {
        gemm(y, 0, out, x, 0, in, 1, wt, wtOff, out, n, in, out, false);
    }

    /** {@code dx += dy · W}: the gradient flowing back to the layer's input. */
    static void backwardInput(float[] dx, float[] dy, float[] w, int wOff, int n, int in, int out) {
        gemm(dx, 0, in, dy, 0, out, 1, w, wOff, in, n, out, in, true);
    }

    /** {@code dW += dyᵀ · x}: the gradient of the weights, accumulated. */
    static void backwardWeight(float[] dw, int dwOff, float[] dy, float[] x, int n, int in, int out) {
        gemm(dw, dwOff, in, dy, 0, 1, out, x, 0, in, out, n, in, true);
    }

    /** {@code a[aOff..] += s * b[bOff..]} for {@code len} elements: the loop C2 vectorizes. */
    static void axpy(float[] a, int aOff, float s, float[] b, int bOff, int len) {
        for (int i = 0; i < len; i++) {
            a[aOff + i] += s * b[bOff + i];
        }
    }

    /** Writes the transpose of {@code src [rows][cols]} (row stride lds) into {@code dst [cols][rows]}. */
    static void transpose(float[] src, int srcOff, int lds, float[] dst, int dstOff, int rows, int cols) {
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                dst[dstOff + c * rows + r] = src[srcOff + r * lds + c];
            }
        }
    }

    static void transpose(float[] src, int srcOff, float[] dst, int dstOff, int rows, int cols) {
        transpose(src, srcOff, cols, dst, dstOff, rows, cols);
    }
}
