package llama2.engine;

/** A float32 weight matrix: run.c's arithmetic. */
public final class FloatMatrix implements Matrix {
    private final int rows;
    private final int cols;
    private final float[] values;

    public FloatMatrix(int rows, int cols, float[] values) {
        if ((long) rows * cols != values.length) {
            throw new IllegalArgumentException(rows + "x" + cols + " matrix given " + values.length + " values");
        }
        this.rows = rows;
        this.cols = cols;
        this.values = values;
    }

    @Override
    public int rows() {
        return rows;
    }

    @Override
    public int cols() {
        return cols;
    }

    /** The weights, row-major; shared, not copied. */
    public float[] values() {
        return values;
    }

    /**
     * Each row's dot product is one float sum with j ascending, exactly as run.c, so results
     * are bit-identical to the reference. Eight rows are computed side by side only so that the
     * CPU has eight independent additions in flight instead of waiting on one chain.
     */
    @Override
    public void multiply(float[] x, float[] out) {
        int n = cols;
        float[] w = values;
        int i = 0;
        for (; i + 8 <= rows; i += 8) {
            int r0 = i * n, r1 = r0 + n, r2 = r1 + n, r3 = r2 + n, r4 = r3 + n, r5 = r4 + n, r6 = r5 + n, r7 = r6 + n;
            float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f, s4 = 0f, s5 = 0f, s6 = 0f, s7 = 0f;
            for (int j = 0; j < n; j++) {
                float xj = x[j];
                s0 += w[r0 + j] * xj;
                s1 += w[r1 + j] * xj;
                s2 += w[r2 + j] * xj;
                s3 += w[r3 + j] * xj;
                s4 += w[r4 + j] * xj;
                s5 += w[r5 + j] * xj;
                s6 += w[r6 + j] * xj;
                s7 += w[r7 + j] * xj;
            }
            out[i] = s0;
            out[i + 1] = s1;
            out[i + 2] = s2;
            out[i + 3] = s3;
            out[i + 4] = s4;
            out[i + 5] = s5;
            out[i + 6] = s6;
            out[i + 7] = s7;
        }
        for (; i < rows; i++) {
            int r = i * n;
            float s = 0f;
            for (int j = 0; j < n; j++) {
                s += w[r + j] * x[j];
            }
            out[i] = s;
        }
    }

    @Override
    public void copyRow(int row, float[] out) {
        System.arraycopy(values, row * cols, out, 0, cols);
    }
}
