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

    @Override
    public void multiply(float[] x, float[] out) {
        quantizeInput(x);
        int gs = groupSize;
        for (int i = 0; i < rows; i++) {
            int row = i * cols;
            float val = 0f;
            for (int j = 0; j < cols; j += gs) {
                int isum = 0;
                for (int k = 0; k < gs; k++) {
                    isum += inputValues[j + k] * values[row + j + k];
                }
                val += ((float) isum) * scales[(row + j) / gs] * inputScales[j / gs];
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
