package llama2.engine;

/**
 * A Q8_0 weight matrix (runq.c): int8 values, and one float scale for each group of
 * {@code groupSize} consecutive values; a weight is {@code q[i] * scale[i / groupSize]}.
 *
 * <p>{@link #multiply} reads its input quantized the same way ({@link Input#quantized}) and sums
 * int8 products in int32 within each group, which is what makes runq.c fast and what parity
 * requires.
 *
 * <p>Like {@link FloatMatrix}, the int8 values are kept in blocks of {@link #BLOCK} rows stored
 * column by column, rows left after the last full block row-major at the end; {@link #values()}
 * and {@link #copyRow} give the row-major view. The scales stay row-major.
 */
public final class QuantizedMatrix implements Matrix {
    /** Rows per block: eight int and eight float sums fit the registers of a 64-bit CPU. */
    public static final int BLOCK = 8;

    private final int rows;
    private final int cols;
    private final int groupSize;
    private final int blockedRows;  // rows stored in blocks; the rest follow, row-major
    private final byte[] blocked;
    private final float[] scales;

    /** Takes over {@code values} (row-major) and rearranges it in place; keeps {@code scales}. */
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
        this.blockedRows = rows - rows % BLOCK;
        this.blocked = values;
        this.scales = scales;
        byte[] block = new byte[BLOCK * cols];
        for (int start = 0; start < blockedRows * cols; start += block.length) {
            System.arraycopy(values, start, block, 0, block.length);
            for (int k = 0; k < BLOCK; k++) {
                for (int j = 0; j < cols; j++) {
                    values[start + j * BLOCK + k] = block[k * cols + j];
                }
            }
        }
    }

    /**
     * An all-zero matrix for {@link #setRow} to fill (a reader, as the rows arrive), with
     * {@code scales} (row-major, one per group), which the caller fills.
     */
    QuantizedMatrix(int rows, int cols, int groupSize, float[] scales) {
        checkGroups(rows, cols, groupSize, scales);
        this.rows = rows;
        this.cols = cols;
        this.groupSize = groupSize;
        this.blockedRows = rows - rows % BLOCK;
        this.blocked = new byte[rows * cols];
        this.scales = scales;
    }

    /** Refuses a shape whose groups do not tile its rows, or whose scales are not one per group. */
    static void checkGroups(int rows, int cols, int groupSize, float[] scales) {
        if (groupSize <= 0 || cols % groupSize != 0 || (long) rows * cols / groupSize != scales.length) {
            throw new IllegalArgumentException(rows + "x" + cols + " matrix in groups of " + groupSize
                    + " given " + scales.length + " scales");
        }
    }

    /** Row {@code row}'s int8 values, {@code cols} of them from {@code values[from]}, in their place. */
    void setRow(int row, byte[] values, int from) {
        if (row >= blockedRows) {
            System.arraycopy(values, from, blocked, row * cols, cols);
            return;
        }
        int k = row % BLOCK;
        int start = (row - k) * cols;
        for (int j = 0; j < cols; j++) {
            blocked[start + j * BLOCK + k] = values[from + j];
        }
    }

    /**
     * Quantizes float weights as llama2.c's export.py does: per group, {@code scale = max|w| / 127}
     * and {@code q = round(w / scale)} with round-half-to-even (torch.round).
     */
    public static QuantizedMatrix quantize(FloatMatrix m, int groupSize) {
        float[] w = m.values();
        byte[] q = new byte[w.length];
        float[] s = new float[w.length / groupSize];
        quantizeGroups(w, 0, w.length, groupSize, q, 0, s, 0);
        return new QuantizedMatrix(m.rows(), m.cols(), groupSize, q, s);
    }

    /** The exporter's rule for {@code count} weights from {@code w[from]}, group after group, into q and s. */
    static void quantizeGroups(float[] w, int from, int count, int groupSize, byte[] q, int qFrom, float[] s, int sFrom) {
        for (int g = 0; g < count / groupSize; g++) {
            int start = from + g * groupSize;
            float scale = maxAbs(w, start, groupSize) / 127f;
            s[sFrom + g] = scale;
            for (int i = 0; i < groupSize; i++) {
                q[qFrom + g * groupSize + i] = scale == 0f ? 0 : (byte) roundHalfEven(w[start + i] / scale);
            }
        }
    }

    /**
     * {@code x} rounded to the nearest integer, ties to the even one (torch.round, the exporter's
     * rule), for |x| < 2^24; in int arithmetic, because {@code Math.rint} is not that everywhere:
     * TeaVM's class library computes it as {@code Math.round}, ties away from zero, which gave one
     * weight of the default model (a -36.5) another value in the browser than in the quantized file.
     */
    static int roundHalfEven(float x) {
        int whole = (int) x;            // toward zero
        float fraction = x - whole;     // exact: |fraction| < 1 and x, whole are close
        if (fraction > 0.5f || fraction == 0.5f && (whole & 1) != 0) {
            return whole + 1;
        }
        if (fraction < -0.5f || fraction == -0.5f && (whole & 1) != 0) {
            return whole - 1;
        }
        return whole;
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

    /**
     * The stored int8 array itself, for kernels outside the core: rows {@code [0, blockedRows())}
     * in blocks of {@link #BLOCK} rows stored column by column, then the other rows row-major.
     */
    public byte[] blockedValues() {
        return blocked;
    }

    public int blockedRows() {
        return blockedRows;
    }

    /** The int8 values, row-major: a new array. */
    public byte[] values() {
        byte[] values = new byte[rows * cols];
        System.arraycopy(blocked, blockedRows * cols, values, blockedRows * cols, (rows - blockedRows) * cols);
        for (int start = 0; start < blockedRows * cols; start += BLOCK * cols) {
            for (int k = 0; k < BLOCK; k++) {
                for (int j = 0; j < cols; j++) {
                    values[start + k * cols + j] = blocked[start + j * BLOCK + k];
                }
            }
        }
        return values;
    }

    /** One scale per group; shared, not copied. */
    public float[] scales() {
        return scales;
    }

    /**
     * {@link #multiplyPlain}, bit for bit: per row, per group, an exact int32 sum of int8 products,
     * then one float step in runq.c's order. The eight rows of a block are summed side by side,
     * their eight weights for one input value read as one contiguous run.
     */
    @Override
    public void multiply(Input input, float[] out, int from, int to) {
        byte[] xq = input.quantized(groupSize);
        float[] xs = input.scales();
        int firstBlock = Math.min(ceilToBlock(from), blockedRows);
        int endBlocks = Math.max(firstBlock, Math.min(to - to % BLOCK, blockedRows));
        multiplyPlain(xq, xs, out, from, Math.min(firstBlock, to));
        multiplyBlocks(xq, xs, out, firstBlock, endBlocks);
        multiplyPlain(xq, xs, out, Math.max(endBlocks, from), to);
    }

    private static int ceilToBlock(int row) {
        return (row + BLOCK - 1) / BLOCK * BLOCK;
    }

    /** Rows [from, to) of whole blocks. */
    private void multiplyBlocks(byte[] xq, float[] inputScales, float[] out, int from, int to) {
        int gs = groupSize;
        int groups = cols / gs;
        byte[] w = blocked;
        int p = from * cols;
        for (int i = from; i < to; i += BLOCK) {
            int g0 = i * groups;
            float v0 = 0f, v1 = 0f, v2 = 0f, v3 = 0f, v4 = 0f, v5 = 0f, v6 = 0f, v7 = 0f;
            for (int g = 0; g < groups; g++) {
                int s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
                int end = (g + 1) * gs;
                for (int k = g * gs; k < end; k++, p += BLOCK) {
                    int xk = xq[k];
                    s0 += xk * w[p];
                    s1 += xk * w[p + 1];
                    s2 += xk * w[p + 2];
                    s3 += xk * w[p + 3];
                    s4 += xk * w[p + 4];
                    s5 += xk * w[p + 5];
                    s6 += xk * w[p + 6];
                    s7 += xk * w[p + 7];
                }
                float xs = inputScales[g];
                v0 += ((float) s0) * scales[g0 + g] * xs;
                v1 += ((float) s1) * scales[g0 + groups + g] * xs;
                v2 += ((float) s2) * scales[g0 + 2 * groups + g] * xs;
                v3 += ((float) s3) * scales[g0 + 3 * groups + g] * xs;
                v4 += ((float) s4) * scales[g0 + 4 * groups + g] * xs;
                v5 += ((float) s5) * scales[g0 + 5 * groups + g] * xs;
                v6 += ((float) s6) * scales[g0 + 6 * groups + g] * xs;
                v7 += ((float) s7) * scales[g0 + 7 * groups + g] * xs;
            }
            out[i] = v0;
            out[i + 1] = v1;
            out[i + 2] = v2;
            out[i + 3] = v3;
            out[i + 4] = v4;
            out[i + 5] = v5;
            out[i + 6] = v6;
            out[i + 7] = v7;
        }
    }

    /** The meaning of {@link #multiply} for rows [from, to), on the quantized input: runq.c's matmul. */
    private void multiplyPlain(byte[] inputValues, float[] inputScales, float[] out, int from, int to) {
        int groups = cols / groupSize;
        for (int i = from; i < to; i++) {
            float val = 0f;
            for (int g = 0; g < groups; g++) {
                int isum = 0;
                for (int k = g * groupSize; k < (g + 1) * groupSize; k++) {
                    isum += inputValues[k] * blocked[index(i, k)];
                }
                val += ((float) isum) * scales[i * groups + g] * inputScales[g];
            }
            out[i] = val;
        }
    }

    /** {@link #multiply} by the plain loop only, for tests. */
    void multiplyPlain(Input input, float[] out) {
        multiplyPlain(input.quantized(groupSize), input.scales(), out, 0, rows);
    }

    /** Where weight (i, j) is stored. */
    private int index(int i, int j) {
        if (i >= blockedRows) {
            return i * cols + j;
        }
        int k = i % BLOCK;
        return (i - k) * cols + j * BLOCK + k;
    }

    static float maxAbs(float[] a, int start, int length) {
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
        for (int j = 0; j < cols; j++) {
            out[j] = blocked[index(row, j)] * scales[(row * cols + j) / groupSize];
        }
    }
}
