package llama2.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** The unrolled kernels equal their plain loops, bit for bit, on shapes with and without leftovers. */
class KernelTest {
    private final Random random = new Random(7);

    private float[] floats(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) random.nextGaussian();
        }
        return v;
    }

    @Test
    void floatMatrixEqualsPlainLoop() {
        for (int[] shape : new int[][] {{1, 1}, {16, 8}, {37, 29}, {64, 288}, {275, 64}}) {
            int rows = shape[0], cols = shape[1];
            FloatMatrix m = new FloatMatrix(rows, cols, floats(rows * cols));
            float[] x = floats(cols);
            float[] plain = new float[rows];
            m.multiplyPlain(x, plain, 0, rows);
            assertRangesEqual(plain, m, new Input(x));
        }
    }

    @Test
    void quantizedMatrixEqualsPlainLoop() {
        for (int[] shape : new int[][] {{1, 8, 8}, {8, 16, 4}, {37, 64, 32}, {275, 96, 32}}) {
            int rows = shape[0], cols = shape[1], groupSize = shape[2];
            QuantizedMatrix m = QuantizedMatrix.quantize(new FloatMatrix(rows, cols, floats(rows * cols)), groupSize);
            Input x = new Input(floats(cols));
            float[] plain = new float[rows];
            m.multiplyPlain(x, plain);
            assertRangesEqual(plain, m, x);
        }
    }

    @Test
    void packedQuantizedMatrixEqualsPlainLoop() {
        for (int[] shape : new int[][] {{1, 8, 8}, {8, 16, 4}, {37, 64, 32}, {275, 96, 32}, {64, 288, 288}}) {
            int rows = shape[0], cols = shape[1], groupSize = shape[2];
            QuantizedMatrix m = QuantizedMatrix.quantize(new FloatMatrix(rows, cols, floats(rows * cols)), groupSize);
            assertPackedEqualsPlain(m, new Input(floats(cols)));
        }
    }

    /** Sums near the extremes: weights -128 and 127, inputs +-127, in groups of 4096. */
    @Test
    void packedQuantizedMatrixIsExactAtTheExtremes() {
        int rows = 21, cols = 8192, groupSize = 4096;
        byte[] values = new byte[rows * cols];
        for (int i = 0; i < values.length; i++) {
            values[i] = (byte) (i % 7 == 0 ? 127 : -128);
        }
        float[] scales = new float[rows * cols / groupSize];
        for (int g = 0; g < scales.length; g++) {
            scales[g] = 1e-3f * (g + 1);
        }
        float[] x = new float[cols];
        for (int j = 0; j < cols; j++) {
            x[j] = j % 11 == 0 ? 1f : -1f;
        }
        assertPackedEqualsPlain(new QuantizedMatrix(rows, cols, groupSize, values, scales), new Input(x));
    }

    private static void assertPackedEqualsPlain(QuantizedMatrix m, Input x) {
        Matrix packed = PackedQuantizedMatrix.of(m);
        assertInstanceOf(PackedQuantizedMatrix.class, packed);
        float[] plain = new float[m.rows()];
        m.multiplyPlain(x, plain);
        assertRangesEqual(plain, packed, x);
        float[] expected = new float[m.cols()], actual = new float[m.cols()];
        for (int row = 0; row < m.rows(); row++) {
            m.copyRow(row, expected);
            packed.copyRow(row, actual);
            assertArrayEquals(expected, actual, "row " + row);
        }
    }

    /** The whole matrix, and rows [from, to) for ranges inside, across and between blocks. */
    private static void assertRangesEqual(float[] plain, Matrix m, Input x) {
        int rows = m.rows();
        for (int from = 0; from < rows; from += Math.max(1, rows / 7)) {
            for (int to = from; to <= rows; to += Math.max(1, rows / 5)) {
                float[] fast = new float[rows];
                m.multiply(x, fast, from, to);
                float[] expected = new float[rows];
                System.arraycopy(plain, from, expected, from, to - from);
                assertArrayEquals(expected, fast, rows + "x" + m.cols() + " rows " + from + ".." + to);
            }
        }
        float[] all = new float[rows];
        m.multiply(x, all, 0, rows);
        assertArrayEquals(plain, all, rows + "x" + m.cols());
    }

    @Test
    void attentionLoopsEqualPlainLoops() {
        for (int[] shape : new int[][] {{8, 1}, {48, 7}, {12, 13}, {64, 256}}) {
            int headSize = shape[0], positions = shape[1], stride = 3 * headSize, offset = headSize;
            float[] q = floats(2 * headSize);
            float[] keys = floats(positions * stride);
            float[] values = floats(positions * stride);
            float[] fast = new float[positions], plain = new float[positions];
            Attention.scores(q, headSize, keys, offset, stride, headSize, positions, 6.9f, fast);
            Attention.scoresPlain(q, headSize, keys, offset, stride, headSize, 0, positions, 6.9f, plain);
            assertArrayEquals(plain, fast, "scores " + headSize + "x" + positions);

            float[] att = floats(positions);
            float[] fastOut = new float[2 * headSize], plainOut = new float[2 * headSize];
            Attention.mixValues(att, positions, values, offset, stride, headSize, fastOut, headSize);
            Attention.mixValuesPlain(att, positions, values, offset, stride, 0, headSize, plainOut, headSize);
            assertArrayEquals(plainOut, fastOut, "values " + headSize + "x" + positions);
        }
    }
}
