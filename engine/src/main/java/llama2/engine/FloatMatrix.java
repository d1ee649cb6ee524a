package llama2.engine;

/**
 * A float32 weight matrix: run.c's arithmetic.
 *
 * <p>Kept in row blocks for {@link #multiply}: each run of sixteen rows is stored column by column,
 * so the sixteen weights that meet {@code x[j]} lie side by side. Rows left over after the last full
 * block stay row-major at the end. {@link #values()} and {@link #copyRow} give the row-major view.
 */
public final class FloatMatrix implements Matrix {
    /** Rows per block: sixteen sums fill the registers of a 64-bit CPU. */
    public static final int BLOCK = 16;

    private final int rows;
    private final int cols;
    private final int blockedRows;  // rows stored in blocks; the rest follow, row-major
    private final float[] blocked;

    /** Takes over {@code values} (row-major) and rearranges it in place. */
    public FloatMatrix(int rows, int cols, float[] values) {
        if ((long) rows * cols != values.length) {
            throw new IllegalArgumentException(rows + "x" + cols + " matrix given " + values.length + " values");
        }
        this.rows = rows;
        this.cols = cols;
        this.blockedRows = rows - rows % BLOCK;
        this.blocked = values;
        float[] block = new float[BLOCK * cols];
        for (int start = 0; start < blockedRows * cols; start += block.length) {
            System.arraycopy(values, start, block, 0, block.length);
            for (int k = 0; k < BLOCK; k++) {
                for (int j = 0; j < cols; j++) {
                    values[start + j * BLOCK + k] = block[k * cols + j];
                }
            }
        }
    }

    @Override
    public int rows() {
        return rows;
    }

    @Override
    public int cols() {
        return cols;
    }

    /**
     * The stored array itself, for kernels outside the core: rows {@code [0, blockedRows())} in
     * blocks of {@link #BLOCK} rows stored column by column, then the other rows row-major.
     */
    public float[] blockedValues() {
        return blocked;
    }

    public int blockedRows() {
        return blockedRows;
    }

    /** The weights, row-major: a new array. */
    public float[] values() {
        float[] values = new float[rows * cols];
        float[] row = new float[cols];
        for (int r = 0; r < rows; r++) {
            copyRow(r, row);
            System.arraycopy(row, 0, values, r * cols, cols);
        }
        return values;
    }

    /**
     * {@link #multiplyPlain}, bit for bit: each row one float sum with j ascending, as run.c. The
     * sixteen rows of a block are summed side by side, so sixteen independent additions are in
     * flight and their sixteen weights for {@code x[j]} are one contiguous run.
     */
    @Override
    public void multiply(Input input, float[] out, int from, int to) {
        float[] x = input.values();
        int firstBlock = Math.min(ceilToBlock(from), blockedRows);
        int endBlocks = Math.max(firstBlock, Math.min(to - to % BLOCK, blockedRows));
        multiplyPlain(x, out, from, Math.min(firstBlock, to));
        multiplyBlocks(x, out, firstBlock, endBlocks);
        multiplyPlain(x, out, Math.max(endBlocks, from), to);
    }

    private static int ceilToBlock(int row) {
        return (row + BLOCK - 1) / BLOCK * BLOCK;
    }

    /** Rows [from, to) of whole blocks. */
    private void multiplyBlocks(float[] x, float[] out, int from, int to) {
        int n = cols;
        float[] w = blocked;
        int p = from * n;
        for (int i = from; i < to; i += BLOCK) {
            float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f, s4 = 0f, s5 = 0f, s6 = 0f, s7 = 0f;
            float s8 = 0f, s9 = 0f, s10 = 0f, s11 = 0f, s12 = 0f, s13 = 0f, s14 = 0f, s15 = 0f;
            for (int j = 0; j < n; j++, p += BLOCK) {
                float xj = x[j];
                s0 += w[p] * xj;
                s1 += w[p + 1] * xj;
                s2 += w[p + 2] * xj;
                s3 += w[p + 3] * xj;
                s4 += w[p + 4] * xj;
                s5 += w[p + 5] * xj;
                s6 += w[p + 6] * xj;
                s7 += w[p + 7] * xj;
                s8 += w[p + 8] * xj;
                s9 += w[p + 9] * xj;
                s10 += w[p + 10] * xj;
                s11 += w[p + 11] * xj;
                s12 += w[p + 12] * xj;
                s13 += w[p + 13] * xj;
                s14 += w[p + 14] * xj;
                s15 += w[p + 15] * xj;
            }
            out[i] = s0;
            out[i + 1] = s1;
            out[i + 2] = s2;
            out[i + 3] = s3;
            out[i + 4] = s4;
            out[i + 5] = s5;
            out[i + 6] = s6;
            out[i + 7] = s7;
            out[i + 8] = s8;
            out[i + 9] = s9;
            out[i + 10] = s10;
            out[i + 11] = s11;
            out[i + 12] = s12;
            out[i + 13] = s13;
            out[i + 14] = s14;
            out[i + 15] = s15;
        }
    }

    /** The meaning of {@link #multiply}, for rows [from, to): run.c's matmul. */
    void multiplyPlain(float[] x, float[] out, int from, int to) {
        for (int i = from; i < to; i++) {
            float s = 0f;
            for (int j = 0; j < cols; j++) {
                s += blocked[index(i, j)] * x[j];
            }
            out[i] = s;
        }
    }

    /** Where weight (i, j) is stored. */
    private int index(int i, int j) {
        if (i >= blockedRows) {
            return i * cols + j;
        }
        int k = i % BLOCK;
        return (i - k) * cols + j * BLOCK + k;
    }

    @Override
    public void copyRow(int row, float[] out) {
        for (int j = 0; j < cols; j++) {
            out[j] = blocked[index(row, j)];
        }
    }
}
