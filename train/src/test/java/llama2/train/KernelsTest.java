package llama2.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import llama2.train.Kernels.View;

/**
 * The kernels against the plain loop that defines the products: the two portable loops bit for bit
 * (their order of additions is the contract the browser's trainer reproduces), the vector one within
 * rounding (it fuses multiply and add). The shapes exercise every leftover path of the blocking,
 * and strided views as attention uses them.
 */
class KernelsTest {
    /**
     * rows, depth, cols: leftovers of 2 and 4 rows, 2 steps, 3 vectors, one vector, the portable
     * blocks of 64 steps and 256 columns, and the vector ones of 256.
     */
    private static final int[][] SHAPES = {{1, 1, 1}, {4, 16, 64}, {5, 7, 70}, {9, 33, 16}, {3, 8, 8}, {13, 20, 150},
            {64, 64, 64}, {8, 300, 48}, {260, 5, 24}, {32, 257, 56}, {4, 4, 4}, {7, 0, 9}, {3, 129, 520}, {6, 65, 256}};

    @AfterEach
    void restore() {
        Kernels.use(PortableKernels.TILES);
    }

    @Test
    void portableProductsAreThePlainLoopBitForBit() {
        compare(PortableKernels.TILES, 0);
        compare(PortableKernels.ROWS, 0);
    }

    @Test
    void vectorProductIsThePlainLoopWithinRounding() {
        assumeTrue(KernelChoice.vectorAvailable(), "needs --add-modules jdk.incubator.vector (set by the pom)");
        compare(VectorKernels.INSTANCE, 1e-5);
    }

    private static void compare(Kernels.Implementation kernels, double tolerance) {
        Rng rng = new Rng(17);
        for (int[] shape : SHAPES) {
            int rows = shape[0], depth = shape[1], cols = shape[2];
            for (boolean transposeA : new boolean[] {false, true}) {
                for (boolean accumulate : new boolean[] {false, true}) {
                    int lda = (transposeA ? rows : depth) + 2, ldb = cols + 3, ldc = cols + 5; // strided rows
                    float[] a = random(rng, (transposeA ? depth : rows) * lda + 2), b = random(rng, depth * ldb + 1);
                    float[] expected = random(rng, rows * ldc + 1), actual = expected.clone();
                    View av = transposeA ? new View(a, 2, depth, rows, lda) : new View(a, 2, rows, depth, lda);
                    View bv = new View(b, 1, depth, cols, ldb);
                    PortableKernels.plain(new View(expected, 1, rows, cols, ldc), av, transposeA, bv, accumulate);
                    kernels.gemm(new View(actual, 1, rows, cols, ldc), av, transposeA, bv, accumulate);
                    String what = kernels.name() + " " + rows + "x" + depth + "x" + cols
                            + (transposeA ? " transposed" : "") + (accumulate ? " accumulating" : "");
                    if (tolerance == 0) {
                        assertArrayEquals(expected, actual, what);
                    } else {
                        for (int i = 0; i < expected.length; i++) {
                            assertEquals(expected[i], actual[i], tolerance * Math.max(1, Math.abs(expected[i])), what + " at " + i);
                        }
                    }
                }
            }
        }
    }

    @Test
    void theThreeProductsSayWhatTheyCompute() {
        // A = [[1, 2], [3, 4]], B = [[5, 6], [7, 8]]
        float[] a = {1, 2, 3, 4}, b = {5, 6, 7, 8}, c = {100, 100, 100, 100};
        Kernels.multiply(new View(c, 0, 2, 2), new View(a, 0, 2, 2), new View(b, 0, 2, 2));
        assertArrayEquals(new float[] {19, 22, 43, 50}, c);
        Kernels.multiplyAdd(new View(c, 0, 2, 2), new View(a, 0, 2, 2), new View(b, 0, 2, 2));
        assertArrayEquals(new float[] {38, 44, 86, 100}, c);
        float[] d = new float[4];
        Kernels.multiplyTransposedAdd(new View(d, 0, 2, 2), new View(a, 0, 2, 2), new View(b, 0, 2, 2));
        assertArrayEquals(new float[] {26, 30, 38, 44}, d);  // Aᵀ = [[1, 3], [2, 4]]
    }

    @Test
    void mismatchedShapesAreRefused() {
        float[] x = new float[64];
        assertThrows(IllegalArgumentException.class,
                () -> Kernels.multiply(new View(x, 0, 2, 3), new View(x, 0, 2, 4), new View(x, 0, 5, 3)));
        assertThrows(IllegalArgumentException.class,
                () -> Kernels.multiplyTransposedAdd(new View(x, 0, 3, 3), new View(x, 0, 4, 2), new View(x, 0, 4, 3)));
    }

    private static float[] random(Rng rng, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) rng.nextGaussian();
        }
        return x;
    }
}
