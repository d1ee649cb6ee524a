package llama2.jvm;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import llama2.engine.FloatMatrix;
import llama2.engine.Input;
import llama2.engine.Matrix;
import llama2.engine.QuantizedMatrix;

/**
 * SIMD versions of the core's two matrices (jdk.incubator.vector, JVM only), the same bits as
 * the portable kernels, which stay the reference and handle the rows outside whole blocks.
 * fp32: lanes run across the rows of a block, so each row is still one sum with j ascending
 * (a multiply, then an add: no fused multiply-add). Q8_0: lanes across rows too; the int sums of a
 * group are exact (in float lanes, see {@link Q8}), and the float step per group is the portable
 * one, lane by lane. Written for eight-lane vectors (256 bits), what the JVM prefers on x86-64
 * with AVX2 or AVX-512.
 */
final class VectorMatrices {
    static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_256;
    static final VectorSpecies<Byte> BYTES = ByteVector.SPECIES_64;

    private VectorMatrices() {
    }

    /** True when this JVM runs eight-lane vectors natively. */
    static boolean supported() {
        return FloatVector.SPECIES_PREFERRED.length() >= 8;
    }

    static Matrix of(Matrix m) {
        if (m instanceof FloatMatrix f) {
            return new Float32(f);
        }
        if (m instanceof QuantizedMatrix q && q.groupSize() <= Q8.MAX_GROUP) {
            return new Q8(q);
        }
        return m;
    }

    /**
     * What both SIMD matrices share: the portable matrix they stand for, which keeps the shape,
     * serves row lookups and multiplies the rows outside whole blocks of {@code block} rows.
     */
    private abstract static class Blocked implements Matrix {
        final Matrix portable;
        final int cols;
        private final int block;
        private final int blockedRows;

        Blocked(Matrix portable, int block, int blockedRows) {
            this.portable = portable;
            this.cols = portable.cols();
            this.block = block;
            this.blockedRows = blockedRows;
        }

        @Override
        public int rows() {
            return portable.rows();
        }

        @Override
        public int cols() {
            return cols;
        }

        @Override
        public void copyRow(int row, float[] out) {
            portable.copyRow(row, out);
        }

        /** Whole blocks among [from, to) here, [first, end); the edges by the portable kernel. */
        @Override
        public void multiply(Input input, float[] out, int from, int to) {
            int first = Math.min((from + block - 1) / block * block, blockedRows);
            int end = Math.max(first, Math.min(to - to % block, blockedRows));
            portable.multiply(input, out, from, Math.min(first, to));
            blocks(input, out, first, end);
            portable.multiply(input, out, Math.max(end, from), to);
        }

        /** Rows [first, end), a whole number of blocks. */
        abstract void blocks(Input input, float[] out, int first, int end);
    }

    static final class Float32 extends Blocked {
        private static final int BLOCK = FloatMatrix.BLOCK; // two vectors of eight lanes
        private final float[] w;

        Float32(FloatMatrix portable) {
            super(portable, BLOCK, portable.blockedRows());
            this.w = portable.blockedValues();
        }

        @Override
        void blocks(Input input, float[] out, int first, int end) {
            float[] x = input.values();
            int i = first;
            for (; i + 2 * BLOCK <= end; i += 2 * BLOCK) {
                twoBlocks(x, out, i);
            }
            if (i < end) {
                oneBlock(x, out, i);
            }
        }

        /** Rows [i, i + 32): four sums of eight rows in flight. */
        private void twoBlocks(float[] x, float[] out, int i) {
            int n = cols;
            int p = i * n;
            int q = p + BLOCK * n;
            FloatVector a0 = FloatVector.zero(FLOATS), a1 = a0, b0 = a0, b1 = a0;
            for (int j = 0; j < n; j++, p += BLOCK, q += BLOCK) {
                FloatVector xj = FloatVector.broadcast(FLOATS, x[j]);
                a0 = a0.add(FloatVector.fromArray(FLOATS, w, p).mul(xj));
                a1 = a1.add(FloatVector.fromArray(FLOATS, w, p + 8).mul(xj));
                b0 = b0.add(FloatVector.fromArray(FLOATS, w, q).mul(xj));
                b1 = b1.add(FloatVector.fromArray(FLOATS, w, q + 8).mul(xj));
            }
            a0.intoArray(out, i);
            a1.intoArray(out, i + 8);
            b0.intoArray(out, i + 16);
            b1.intoArray(out, i + 24);
        }

        private void oneBlock(float[] x, float[] out, int i) {
            int n = cols;
            int p = i * n;
            FloatVector a0 = FloatVector.zero(FLOATS), a1 = a0;
            for (int j = 0; j < n; j++, p += BLOCK) {
                FloatVector xj = FloatVector.broadcast(FLOATS, x[j]);
                a0 = a0.add(FloatVector.fromArray(FLOATS, w, p).mul(xj));
                a1 = a1.add(FloatVector.fromArray(FLOATS, w, p + 8).mul(xj));
            }
            a0.intoArray(out, i);
            a1.intoArray(out, i + 8);
        }
    }

    /**
     * Q8_0, lanes across the eight rows of a block. A group's int8 products and their sum are
     * integers below 2^24 while a group holds at most {@link #MAX_GROUP} values, so float
     * arithmetic (even fused multiply-adds) gets them exactly: the sum is runq.c's int32 sum, and
     * the float step per group that follows is the portable one, lane by lane. Float lanes beat
     * int lanes here: on AVX2 an int multiply costs more than a float one.
     */
    static final class Q8 extends Blocked {
        /** The largest group whose sums stay exact in float: 1024 * 127 * 128 < 2^24. */
        static final int MAX_GROUP = 1024;
        private static final int BLOCK = QuantizedMatrix.BLOCK; // one vector of eight lanes
        private final byte[] w;
        private final int groupSize;
        private final int groups;
        private final float[] blockScales; // per block of eight rows, per group, the eight rows' scales

        Q8(QuantizedMatrix portable) {
            super(portable, BLOCK, portable.blockedRows());
            if (portable.groupSize() > MAX_GROUP) {
                throw new IllegalArgumentException("group size " + portable.groupSize() + " > " + MAX_GROUP);
            }
            this.w = portable.blockedValues();
            this.groupSize = portable.groupSize();
            this.groups = cols / groupSize;
            float[] scales = portable.scales();
            int blockedRows = portable.blockedRows();
            blockScales = new float[blockedRows * groups];
            for (int i = 0; i < blockedRows; i++) {
                for (int g = 0; g < groups; g++) {
                    blockScales[((i - i % BLOCK) * groups) + g * BLOCK + i % BLOCK] = scales[i * groups + g];
                }
            }
        }

        @Override
        void blocks(Input input, float[] out, int first, int end) {
            byte[] xq = input.quantized(groupSize);
            float[] xs = input.scales();
            float[] x = new float[cols]; // the int8 input as floats, converted once
            for (int k = 0; k < cols; k++) {
                x[k] = xq[k];
            }
            int i = first;
            for (; i + 4 * BLOCK <= end; i += 4 * BLOCK) {
                fourBlocks(x, xs, out, i);
            }
            for (; i < end; i += BLOCK) {
                oneBlock(x, xs, out, i);
            }
        }

        /** Rows [i, i + 32): per group, four exact sums of eight rows, then runq.c's float step per row. */
        private void fourBlocks(float[] x, float[] xs, float[] out, int i) {
            int gs = groupSize;
            int stride = BLOCK * cols; // from one block to the next
            int p = i * cols;
            FloatVector va = FloatVector.zero(FLOATS), vb = va, vc = va, vd = va;
            for (int g = 0; g < groups; g++) {
                FloatVector sa = FloatVector.zero(FLOATS), sb = sa, sc = sa, sd = sa;
                for (int k = g * gs, end = k + gs; k < end; k++, p += BLOCK) {
                    FloatVector xk = FloatVector.broadcast(FLOATS, x[k]);
                    sa = weightsAt(p).fma(xk, sa);
                    sb = weightsAt(p + stride).fma(xk, sb);
                    sc = weightsAt(p + 2 * stride).fma(xk, sc);
                    sd = weightsAt(p + 3 * stride).fma(xk, sd);
                }
                FloatVector xScale = FloatVector.broadcast(FLOATS, xs[g]);
                va = va.add(sa.mul(rowScales(i, g)).mul(xScale));
                vb = vb.add(sb.mul(rowScales(i + BLOCK, g)).mul(xScale));
                vc = vc.add(sc.mul(rowScales(i + 2 * BLOCK, g)).mul(xScale));
                vd = vd.add(sd.mul(rowScales(i + 3 * BLOCK, g)).mul(xScale));
            }
            va.intoArray(out, i);
            vb.intoArray(out, i + BLOCK);
            vc.intoArray(out, i + 2 * BLOCK);
            vd.intoArray(out, i + 3 * BLOCK);
        }

        private void oneBlock(float[] x, float[] xs, float[] out, int i) {
            int gs = groupSize;
            int p = i * cols;
            FloatVector va = FloatVector.zero(FLOATS);
            for (int g = 0; g < groups; g++) {
                FloatVector sa = FloatVector.zero(FLOATS);
                for (int k = g * gs, end = k + gs; k < end; k++, p += BLOCK) {
                    sa = weightsAt(p).fma(FloatVector.broadcast(FLOATS, x[k]), sa);
                }
                va = va.add(sa.mul(rowScales(i, g)).mul(FloatVector.broadcast(FLOATS, xs[g])));
            }
            va.intoArray(out, i);
        }

        /** The eight int8 weights at p (one column of a block) as floats. */
        private FloatVector weightsAt(int p) {
            return (FloatVector) ByteVector.fromArray(BYTES, w, p).convertShape(VectorOperators.B2F, FLOATS, 0);
        }

        /** The scales of group g of the eight rows from row i (a block's first row). */
        private FloatVector rowScales(int i, int g) {
            return FloatVector.fromArray(FLOATS, blockScales, i * groups + g * BLOCK);
        }
    }
}
