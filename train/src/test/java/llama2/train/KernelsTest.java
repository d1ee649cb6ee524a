package llama2.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Test;

/** The SIMD product against the portable one, on shapes that exercise every remainder path. */
class KernelsTest {

    @Test
    void vectorProductEqualsThePortableLoop() {
        assumeTrue(Kernels.VECTOR, "needs --add-modules jdk.incubator.vector (set by the pom)");
        Rng rng = new Rng(17);
        int[][] shapes = {{1, 1, 1}, {4, 16, 64}, {5, 7, 70}, {9, 33, 16}, {3, 8, 8}, {13, 20, 150}, {64, 64, 64}};
        for (int[] shape : shapes) {
            int rows = shape[0], depth = shape[1], cols = shape[2];
            for (boolean transposedA : new boolean[] {false, true}) {
                for (boolean accumulate : new boolean[] {false, true}) {
                    int ldb = cols + 3, ldc = cols + 5; // strided rows, as attention uses them
                    float[] a = random(rng, rows * depth + 2), b = random(rng, depth * ldb + 1);
                    float[] c1 = random(rng, rows * ldc + 1), c2 = c1.clone();
                    int aRow = transposedA ? 1 : depth, aCol = transposedA ? rows : 1;
                    VectorKernels.gemm(c1, 1, ldc, a, 2, aRow, aCol, b, 1, ldb, rows, depth, cols, accumulate);
                    Kernels.scalarGemm(c2, 1, ldc, a, 2, aRow, aCol, b, 1, ldb, rows, depth, cols, accumulate);
                    for (int i = 0; i < c1.length; i++) {
                        assertEquals(c2[i], c1[i], 1e-5 * Math.max(1, Math.abs(c2[i])),
                                "shape " + rows + "x" + depth + "x" + cols + " at " + i);
                    }
                }
            }
        }
    }

    private static float[] random(Rng rng, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) rng.nextGaussian();
        }
        return x;
    }
}
