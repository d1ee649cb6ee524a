package llama2.train;

import java.util.Arrays;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The matrix product {@code C (+)= A · B} with the JDK's vector API: the register-blocked
 * micro-kernel of BLAS libraries, inside cache blocks.
 *
 * <p>A tile of 4 rows × 3 vectors of C lives in 12 vector registers while k runs over the shared
 * dimension; each step loads 3 vectors of one row of B, broadcasts 4 elements of A and issues 12
 * fused multiply-adds. With the 3 B vectors and the broadcast that is 16 registers, so the tile
 * fits AVX2's 16 without spilling (of 6×2, 3×4, 2×6, 4×2 and 8×1 it measured fastest). Around
 * it, cache blocks of {@link #K_BLOCK} steps of k and {@link #M_BLOCK} rows are first copied
 * ("packed") into contiguous buffers: the strip of B a column panel reads then stays in L1 while
 * every row tile of the block passes over it (B's own rows, a power of two apart, would evict
 * one another), and the block's rows of A stay in L2.
 *
 * <p>B and C are row-major with strided rows; A is addressed through two strides so that the same
 * kernel also multiplies by a transpose (the weight gradient reads {@code dYᵀ}). Each element of
 * C is one chain of fused multiply-adds with k ascending, whatever the blocking, so the result
 * depends on the shapes alone: reproducible run to run and thread to thread.
 *
 * <p>Loaded only when the {@code jdk.incubator.vector} module is present (see {@link KernelChoice}).
 */
final class VectorKernels implements Kernels.Implementation {
    static final VectorKernels INSTANCE = new VectorKernels();

    private VectorKernels() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Rows of A (and C) per register tile. */
    private static final int ROWS = 4;
    /** Columns of B (and C) per register tile: three vectors. */
    private static final int COLS = 3 * L;
    /** Depth of a cache block: 256 rows of a packed strip of B are 24 KB with AVX2, at home in L1. */
    private static final int K_BLOCK = 256;
    /** Rows of a cache block: 256 rows × 256 of packed A are 256 KB, at home in L2. */
    private static final int M_BLOCK = 256;

    /** Each thread's packing buffers: a block of A, a strip of B. */
    private static final ThreadLocal<float[][]> PACKED =
            ThreadLocal.withInitial(() -> new float[][] {new float[M_BLOCK * K_BLOCK], new float[K_BLOCK * COLS]});

    @Override
    public String name() {
        return "vector";
    }

    @Override
    public void gemm(Kernels.View c, Kernels.View a, boolean transposeA, Kernels.View b, boolean accumulate) {
        int aRow = transposeA ? 1 : a.stride(), aCol = transposeA ? a.stride() : 1;
        int depth = transposeA ? a.rows() : a.cols();
        gemm(c.data(), c.offset(), c.stride(), a.data(), a.offset(), aRow, aCol, b.data(), b.offset(), b.stride(),
                c.rows(), depth, c.cols(), accumulate);
    }

    /**
     * {@code C[m][n] = (accumulate ? C[m][n] : 0) + Σ_k A(m, k) · B[k][n]} for m &lt; rows,
     * n &lt; cols, k &lt; depth, where {@code A(m, k) = a[aOff + m·aRow + k·aCol]},
     * {@code B[k][n] = b[bOff + k·ldb + n]} and {@code C[m][n] = c[cOff + m·ldc + n]}.
     *
     * <p>The rows in multiples of 4 and the columns in multiples of a vector go through cache
     * blocks; the rows and columns left over take a plain vector or scalar loop over all of k.
     */
    private static void gemm(float[] c, int cOff, int ldc, float[] a, int aOff, int aRow, int aCol,
                             float[] b, int bOff, int ldb, int rows, int depth, int cols, boolean accumulate) {
        int blockRows = rows - rows % ROWS, vectorCols = cols - cols % L;
        if (!accumulate) {
            for (int m = 0; m < rows; m++) {
                Arrays.fill(c, cOff + m * ldc, cOff + m * ldc + cols, 0f);
            }
        }
        float[][] buffers = PACKED.get();
        float[] packedA = buffers[0], packedB = buffers[1];
        for (int k0 = 0; k0 < depth; k0 += K_BLOCK) {
            int kLen = Math.min(K_BLOCK, depth - k0);
            for (int m0 = 0; m0 < blockRows; m0 += M_BLOCK) {
                int mLen = Math.min(M_BLOCK, blockRows - m0);
                packA(a, aOff + m0 * aRow + k0 * aCol, aRow, aCol, mLen, kLen, packedA);
                int n = 0;
                for (; n + COLS <= vectorCols; n += COLS) {
                    packB(b, bOff + k0 * ldb + n, ldb, kLen, packedB);
                    for (int m = 0; m < mLen; m += ROWS) {
                        tile4x3(c, cOff + (m0 + m) * ldc + n, ldc, packedA, m * kLen, packedB, kLen);
                    }
                }
                for (; n < vectorCols; n += L) {
                    for (int m = 0; m < mLen; m += ROWS) {
                        tile4x1(c, cOff + (m0 + m) * ldc + n, ldc, packedA, m * kLen, b, bOff + k0 * ldb + n, ldb, kLen);
                    }
                }
            }
        }
        for (int m = blockRows; m < rows; m++) {
            for (int n = 0; n < vectorCols; n += L) {
                row1x1(c, cOff + m * ldc + n, a, aOff + m * aRow, aCol, b, bOff + n, ldb, depth);
            }
        }
        for (int n = vectorCols; n < cols; n++) {
            for (int m = 0; m < rows; m++) {
                int at = cOff + m * ldc + n, am = aOff + m * aRow;
                float sum = c[at];
                for (int k = 0; k < depth; k++) {
                    sum = Math.fma(a[am + k * aCol], b[bOff + k * ldb + n], sum);
                }
                c[at] = sum;
            }
        }
    }

    /**
     * Copies {@code A(m, k)} for m &lt; rows (a multiple of 4), k &lt; depth into {@code packed}:
     * four rows at a time, each row's {@code depth} values one after the other. (Packing the four
     * values of one k side by side instead measured half as fast: C2 then merges the four scalar
     * loads into one vector load and shuffles.)
     */
    private static void packA(float[] a, int aOff, int aRow, int aCol, int rows, int depth, float[] packed) {
        for (int m = 0; m < rows; m++) {
            int from = aOff + m * aRow, to = m * depth;
            for (int k = 0; k < depth; k++) {
                packed[to + k] = a[from + k * aCol];
            }
        }
    }

    /** Copies a strip of {@link #COLS} columns of B, {@code depth} rows, into {@code packed}, row after row. */
    private static void packB(float[] b, int bOff, int ldb, int depth, float[] packed) {
        for (int k = 0; k < depth; k++) {
            System.arraycopy(b, bOff + k * ldb, packed, k * COLS, COLS);
        }
    }

    /** Four rows by three vectors of C over {@code depth} steps of k, from packed A and packed B. */
    private static void tile4x3(float[] c, int c0, int ldc, float[] a, int a0, float[] b, int depth) {
        int c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
        FloatVector s00 = FloatVector.fromArray(S, c, c0), s01 = FloatVector.fromArray(S, c, c0 + L);
        FloatVector s02 = FloatVector.fromArray(S, c, c0 + 2 * L);
        FloatVector s10 = FloatVector.fromArray(S, c, c1), s11 = FloatVector.fromArray(S, c, c1 + L);
        FloatVector s12 = FloatVector.fromArray(S, c, c1 + 2 * L);
        FloatVector s20 = FloatVector.fromArray(S, c, c2), s21 = FloatVector.fromArray(S, c, c2 + L);
        FloatVector s22 = FloatVector.fromArray(S, c, c2 + 2 * L);
        FloatVector s30 = FloatVector.fromArray(S, c, c3), s31 = FloatVector.fromArray(S, c, c3 + L);
        FloatVector s32 = FloatVector.fromArray(S, c, c3 + 2 * L);
        for (int k = 0; k < depth; k++) {
            int bk = k * COLS, ak = a0 + k;
            FloatVector b0 = FloatVector.fromArray(S, b, bk);
            FloatVector b1 = FloatVector.fromArray(S, b, bk + L);
            FloatVector b2 = FloatVector.fromArray(S, b, bk + 2 * L);
            FloatVector x = FloatVector.broadcast(S, a[ak]);
            s00 = b0.fma(x, s00); s01 = b1.fma(x, s01); s02 = b2.fma(x, s02);
            x = FloatVector.broadcast(S, a[ak + depth]);
            s10 = b0.fma(x, s10); s11 = b1.fma(x, s11); s12 = b2.fma(x, s12);
            x = FloatVector.broadcast(S, a[ak + 2 * depth]);
            s20 = b0.fma(x, s20); s21 = b1.fma(x, s21); s22 = b2.fma(x, s22);
            x = FloatVector.broadcast(S, a[ak + 3 * depth]);
            s30 = b0.fma(x, s30); s31 = b1.fma(x, s31); s32 = b2.fma(x, s32);
        }
        s00.intoArray(c, c0); s01.intoArray(c, c0 + L); s02.intoArray(c, c0 + 2 * L);
        s10.intoArray(c, c1); s11.intoArray(c, c1 + L); s12.intoArray(c, c1 + 2 * L);
        s20.intoArray(c, c2); s21.intoArray(c, c2 + L); s22.intoArray(c, c2 + 2 * L);
        s30.intoArray(c, c3); s31.intoArray(c, c3 + L); s32.intoArray(c, c3 + 2 * L);
    }

    /** Four rows by one vector, from packed A and B in place: the columns the strips leave over. */
    private static void tile4x1(float[] c, int c0, int ldc, float[] a, int a0, float[] b, int b0, int ldb, int depth) {
        int c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
        FloatVector s0 = FloatVector.fromArray(S, c, c0), s1 = FloatVector.fromArray(S, c, c1);
        FloatVector s2 = FloatVector.fromArray(S, c, c2), s3 = FloatVector.fromArray(S, c, c3);
        for (int k = 0; k < depth; k++) {
            FloatVector bk = FloatVector.fromArray(S, b, b0 + k * ldb);
            int ak = a0 + k;
            s0 = bk.fma(FloatVector.broadcast(S, a[ak]), s0);
            s1 = bk.fma(FloatVector.broadcast(S, a[ak + depth]), s1);
            s2 = bk.fma(FloatVector.broadcast(S, a[ak + 2 * depth]), s2);
            s3 = bk.fma(FloatVector.broadcast(S, a[ak + 3 * depth]), s3);
        }
        s0.intoArray(c, c0); s1.intoArray(c, c1); s2.intoArray(c, c2); s3.intoArray(c, c3);
    }

    /** One row by one vector, A and B in place: the rows the four-row tiles leave over. */
    private static void row1x1(float[] c, int c0, float[] a, int a0, int aCol, float[] b, int b0, int ldb, int depth) {
        FloatVector s = FloatVector.fromArray(S, c, c0);
        for (int k = 0; k < depth; k++) {
            s = FloatVector.fromArray(S, b, b0 + k * ldb).fma(FloatVector.broadcast(S, a[a0 + k * aCol]), s);
        }
        s.intoArray(c, c0);
    }

    static int lanes() {
        return L;
    }

    /**
     * One core's peak of fused multiply-adds, in FLOP per second of the thread's CPU time (an FMA
     * counts two): twelve independent chains of vector FMAs, enough to cover the latency of the
     * FMA units, timed over ten runs of some 20 ms; the fastest run counts (the first ones warm up
     * the compiler, and sharing the core only slows a run down).
     */
    static double peakFlopsPerCore() {
        java.lang.management.ThreadMXBean clock = java.lang.management.ManagementFactory.getThreadMXBean();
        long iterations = 10_000_000;
        double best = 0;
        for (int run = 0; run < 10; run++) {
            long start = clock.getCurrentThreadCpuTime();
            float sink = fmaChains(iterations);
            double seconds = (clock.getCurrentThreadCpuTime() - start) / 1e9;
            if (sink == 0.5f) { // never: keeps the loop from being dropped
                System.out.print("");
            }
            best = Math.max(best, iterations * 12.0 * 2 * L / seconds);
        }
        return best;
    }

    private static float fmaChains(long iterations) {
        FloatVector x0 = FloatVector.broadcast(S, 1f), x1 = x0, x2 = x0, x3 = x0, x4 = x0, x5 = x0;
        FloatVector x6 = x0, x7 = x0, x8 = x0, x9 = x0, x10 = x0, x11 = x0;
        FloatVector m = FloatVector.broadcast(S, 0.999999f), d = FloatVector.broadcast(S, 1e-7f);
        for (long i = 0; i < iterations; i++) {
            x0 = x0.fma(m, d); x1 = x1.fma(m, d); x2 = x2.fma(m, d); x3 = x3.fma(m, d);
            x4 = x4.fma(m, d); x5 = x5.fma(m, d); x6 = x6.fma(m, d); x7 = x7.fma(m, d);
            x8 = x8.fma(m, d); x9 = x9.fma(m, d); x10 = x10.fma(m, d); x11 = x11.fma(m, d);
        }
        return x0.add(x1).add(x2).add(x3).add(x4).add(x5).add(x6).add(x7).add(x8).add(x9).add(x10).add(x11)
                .reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }
}
