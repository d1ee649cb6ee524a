package llama2.engine;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads the tensors of a checkpoint whose header and size have been checked, from bytes that
 * arrive in chunks of any size: each tensor goes straight into its own array, so a caller can
 * drop every chunk once {@link #accept} returns. With {@code quantizeGroupSize > 0}, float
 * matrices become Q8_0 row by row as they arrive ({@link QuantizedMatrix#quantizeGroups}, what
 * {@code quantize} writes), so a whole fp32 matrix never exists. Q8_0 values go row by row
 * into the layout their matrix multiplies in, so no row-major copy of them exists either. Given a shard's
 * {@link ShardRows}, it keeps only those rows of each matrix (a {@link RowSlice}) and skips the
 * others' bytes, so a shard never holds more than its slice.
 */
final class TensorReader {
    private final Config c;
    private final int groupSize;          // of the file's Q8_0 matrices, 0 for fp32
    private final int quantizeGroupSize;  // quantize float matrices on load, 0 to keep them
    private final ShardRows keep;          // the rows of each matrix to keep
    private final boolean packed;         // Q8_0 matrices as PackedQuantizedMatrix
    private final List<Part> parts = new ArrayList<>();
    private int next;                     // the part being filled
    private final byte[] carry = new byte[4];  // a float split between two chunks
    private int carried;
    private static final ByteBuffer NO_BYTES = ByteBuffer.allocate(0);

    // The tensors, as they complete.
    private Matrix embedding;
    private Matrix classifier;
    private final float[][] rmsAtt;
    private final float[][] rmsFfn;
    private float[] rmsFinal;
    private final Matrix[] wq, wk, wv, wo, w1, w2, w3;

    /**
     * {@code packed}: Q8_0 matrices (read or quantized on load) are filled straight into
     * {@link PackedQuantizedMatrix}'s layout where their group size allows, else into
     * {@link QuantizedMatrix}'s.
     */
    TensorReader(Config config, int version, int groupSize, int quantizeGroupSize, ShardRows keep, boolean packed) {
        this.c = config;
        this.keep = keep;
        this.packed = packed;
        this.groupSize = groupSize;
        this.quantizeGroupSize = groupSize == 0 ? quantizeGroupSize : 0;
        int n = c.nLayers();
        rmsAtt = new float[n][];
        rmsFfn = new float[n][];
        wq = new Matrix[n];
        wk = new Matrix[n];
        wv = new Matrix[n];
        wo = new Matrix[n];
        w1 = new Matrix[n];
        w2 = new Matrix[n];
        w3 = new Matrix[n];
        if (version == 0) {
            planLegacy();
        } else {
            planVersioned();
        }
    }

    /** Version 0: embedding, then per kind all layers, then two unused RoPE tables, then wcls. */
    private void planLegacy() {
        int d = c.dim(), h = c.hiddenDim(), kv = c.kvDim();
        ShardRows k = keep;
        matrix(c.vocabSize(), d, k.vocabFrom(), k.vocabTo(), "token_embedding", m -> embedding = m);
        norms(rmsAtt, "rms_att");
        matrices(wq, d, d, k.qFrom(), k.qTo(), "wq");
        matrices(wk, kv, d, k.kvFrom(), k.kvTo(), "wk");
        matrices(wv, kv, d, k.kvFrom(), k.kvTo(), "wv");
        matrices(wo, d, d, k.dimFrom(), k.dimTo(), "wo");
        norms(rmsFfn, "rms_ffn");
        matrices(w1, h, d, k.hiddenFrom(), k.hiddenTo(), "w1");
        matrices(w2, d, h, k.dimFrom(), k.dimTo(), "w2");
        matrices(w3, h, d, k.hiddenFrom(), k.hiddenTo(), "w3");
        floats(d, "rms_final", v -> rmsFinal = v);
        add(new Skip(2L * 4 * c.seqLen() * (c.headSize() / 2)), "the RoPE tables");
        if (!c.sharedClassifier()) {
            matrix(c.vocabSize(), d, k.vocabFrom(), k.vocabTo(), "wcls", m -> classifier = m);
        }
    }

    /** Versions 1 and 2: the norms first, then the matrices (Q8_0 in version 2). */
    private void planVersioned() {
        int d = c.dim(), h = c.hiddenDim(), kv = c.kvDim();
        ShardRows k = keep;
        norms(rmsAtt, "rms_att");
        norms(rmsFfn, "rms_ffn");
        floats(d, "rms_final", v -> rmsFinal = v);
        matrix(c.vocabSize(), d, k.vocabFrom(), k.vocabTo(), "token_embedding", m -> embedding = m);
        matrices(wq, d, d, k.qFrom(), k.qTo(), "wq");
        matrices(wk, kv, d, k.kvFrom(), k.kvTo(), "wk");
        matrices(wv, kv, d, k.kvFrom(), k.kvTo(), "wv");
        matrices(wo, d, d, k.dimFrom(), k.dimTo(), "wo");
        matrices(w1, h, d, k.hiddenFrom(), k.hiddenTo(), "w1");
        matrices(w2, d, h, k.dimFrom(), k.dimTo(), "w2");
        matrices(w3, h, d, k.hiddenFrom(), k.hiddenTo(), "w3");
        if (!c.sharedClassifier()) {
            matrix(c.vocabSize(), d, k.vocabFrom(), k.vocabTo(), "wcls", m -> classifier = m);
        }
    }

    /** The tensor that the next byte belongs to. */
    String current() {
        return done() ? "nothing" : parts.get(next).name;
    }

    private void add(Part part, String name) {
        part.name = name;
        parts.add(part);
    }

    /** True once every tensor is complete. */
    boolean done() {
        return next == parts.size();
    }

    Weights weights() {
        return new Weights(c, embedding, rmsAtt, wq, wk, wv, wo, rmsFfn, w1, w2, w3, rmsFinal,
                c.sharedClassifier() ? embedding : classifier);
    }

    /**
     * How many of the next bytes this reader skips without looking at them (other shards' rows,
     * the legacy RoPE tables): a caller reading a file may jump over them with {@link #skip}.
     */
    long skippable() {
        long bytes = 0;
        for (int i = next; i < parts.size(); i++) {
            Part part = parts.get(i);
            if (part instanceof Skip skip) {
                bytes += skip.left;
            } else if (!part.complete()) { // an empty part (a shard without rows of a matrix) needs no byte
                break;
            }
        }
        return bytes;
    }

    /** Passes over {@code bytes} of the bytes it could skip ({@link #skippable}), which then need not arrive. */
    void skip(long bytes) {
        if (bytes < 0 || bytes > skippable()) {
            throw new IllegalArgumentException("skipping " + bytes + " bytes of " + skippable() + " skippable");
        }
        for (long left = bytes; left > 0; ) {
            Part part = parts.get(next);
            if (part instanceof Skip skip) {
                long n = Math.min(left, skip.left);
                skip.left -= n;
                left -= n;
            }
            if (part.complete()) {
                part.finish();
                next++;
            }
        }
        accept(NO_BYTES); // completes the empty parts that follow, as bytes arriving would
    }

    /**
     * How many bytes it keeps after those it could skip ({@link #skippable}), up to the next it
     * could skip or the end: the run of the file worth reading next.
     */
    long wanted() {
        int i = next;
        while (i < parts.size() && (parts.get(i) instanceof Skip || parts.get(i).complete())) {
            i++;
        }
        long bytes = i == next ? -carried : 0; // the start of a float split between chunks arrived already
        for (; i < parts.size() && !(parts.get(i) instanceof Skip); i++) {
            bytes += parts.get(i).bytesLeft();
        }
        return Math.max(0, bytes);
    }

    /** Consumes all of {@code bytes}; more than the tensors need is the caller's to refuse. */
    void accept(ByteBuffer bytes) {
        bytes.order(ByteOrder.LITTLE_ENDIAN);
        while (!done() && (bytes.hasRemaining() || parts.get(next).complete())) { // empty parts need no byte
            Part part = parts.get(next);
            part.fill(bytes);
            if (part.complete()) {
                part.finish();
                next++;
            }
        }
    }

    // ---------------------------------------------------------------- the plan

    private void norms(float[][] layers, String name) {
        for (int l = 0; l < layers.length; l++) {
            int layer = l;
            floats(c.dim(), name + "[" + l + "]", v -> layers[layer] = v);
        }
    }

    private void matrices(Matrix[] layers, int rows, int cols, int from, int to, String name) {
        for (int l = 0; l < layers.length; l++) {
            int layer = l;
            matrix(rows, cols, from, to, name + "[" + l + "]", m -> layers[layer] = m);
        }
    }

    private interface Sink<T> {
        void take(T value);
    }

    private void floats(int count, String name, Sink<float[]> sink) {
        add(new Floats(count, sink), name);
    }

    /**
     * One matrix: float32 values, or (Q8_0) all int8 values followed by all scales; of its
     * {@code rows} rows, those in [from, to) are kept (all of them: the matrix itself; else a
     * {@link RowSlice}) and the others' bytes skipped.
     */
    private void matrix(int rows, int cols, int from, int to, String name, Sink<Matrix> sink) {
        Sink<Matrix> kept = from == 0 && to == rows ? sink : m -> sink.take(new RowSlice(m, from, rows));
        int n = to - from;
        long before = (long) from * cols;  // values in the rows skipped before and after
        long after = (long) (rows - to) * cols;
        if (groupSize > 0) {
            QuantizedTarget q = new QuantizedTarget(n, cols, groupSize);
            skip(before, name);
            add(new Int8Rows(q), name);
            skip(after, name);
            skip(4 * (before / groupSize), name + " scales");
            add(new Floats(q.scales, scales -> kept.take(q.matrix)), name + " scales");
            skip(4 * (after / groupSize), name + " scales");
        } else {
            skip(4 * before, name);
            if (quantizeGroupSize > 0) {
                add(new QuantizedRows(new QuantizedTarget(n, cols, quantizeGroupSize), kept), name);
            } else {
                add(new Floats(n * cols, values -> kept.take(new FloatMatrix(n, cols, values))), name);
            }
            skip(4 * after, name);
        }
    }

    private void skip(long bytes, String name) {
        if (bytes > 0) {
            add(new Skip(bytes), name);
        }
    }

    // ---------------------------------------------------------------- the parts

    private abstract static class Part {
        String name = "";

        abstract void fill(ByteBuffer bytes);

        abstract boolean complete();

        /** The bytes it still needs. */
        abstract long bytesLeft();

        void finish() {
        }
    }

    /** Bytes that nobody reads (the legacy RoPE tables). */
    private static final class Skip extends Part {
        private long left;

        Skip(long bytes) {
            left = bytes;
        }

        @Override
        void fill(ByteBuffer bytes) {
            int n = (int) Math.min(left, bytes.remaining());
            bytes.position(bytes.position() + n);
            left -= n;
        }

        @Override
        boolean complete() {
            return left == 0;
        }

        @Override
        long bytesLeft() {
            return left;
        }
    }

    /**
     * An empty Q8_0 matrix of {@code rows} x {@code cols} in the layout asked for
     * ({@link #packed}), and its scales, for the parts below to fill a row at a time.
     */
    private final class QuantizedTarget {
        final int rows;
        final int cols;
        final int groupSize;
        final float[] scales;
        final Matrix matrix;
        private final PackedQuantizedMatrix packedMatrix;    // one of these two is the matrix
        private final QuantizedMatrix blockedMatrix;

        QuantizedTarget(int rows, int cols, int groupSize) {
            this.rows = rows;
            this.cols = cols;
            this.groupSize = groupSize;
            this.scales = new float[rows * cols / groupSize];
            boolean pack = packed && PackedQuantizedMatrix.packs(groupSize);
            packedMatrix = pack ? new PackedQuantizedMatrix(rows, cols, groupSize, scales) : null;
            blockedMatrix = pack ? null : new QuantizedMatrix(rows, cols, groupSize, scales);
            matrix = pack ? packedMatrix : blockedMatrix;
        }

        void setRow(int row, byte[] values) {
            if (packedMatrix != null) {
                packedMatrix.setRow(row, values, 0);
            } else {
                blockedMatrix.setRow(row, values, 0);
            }
        }
    }

    /** A Q8_0 matrix's int8 values (its scales follow in their own part), a row at a time. */
    private static final class Int8Rows extends Part {
        private final QuantizedTarget target;
        private final byte[] rowValues;
        private int row;
        private int filled;

        Int8Rows(QuantizedTarget target) {
            this.target = target;
            this.rowValues = new byte[target.cols];
        }

        @Override
        void fill(ByteBuffer bytes) {
            while (row < target.rows && bytes.hasRemaining()) {
                int n = Math.min(rowValues.length - filled, bytes.remaining());
                bytes.get(rowValues, filled, n);
                filled += n;
                if (filled == rowValues.length) {
                    target.setRow(row++, rowValues);
                    filled = 0;
                }
            }
        }

        @Override
        boolean complete() {
            return row == target.rows;
        }

        @Override
        long bytesLeft() {
            return (long) (target.rows - row) * target.cols - filled;
        }
    }

    /** Little-endian floats into {@code dest[filled..]}, one split between chunks included; the new count. */
    private int readFloats(ByteBuffer bytes, float[] dest, int filled) {
        while (filled < dest.length && bytes.hasRemaining()) {
            if (carried > 0 || bytes.remaining() < 4) {
                while (carried < 4 && bytes.hasRemaining()) {
                    carry[carried++] = bytes.get();
                }
                if (carried == 4) {
                    dest[filled++] = ByteBuffer.wrap(carry).order(ByteOrder.LITTLE_ENDIAN).getFloat();
                    carried = 0;
                }
            } else {
                // One float at a time, not through asFloatBuffer(): that makes an object per call,
                // one per row of a matrix quantized on load, garbage the browser's young generation grows for.
                int n = Math.min(dest.length - filled, bytes.remaining() / 4);
                for (int end = filled + n; filled < end; filled++) {
                    dest[filled] = bytes.getFloat();
                }
            }
        }
        return filled;
    }

    private final class Floats extends Part {
        private final float[] values;
        private int filled;
        private final Sink<float[]> sink;

        Floats(int count, Sink<float[]> sink) {
            this(new float[count], sink);
        }

        /** Fills {@code values}, then gives it to {@code sink}. */
        Floats(float[] values, Sink<float[]> sink) {
            this.values = values;
            this.sink = sink;
        }

        @Override
        void fill(ByteBuffer bytes) {
            filled = readFloats(bytes, values, filled);
        }

        @Override
        boolean complete() {
            return filled == values.length;
        }

        @Override
        long bytesLeft() {
            return 4L * (values.length - filled);
        }

        @Override
        void finish() {
            sink.take(values);
        }
    }

    /** A float matrix quantized to Q8_0 a row at a time as its floats arrive. */
    private final class QuantizedRows extends Part {
        private final QuantizedTarget target;
        private final float[] rowValues;
        private final byte[] rowQuantized;
        private int row;
        private int filled;
        private final Sink<Matrix> sink;

        QuantizedRows(QuantizedTarget target, Sink<Matrix> sink) {
            this.target = target;
            this.rowValues = new float[target.cols];
            this.rowQuantized = new byte[target.cols];
            this.sink = sink;
        }

        @Override
        void fill(ByteBuffer bytes) {
            int cols = target.cols;
            int gs = target.groupSize;
            while (row < target.rows && bytes.hasRemaining()) {
                filled = readFloats(bytes, rowValues, filled);
                if (filled == cols) {
                    QuantizedMatrix.quantizeGroups(rowValues, 0, cols, gs, rowQuantized, 0, target.scales, row * (cols / gs));
                    target.setRow(row++, rowQuantized);
                    filled = 0;
                }
            }
        }

        @Override
        boolean complete() {
            return row == target.rows;
        }

        @Override
        long bytesLeft() {
            return 4L * ((long) (target.rows - row) * target.cols - filled);
        }

        @Override
        void finish() {
            sink.take(target.matrix);
        }
    }
}
