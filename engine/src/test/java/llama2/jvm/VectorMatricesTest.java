package llama2.jvm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Random;
import llama2.engine.FloatMatrix;
import llama2.engine.Input;
import llama2.engine.Matrix;
import llama2.engine.QuantizedMatrix;
import org.junit.jupiter.api.Test;

/** The SIMD matrices give the portable kernels' bits, for whole matrices and row ranges. */
class VectorMatricesTest {
    private final Random random = new Random(11);

    private float[] floats(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) random.nextGaussian() * (i % 7 == 0 ? 100 : 1);
        }
        return v;
    }

    @Test
    void floatMatrixIsBitIdentical() {
        assumeTrue(FastKernels.AVAILABLE, "needs --add-modules jdk.incubator.vector (set by the pom) and 8-lane vectors");
        for (int[] shape : new int[][] {{5, 3}, {16, 8}, {48, 17}, {77, 64}, {288, 288}, {512, 96}}) {
            FloatMatrix portable = new FloatMatrix(shape[0], shape[1], floats(shape[0] * shape[1]));
            assertSame(portable, VectorMatrices.of(portable), new Input(floats(shape[1])));
        }
    }

    @Test
    void quantizedMatrixIsBitIdentical() {
        assumeTrue(FastKernels.AVAILABLE, "needs --add-modules jdk.incubator.vector (set by the pom) and 8-lane vectors");
        for (int[] shape : new int[][] {{5, 8, 8}, {8, 16, 4}, {40, 64, 32}, {77, 128, 64}, {288, 288, 32}}) {
            FloatMatrix floats = new FloatMatrix(shape[0], shape[1], floats(shape[0] * shape[1]));
            QuantizedMatrix portable = QuantizedMatrix.quantize(floats, shape[2]);
            assertSame(portable, VectorMatrices.of(portable), new Input(floats(shape[1])));
        }
    }

    /**
     * Sums near the largest a group can reach (weights -127 and -128, input values +-127, groups of
     * 1024) are still exact in the SIMD kernel's float lanes; larger groups keep the portable kernel.
     */
    @Test
    void extremeGroupsAreExact() {
        assumeTrue(FastKernels.AVAILABLE, "needs --add-modules jdk.incubator.vector (set by the pom) and 8-lane vectors");
        int rows = 40, cols = 2048;
        byte[] values = new byte[rows * cols];
        for (int i = 0; i < values.length; i++) {
            values[i] = (byte) (i % 5 == 0 ? -128 : -127); // odd products, so float sums past 2^24 would round
        }
        float[] x = new float[cols];
        for (int j = 0; j < cols; j++) {
            x[j] = j % 50 == 0 ? -1f : 1f; // quantized to -127 and 127
        }
        for (int groupSize : new int[] {1024, 2048}) {
            float[] scales = new float[rows * cols / groupSize];
            for (int g = 0; g < scales.length; g++) {
                scales[g] = 1e-3f * (g + 1);
            }
            QuantizedMatrix portable = new QuantizedMatrix(rows, cols, groupSize, values.clone(), scales);
            Matrix fast = VectorMatrices.of(portable);
            if (groupSize > VectorMatrices.Q8.MAX_GROUP) {
                org.junit.jupiter.api.Assertions.assertSame(portable, fast);
            }
            assertSame(portable, fast, new Input(x));
        }
    }

    private static void assertSame(Matrix portable, Matrix fast, Input x) {
        int rows = portable.rows();
        for (int from = 0; from < rows; from += Math.max(1, rows / 6)) {
            for (int to = from; to <= rows; to += Math.max(1, rows / 4)) {
                float[] expected = new float[rows], actual = new float[rows];
                portable.multiply(x, expected, from, to);
                fast.multiply(x, actual, from, to);
                assertArrayEquals(expected, actual, rows + "x" + portable.cols() + " rows " + from + ".." + to);
            }
        }
        float[] expected = new float[rows], actual = new float[rows];
        portable.multiply(x, expected, 0, rows);
        fast.multiply(x, actual, 0, rows);
        assertArrayEquals(expected, actual, rows + "x" + portable.cols());
    }
}
