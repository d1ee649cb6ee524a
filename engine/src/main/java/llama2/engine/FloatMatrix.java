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
     * are bit-identical to the reference. Four rows are computed side by side only so that the
     * CPU has four independent additions in flight instead of waiting on one chain.
     */
    @Override
    public void multiply(float[] x, float[] out) {
        int n = cols;
        int i = 0;
        for (; i + 4 <= rows; i += 4) {
            int r0 = i * n, r1 = r0 + n, r2 = r1 + n, r3 = r2 + n;
            float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
            for (int j = 0; j < n; j++) {
                float xj = x[j];
                s0 += values[r0 + j] * xj;
                s1 += values[r1 + j] * xj;
                s2 += values[r2 + j] * xj;
                s3 += values[r3 + j] * xj;
            }
            out[i] = s0;
            out[i + 1] = s1;
            out[i + 2] = s2;
            out[i + 3] = s3;
        }
        for (; i < rows; i++) {
            int r = i * n;
            float s = 0f;
            for (int j = 0; j < n; j++) {
                s += values[r + j] * x[j];
            }
            out[i] = s;
        }
    }

    @Override
    public void copyRow(int row, float[] out) {
        System.arraycopy(values, row * cols, out, 0, cols);
    }
}
