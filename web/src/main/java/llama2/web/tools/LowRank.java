package llama2.web.tools;

import java.util.Random;

/**
 * A rank-r approximation {@code A ≈ Q·B} of a square matrix by subspace iteration: Q has r
 * orthonormal columns spanning A's leading left singular vectors, and {@code B = Qᵀ·A}.
 */
final class LowRank {
    final double[][] q; // n × r, orthonormal columns
    final double[][] b; // r × n

    private LowRank(double[][] q, double[][] b) {
        this.q = q;
        this.b = b;
    }

    static LowRank of(double[][] a, int rank, int iterations, long seed) {
        int n = a.length;
        Random random = new Random(seed);
        double[][] q = new double[n][rank];
        for (double[] row : q) {
            for (int j = 0; j < rank; j++) {
                row[j] = random.nextGaussian();
            }
        }
        orthonormalize(q);
        for (int it = 0; it < iterations; it++) {
            q = multiply(a, multiplyTransposed(a, q)); // A·(Aᵀ·Q)
            orthonormalize(q);
        }
        double[][] qtA = multiplyTransposed(q, a); // Qᵀ·A, r × n
        return new LowRank(q, qtA);
    }

    /** Returns Xᵀ·Y for X (n × p) and Y (n × m): a p × m matrix. */
    private static double[][] multiplyTransposed(double[][] x, double[][] y) {
        int n = x.length, p = x[0].length, m = y[0].length;
        double[][] out = new double[p][m];
        for (int k = 0; k < n; k++) {
            double[] xk = x[k], yk = y[k];
            for (int i = 0; i < p; i++) {
                double xi = xk[i];
                if (xi == 0) {
                    continue;
                }
                double[] row = out[i];
                for (int j = 0; j < m; j++) {
                    row[j] += xi * yk[j];
                }
            }
        }
        return out;
    }

    /** Returns X·Y. */
    private static double[][] multiply(double[][] x, double[][] y) {
        int n = x.length, k = y.length, m = y[0].length;
        double[][] out = new double[n][m];
        for (int i = 0; i < n; i++) {
            double[] row = out[i];
            for (int l = 0; l < k; l++) {
                double xil = x[i][l];
                if (xil == 0) {
                    continue;
                }
                double[] yl = y[l];
                for (int j = 0; j < m; j++) {
                    row[j] += xil * yl[j];
                }
            }
        }
        return out;
    }

    /** Modified Gram-Schmidt on the columns. */
    private static void orthonormalize(double[][] q) {
        int n = q.length, r = q[0].length;
        for (int j = 0; j < r; j++) {
            for (int i = 0; i < j; i++) {
                double dot = 0;
                for (int k = 0; k < n; k++) {
                    dot += q[k][i] * q[k][j];
                }
                for (int k = 0; k < n; k++) {
                    q[k][j] -= dot * q[k][i];
                }
            }
            double norm = 0;
            for (int k = 0; k < n; k++) {
                norm += q[k][j] * q[k][j];
            }
            norm = Math.sqrt(norm);
            for (int k = 0; k < n; k++) {
                q[k][j] = norm == 0 ? 0 : q[k][j] / norm;
            }
        }
    }
}
