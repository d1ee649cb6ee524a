package llama2.engine;

/**
 * A Q8_0 weight matrix (runq.c): int8 values, and one float scale for each group of
 * {@code groupSize} consecutive values; a weight is {@code q[i] * scale[i / groupSize]}.
 *
 * <p>{@link #multiply} quantizes its input vector the same way first and sums int8 products in
 * int32 within each group, which is what makes runq.c fast and what parity requires.
 */
public final class QuantizedMatrix implements Matrix {
    private final int rows;
    private final int cols;
    private final int groupSize;
    private final byte[] values;
    private final float[] scales;

    // The quantized input vector, reused by every call (the engine is single-threaded).
    private final byte[] inputValues;
    private final float[] inputScales;

    public QuantizedMatrix(int rows, int cols, int groupSize, byte[] values, float[] scales) {
        if (groupSize <= 0 || cols % groupSize != 0) {
            throw new IllegalArgumentException("group size " + groupSize + " does not divide " + cols);
        }
        if ((long) rows * cols != values.length || values.length / groupSize != scales.length) {
            throw new IllegalArgumentException(rows + "x" + cols + " matrix given " + values.length
                    + " values and " + scales.length + " scales");
        }
        this.rows = rows;
        this.cols = cols;
        this.groupSize = groupSize;
        this.values = values;
        this.scales = scales;
        this.inputValues = new byte[cols];
        this.inputScales = new float[cols / groupSize];
    }

    /**
     * Quantizes float weights as llama2.c's export.py does: per group, {@code scale = max|w| / 127}
     * and {@code q = round(w / scale)} with round-half-to-even (torch.round).
     */
    public static QuantizedMatrix quantize(FloatMatrix m, int groupSize) {
        float[] w = m.values();
        byte[] q = new byte[w.length];
        float[] s = new float[w.length / groupSize];
        for (int g = 0; g < s.length; g++) {
            int start = g * groupSize;
            float scale = maxAbs(w, start, groupSize) / 127f;
            s[g] = scale;
            for (int i = start; i < start + groupSize; i++) {
                q[i] = scale == 0f ? 0 : (byte) Math.rint(w[i] / scale);
            }
        }
        return new QuantizedMatrix(m.rows(), m.cols(), groupSize, q, s);
    }

    @Override
    public int rows() {
        return rows;
    }

    @Override
    public int cols() {
        return cols;
    }

    public int groupSize() {
        return groupSize;
    }

    /** The int8 values, row-major; shared, not copied. */
    public byte[] values() {
        return values;
    }

    /** One scale per group; shared, not copied. */
    public float[] scales() {
        return scales;
    }

    /**
     * Per row, per group: an exact int32 sum of int8 products, then one float step. Integer
     * sums do not depend on their order, so each group is summed four rows at a time, which
     * keeps the CPU busy; the float steps stay in runq.c's order.
     */
    @Override
    public void multiply(float[] x, float[] out) {
        quantizeInput(x);
        int gs = groupSize;
        int groups = cols / gs;
        byte[] xq = inputValues;
        byte[] w = values;
        int i = 0;
        for (; i + 4 <= rows; i += 4) {
            int r0 = i * cols, r1 = r0 + cols, r2 = r1 + cols, r3 = r2 + cols;
            int g0 = i * groups;
            float v0 = 0f, v1 = 0f, v2 = 0f, v3 = 0f;
            for (int g = 0; g < groups; g++) {
                int start = g * gs;
                int s0 = 0, s1 = 0, s2 = 0, s3 = 0;
                for (int k = start; k < start + gs; k++) {
                    int xk = xq[k];
                    s0 += xk * w[r0 + k];
                    s1 += xk * w[r1 + k];
                    s2 += xk * w[r2 + k];
                    s3 += xk * w[r3 + k];
                }
                float xs = inputScales[g];
                v0 += ((float) s0) * scales[g0 + g] * xs;
                v1 += ((float) s1) * scales[g0 + groups + g] * xs;
                v2 += ((float) s2) * scales[g0 + 2 * groups + g] * xs;
                v3 += ((float) s3) * scales[g0 + 3 * groups + g] * xs;
            }
            out[i] = v0;
            out[i + 1] = v1;
            out[i + 2] = v2;
            out[i + 3] = v3;
        }
        for (; i < rows; i++) {
            int row = i * cols;
            float val = 0f;
            for (int g = 0; g < groups; g++) {
                int start = g * gs;
                int isum = 0;
                for (int k = start; k < start + gs; k++) {
                    isum += xq[k] * w[row + k];
                }
                val += ((float) isum) * scales[i * groups + g] * inputScales[g];
            }
            out[i] = val;
        }
    }

    /** runq.c's {@code quantize}: C's round() rounds half away from zero, unlike the exporter. */
    private void quantizeInput(float[] x) {
        int gs = groupSize;
        for (int g = 0; g < inputScales.length; g++) {
            int start = g * gs;
            float scale = maxAbs(x, start, gs) / 127f;
            inputScales[g] = scale;
            for (int i = start; i < start + gs; i++) {
                inputValues[i] = (byte) (int) roundHalfAwayFromZero(x[i] / scale);
            }
        }
    }

    private static double roundHalfAwayFromZero(float v) {
        double magnitude = Math.floor(Math.abs((double) v) + 0.5);
        return v < 0 ? -magnitude : magnitude;
    }

    private static float maxAbs(float[] a, int start, int length) {
        float max = 0f;
        for (int i = start; i < start + length; i++) {
            float v = Math.abs(a[i]);
            if (v > max) {
                max = v;
            }
        }
        return max;
    }

    @Override
    public void copyRow(int row, float[] out) {
        int start = row * cols;
        for (int j = 0; j < cols; j++) {
            out[j] = values[start + j] * scales[(start + j) / groupSize];
        }
    }
}
