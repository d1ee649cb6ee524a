package llama2.train;

/**
 * The loss of the Llama 2 forward pass written the plainest way, in double precision, straight
 * from SPEC.md: the oracle for finite differences (float arithmetic would drown a difference
 * quotient in rounding noise). With a {@link Dropout}, its masks are applied where the trainer
 * applies them.
 */
final class DoubleReference {
    private final ParameterLayout l;
    private final double[] p;
    private final Dropout dropout;

    DoubleReference(ParameterLayout layout, double[] params) {
        this(layout, params, null);
    }

    DoubleReference(ParameterLayout layout, double[] params, Dropout dropout) {
        this.l = layout;
        this.p = params;
        this.dropout = dropout;
    }

    private double mask(int kind, int layer, long index) {
        return dropout == null ? 1 : dropout.factor(kind, layer, index);
    }

    /** Summed cross-entropy of predicting tokens[1..n] from tokens[0..n). */
    double loss(int[] tokens, int n) {
        int d = l.dim, hs = l.headSize, kv = l.kvDim, kvMul = l.heads / l.kvHeads;
        double[][] x = new double[n][d];
        for (int t = 0; t < n; t++) {
            for (int j = 0; j < d; j++) {
                x[t][j] = p[l.tokenEmbedding + tokens[t] * d + j] * mask(Dropout.EMBEDDING, 0, (long) t * d + j);
            }
        }
        for (int layer = 0; layer < l.layers; layer++) {
            double[][] q = new double[n][], k = new double[n][], v = new double[n][];
            for (int t = 0; t < n; t++) {
                double[] xn = rmsnorm(x[t], l.rmsAtt(layer));
                q[t] = rope(matvec(l.wq(layer), d, d, xn), t);
                k[t] = rope(matvec(l.wk(layer), kv, d, xn), t);
                v[t] = matvec(l.wv(layer), kv, d, xn);
            }
            for (int t = 0; t < n; t++) {
                double[] out = new double[d];
                for (int h = 0; h < l.heads; h++) {
                    int kvOff = (h / kvMul) * hs;
                    double[] score = new double[t + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int u = 0; u <= t; u++) {
                        for (int i = 0; i < hs; i++) {
                            score[u] += q[t][h * hs + i] * k[u][kvOff + i];
                        }
                        score[u] /= Math.sqrt(hs);
                        max = Math.max(max, score[u]);
                    }
                    double sum = 0;
                    for (int u = 0; u <= t; u++) {
                        score[u] = Math.exp(score[u] - max);
                        sum += score[u];
                    }
                    for (int u = 0; u <= t; u++) {
                        for (int i = 0; i < hs; i++) {
                            out[h * hs + i] += score[u] / sum * mask(Dropout.ATTENTION, layer, ((long) h * n + t) * n + u)
                                    * v[u][kvOff + i];
                        }
                    }
                }
                add(x[t], masked(matvec(l.wo(layer), d, d, out), Dropout.ATTENTION_OUT, layer, t));
            }
            for (int t = 0; t < n; t++) {
                double[] xn = rmsnorm(x[t], l.rmsFfn(layer));
                double[] a = matvec(l.w1(layer), l.hidden, d, xn), b = matvec(l.w3(layer), l.hidden, d, xn);
                for (int i = 0; i < l.hidden; i++) {
                    a[i] = a[i] / (1 + Math.exp(-a[i])) * b[i];
                }
                add(x[t], masked(matvec(l.w2(layer), d, l.hidden, a), Dropout.FFN_OUT, layer, t));
            }
        }
        double total = 0;
        for (int t = 0; t < n; t++) {
            double[] logits = matvec(l.classifier, l.vocab, d, rmsnorm(x[t], l.rmsFinal));
            double max = Double.NEGATIVE_INFINITY;
            for (double z : logits) {
                max = Math.max(max, z);
            }
            double sum = 0;
            for (double z : logits) {
                sum += Math.exp(z - max);
            }
            total += Math.log(sum) + max - logits[tokens[t + 1]];
        }
        return total;
    }

    private double[] matvec(int offset, int rows, int cols, double[] x) {
        double[] out = new double[rows];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                out[r] += p[offset + r * cols + c] * x[c];
            }
        }
        return out;
    }

    private double[] rmsnorm(double[] x, int weights) {
        double ss = 0;
        for (double v : x) {
            ss += v * v;
        }
        double r = 1 / Math.sqrt(ss / x.length + 1e-5);
        double[] out = new double[x.length];
        for (int j = 0; j < x.length; j++) {
            out[j] = p[weights + j] * r * x[j];
        }
        return out;
    }

    private double[] rope(double[] vec, int pos) {
        int hs = l.headSize;
        for (int i = 0; i < vec.length; i += 2) {
            double freq = 1.0 / Math.pow(10000, (i % hs) / (double) hs);
            double c = Math.cos(pos * freq), s = Math.sin(pos * freq);
            double v0 = vec[i], v1 = vec[i + 1];
            vec[i] = v0 * c - v1 * s;
            vec[i + 1] = v0 * s + v1 * c;
        }
        return vec;
    }

    /** Row t of a residual branch's output, with its dropout mask. */
    private double[] masked(double[] row, int kind, int layer, int t) {
        for (int j = 0; j < row.length; j++) {
            row[j] *= mask(kind, layer, (long) t * row.length + j);
        }
        return row;
    }

    private static void add(double[] x, double[] y) {
        for (int i = 0; i < x.length; i++) {
            x[i] += y[i];
        }
    }
}
