package llama2.train;

/**
 * Matrix products, the only heavy arithmetic of training, and which implementation computes them.
 *
 * <p>Every product the trainer takes is one of three, on {@link View}s of its flat arrays:
 * {@link #multiply} ({@code C = A·B}), {@link #multiplyAdd} ({@code C += A·B}) and
 * {@link #multiplyTransposedAdd} ({@code C += Aᵀ·B}). A linear layer names its three after their
 * role: {@link #forward}, {@link #backwardInput}, {@link #backwardWeight}.
 *
 * <p>Two implementations compute them: {@link PortableKernels} (plain Java in a fixed order, what
 * the browser's trainer runs, the same bits everywhere) and {@link VectorKernels} (the JDK's vector
 * API, JVM only, several times faster). The command line chooses with {@code --kernels} (see
 * {@link KernelChoice}, the only class that names the vector one); until it does, products are
 * portable.
 */
final class Kernels {
    private Kernels() {}

    /**
     * A {@code rows × cols} matrix inside a flat array, row after row: element (i, j) is
     * {@code data[offset + i·stride + j]}. The stride lets a view be one head's columns of a wider
     * matrix, or a block of rows of a larger one.
     */
    record View(float[] data, int offset, int rows, int cols, int stride) {
        /** Rows stored one right after the other. */
        View(float[] data, int offset, int rows, int cols) {
            this(data, offset, rows, cols, cols);
        }
    }

    /** One way to compute the products. */
    interface Implementation {
        /** As the {@code --kernels} flag says it. */
        String name();

        /** {@code C = (accumulate ? C : 0) + A'·B}, where A' is A, or Aᵀ when {@code transposeA}. */
        void gemm(View c, View a, boolean transposeA, View b, boolean accumulate);
    }

    private static Implementation active = PortableKernels.TILES;

    /** From now on, every product in this process goes through {@code kernels}. */
    static void use(Implementation kernels) {
        active = kernels;
    }

    static Implementation active() {
        return active;
    }

    /** {@code C = A·B}: A {@code [m][k]}, B {@code [k][n]}, C {@code [m][n]}. */
    static void multiply(View c, View a, View b) {
        check(c, a.rows(), a.cols(), b);
        active.gemm(c, a, false, b, false);
    }

    /** {@code C += A·B}. */
    static void multiplyAdd(View c, View a, View b) {
        check(c, a.rows(), a.cols(), b);
        active.gemm(c, a, false, b, true);
    }

    /** {@code C += Aᵀ·B}: A {@code [k][m]}, B {@code [k][n]}, C {@code [m][n]}. */
    static void multiplyTransposedAdd(View c, View a, View b) {
        check(c, a.cols(), a.rows(), b);
        active.gemm(c, a, true, b, true);
    }

    private static void check(View c, int m, int k, View b) {
        if (b.rows() != k || c.rows() != m || c.cols() != b.cols()) {
            throw new IllegalArgumentException("product of [" + m + "][" + k + "] by [" + b.rows() + "][" + b.cols()
                    + "] into [" + c.rows() + "][" + c.cols() + "]");
        }
    }

    // The linear layer: x [n][in], y [n][out], W [out][in] (llama2.c's layout) at an offset of the
    // parameters, and Wt [in][out], its transpose, which Model keeps for the forward pass.

    /** {@code y = x · Wᵀ}, computed from {@code Wt}. */
    static void forward(float[] y, float[] x, float[] wt, int wtOff, int n, int in, int out) {
        multiply(new View(y, 0, n, out), new View(x, 0, n, in), new View(wt, wtOff, in, out));
    }

    /** {@code dx += dy · W}: the gradient flowing back to the layer's input. */
    static void backwardInput(float[] dx, float[] dy, float[] w, int wOff, int n, int in, int out) {
        multiplyAdd(new View(dx, 0, n, in), new View(dy, 0, n, out), new View(w, wOff, out, in));
    }

    /** {@code dW += dyᵀ · x}: the gradient of the weights, accumulated. */
    static void backwardWeight(float[] dw, int dwOff, float[] dy, float[] x, int n, int in, int out) {
        multiplyTransposedAdd(new View(dw, dwOff, out, in), new View(dy, 0, n, out), new View(x, 0, n, in));
    }

    /** {@code a[aOff..] += s * b[bOff..]} for {@code len} elements. */
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
