package llama2.engine;

/**
 * A {@link QuantizedMatrix} stored for 64-bit integer arithmetic, with the same bits from
 * {@link #multiply}: what WebAssembly runs. Each block of eight rows is kept column by column,
 * one {@code long} per column holding its eight int8 weights (row {@code k} of the block in byte
 * {@code k}, the lowest first); rows after the last whole block stay row-major bytes.
 *
 * <p>The kernel does two int8 products with one 64-bit multiply. A column's weights, made
 * unsigned ({@code w + 128}), are split into four longs that each hold two of them 32 bits apart
 * (rows k and k + 4); {@code x * that long} is both products at once, and a group's sum of them,
 * {@code A + B * 2^32}, gives back A and B exactly while |A| < 2^31. Then
 * {@code sum(w * x) = A - 128 * sum(x)}: runq.c's int32 sum, whatever the order. Without SIMD, a
 * multiply costs more than the shifts and masks this adds, and one array read (one bounds check
 * in WebAssembly) brings eight weights instead of one.
 *
 * <p>Not for TeaVM's JavaScript target, where {@code long} is a BigInt: there
 * {@link QuantizedMatrix} stays faster.
 */
public final class PackedQuantizedMatrix implements Matrix {
    private static final int BLOCK = QuantizedMatrix.BLOCK;
    /** Flips each byte's sign bit: a weight w in [-128, 127] becomes the unsigned w + 128. */
    private static final long UNSIGNED = 0x8080808080808080L;
    /** Bytes 0 and 4 of a long, each in its own 32-bit half. */
    private static final long TWO_LANES = 0x000000FF000000FFL;
    /** Groups up to this size keep |A| < 2^31: 65536 * 255 * 127 < 2^31. */
    static final int MAX_GROUP = 65536;

    private final int rows;
    private final int cols;
    private final int groupSize;
    private final int blockedRows;  // rows stored in blocks; the rest follow, row-major
    private final long[] blocked;   // per block, per column: the block's eight weights
    private final byte[] rest;      // the rows after the last whole block, row-major
    private final float[] scales;

    /**
     * An all-zero matrix for {@link #setRow} to fill (a reader, as the rows arrive, so the
     * unpacked values never exist), with {@code scales} (row-major, one per group), which the
     * caller fills.
     */
    PackedQuantizedMatrix(int rows, int cols, int groupSize, float[] scales) {
        QuantizedMatrix.checkGroups(rows, cols, groupSize, scales);
        if (!packs(groupSize)) {
            throw new IllegalArgumentException("groups of " + groupSize + " are too large to pack exactly (at most "
                    + MAX_GROUP + ")");
        }
        this.rows = rows;
        this.cols = cols;
        this.groupSize = groupSize;
        this.blockedRows = rows - rows % BLOCK;
        this.scales = scales;
        this.blocked = new long[blockedRows * cols / BLOCK];
        this.rest = new byte[(rows - blockedRows) * cols];
    }

    /** True if groups of {@code groupSize} keep this kernel's sums exact. */
    static boolean packs(int groupSize) {
        return groupSize > 0 && groupSize <= MAX_GROUP;
    }

    /** Row {@code row}'s int8 values, {@code cols} of them from {@code values[from]}, in their place. */
    void setRow(int row, byte[] values, int from) {
        if (row >= blockedRows) {
            System.arraycopy(values, from, rest, (row - blockedRows) * cols, cols);
            return;
        }
        int shift = 8 * (row % BLOCK);
        long others = ~(0xFFL << shift);
        int start = row / BLOCK * cols;
        for (int j = 0; j < cols; j++) {
            blocked[start + j] = blocked[start + j] & others | (values[from + j] & 0xFFL) << shift;
        }
    }

    /** {@code m} packed, if it is a quantized matrix with groups small enough; else {@code m}. */
    public static Matrix of(Matrix m) {
        if (!(m instanceof QuantizedMatrix q) || !packs(q.groupSize())) {
            return m;
        }
        PackedQuantizedMatrix packed = new PackedQuantizedMatrix(q.rows(), q.cols(), q.groupSize(), q.scales());
        byte[] values = q.values(); // row-major
        for (int row = 0; row < q.rows(); row++) {
            packed.setRow(row, values, row * q.cols());
        }
        return packed;
    }

    @Override
    public int rows() {
        return rows;
    }

    @Override
    public int cols() {
        return cols;
    }

    /** Whole blocks by {@link #multiplyBlocks}, the rows around them by the plain loop. */
    @Override
    public void multiply(Input input, float[] out, int from, int to) {
        byte[] xq = input.quantized(groupSize);
        float[] xs = input.scales();
        int firstBlock = Math.min((from + BLOCK - 1) / BLOCK * BLOCK, blockedRows);
        int endBlocks = Math.max(firstBlock, Math.min(to - to % BLOCK, blockedRows));
        multiplyPlain(xq, xs, out, from, Math.min(firstBlock, to));
        multiplyBlocks(xq, xs, out, firstBlock, endBlocks);
        multiplyPlain(xq, xs, out, Math.max(endBlocks, from), to);
    }

    /** Rows [from, to) of whole blocks. */
    private void multiplyBlocks(byte[] xq, float[] inputScales, float[] out, int from, int to) {
        if (from == to) {
            return;
        }
        int gs = groupSize;
        int groups = cols / gs;
        int[] offsets = new int[groups]; // per group, 128 * sum(x)
        for (int g = 0; g < groups; g++) {
            int sum = 0;
            for (int k = g * gs; k < (g + 1) * gs; k++) {
                sum += xq[k];
            }
            offsets[g] = 128 * sum;
        }
        long[] w = blocked;
        int p = from / BLOCK * cols;
        for (int i = from; i < to; i += BLOCK) {
            int g0 = i * groups;
            float v0 = 0f, v1 = 0f, v2 = 0f, v3 = 0f, v4 = 0f, v5 = 0f, v6 = 0f, v7 = 0f;
            for (int g = 0; g < groups; g++) {
                long s04 = 0, s15 = 0, s26 = 0, s37 = 0; // rows (0, 4), (1, 5), (2, 6), (3, 7)
                int end = (g + 1) * gs;
                for (int k = g * gs; k < end; k++, p++) {
                    long xk = xq[k];
                    long column = w[p] ^ UNSIGNED;
                    s04 += xk * (column & TWO_LANES);
                    s15 += xk * (column >>> 8 & TWO_LANES);
                    s26 += xk * (column >>> 16 & TWO_LANES);
                    s37 += xk * (column >>> 24 & TWO_LANES);
                }
                int offset = offsets[g];
                int a0 = (int) s04, a1 = (int) s15, a2 = (int) s26, a3 = (int) s37;
                float xs = inputScales[g];
                v0 += ((float) (a0 - offset)) * scales[g0 + g] * xs;
                v1 += ((float) (a1 - offset)) * scales[g0 + groups + g] * xs;
                v2 += ((float) (a2 - offset)) * scales[g0 + 2 * groups + g] * xs;
                v3 += ((float) (a3 - offset)) * scales[g0 + 3 * groups + g] * xs;
                v4 += ((float) (high(s04, a0) - offset)) * scales[g0 + 4 * groups + g] * xs;
                v5 += ((float) (high(s15, a1) - offset)) * scales[g0 + 5 * groups + g] * xs;
                v6 += ((float) (high(s26, a2) - offset)) * scales[g0 + 6 * groups + g] * xs;
                v7 += ((float) (high(s37, a3) - offset)) * scales[g0 + 7 * groups + g] * xs;
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

    /** B of {@code sum = A + B * 2^32}, given A. */
    private static int high(long sum, int low) {
        return (int) ((sum - low) >> 32);
    }

    /** runq.c's matmul for rows [from, to), one weight at a time. */
    private void multiplyPlain(byte[] xq, float[] inputScales, float[] out, int from, int to) {
        int groups = cols / groupSize;
        for (int i = from; i < to; i++) {
            float val = 0f;
            for (int g = 0; g < groups; g++) {
                int isum = 0;
                for (int k = g * groupSize; k < (g + 1) * groupSize; k++) {
                    isum += xq[k] * weight(i, k);
                }
                val += ((float) isum) * scales[i * groups + g] * inputScales[g];
            }
            out[i] = val;
        }
    }

    /** Weight (i, j). */
    private byte weight(int i, int j) {
        if (i >= blockedRows) {
            return rest[(i - blockedRows) * cols + j];
        }
        return (byte) (blocked[i / BLOCK * cols + j] >> 8 * (i % BLOCK));
    }

    @Override
    public void copyRow(int row, float[] out) {
        for (int j = 0; j < cols; j++) {
            out[j] = weight(row, j) * scales[(row * cols + j) / groupSize];
        }
    }
}
