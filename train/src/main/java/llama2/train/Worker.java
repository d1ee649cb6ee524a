package llama2.train;

import java.util.Arrays;

/**
 * Forward and backward pass of one sequence, on one thread.
 *
 * <p>A worker owns everything the passes write: the activations the backward pass needs, scratch
 * space, and its own gradient array (same layout as the parameters) into which it accumulates the
 * gradients of all the sequences it is given. Workers share only the read-only {@link Model}, so
 * they run in parallel without locks; the trainer sums their gradients afterwards in a fixed order.
 * Nothing is allocated per step.
 */
public final class Worker {
    private final Model model;
    private final ParameterLayout l;
    public final float[] grad;

    // activations, per layer [n][width] row-major
    private final float[][] x;        // residual stream entering layer l (x[layers] leaves the last)
    private final float[][] xn1, q, k, v, att, ao, xMid, xn2, h1, h3, g;
    private final float[][] r1, r2;   // 1/rms of each row, for the RMSNorm backward
    private final float[] xnF, rF, logits;

    // scratch
    private final float[] dx, dxn, dq, dk, dv, dao, dh1, dh3, dg;
    private final float[] kT, vT, dS;

    /** Null when training without dropout; {@link #dropping} says whether the current pass uses it. */
    private final Dropout dropout;
    private boolean dropping;
    /** With dropout: the attention weights after it (att keeps them before), and a masked gradient. */
    private final float[][] attDropped;
    private final float[] dBranch;

    public Worker(Model model) {
        this(model, 0f);
    }

    /** A worker whose {@link #forwardBackward} applies dropout at this rate (0: none). */
    public Worker(Model model, float dropoutRate) {
        this.model = model;
        this.l = model.layout;
        this.dropout = dropoutRate > 0 ? new Dropout(dropoutRate) : null;
        int n = l.seqLen, d = l.dim, kv = l.kvDim, h = l.hidden, layers = l.layers;
        grad = new float[l.size];
        x = new float[layers + 1][n * d];
        xn1 = new float[layers][n * d];
        q = new float[layers][n * d];
        k = new float[layers][n * kv];
        v = new float[layers][n * kv];
        att = new float[layers][l.heads * n * n];
        ao = new float[layers][n * d];
        xMid = new float[layers][n * d];
        xn2 = new float[layers][n * d];
        h1 = new float[layers][n * h];
        h3 = new float[layers][n * h];
        g = new float[layers][n * h];
        r1 = new float[layers][n];
        r2 = new float[layers][n];
        xnF = new float[n * d];
        rF = new float[n];
        logits = new float[n * l.vocab];
        dx = new float[n * d];
        dxn = new float[n * d];
        dq = new float[n * d];
        dk = new float[n * kv];
        dv = new float[n * kv];
        dao = new float[n * d];
        dh1 = new float[n * h];
        dh3 = new float[n * h];
        dg = new float[n * h];
        kT = new float[l.headSize * n];
        vT = new float[l.headSize * n];
        dS = new float[n * n];
        attDropped = dropout == null ? att : new float[layers][l.heads * n * n];
        dBranch = dropout == null ? null : new float[n * d];
    }

    public void clearGradients() {
        Arrays.fill(grad, 0f);
    }

    /**
     * Runs the model over {@code tokens[from .. from+n)} and returns the logits {@code [n][vocab]}
     * (a view of the worker's buffer, valid until the next call).
     */
    public float[] logits(int[] tokens, int from, int n) {
        dropping = false;
        forward(tokens, from, n);
        return logits;
    }

    /**
     * Cross-entropy of predicting {@code tokens[from+1 .. from+n]} from {@code tokens[from ..
     * from+n)}, summed over the n positions (in nats, accumulated in double).
     */
    public double loss(int[] tokens, int from, int n) {
        dropping = false;
        forward(tokens, from, n);
        double sum = 0;
        for (int t = 0; t < n; t++) {
            sum += crossEntropy(t, tokens[from + t + 1], 0f);
        }
        return sum;
    }

    /**
     * Forward and backward over one window: adds {@code scale ×} the gradient of the summed
     * cross-entropy to {@link #grad} and returns the summed cross-entropy. With dropout, the masks
     * are those of {@code dropoutSeed} (see {@link Dropout#windowSeed}).
     */
    public double forwardBackward(int[] tokens, int from, int n, float scale, long dropoutSeed) {
        dropping = dropout != null;
        if (dropping) {
            dropout.reseed(dropoutSeed);
        }
        forward(tokens, from, n);
        double sum = 0;
        for (int t = 0; t < n; t++) {
            sum += crossEntropy(t, tokens[from + t + 1], scale);
        }
        backward(tokens, from, n);
        return sum;
    }

    // ---------------------------------------------------------------- forward

    private void forward(int[] tokens, int from, int n) {
        if (n > l.seqLen) {
            throw new IllegalArgumentException("window of " + n + " tokens exceeds seq_len " + l.seqLen);
        }
        float[] p = model.params, pt = model.transposed;
        int d = l.dim, kv = l.kvDim, hd = l.hidden;
        for (int t = 0; t < n; t++) {
            System.arraycopy(p, l.tokenEmbedding + tokens[from + t] * d, x[0], t * d, d);
        }
        if (dropping) {
            dropout.apply(x[0], 0, n * d, Dropout.EMBEDDING, 0, 0);
        }
        for (int layer = 0; layer < l.layers; layer++) {
            rmsnorm(xn1[layer], x[layer], p, l.rmsAtt(layer), r1[layer], n);
            Kernels.forward(q[layer], 0, xn1[layer], 0, pt, l.wq(layer), n, d, d);
            Kernels.forward(k[layer], 0, xn1[layer], 0, pt, l.wk(layer), n, d, kv);
            Kernels.forward(v[layer], 0, xn1[layer], 0, pt, l.wv(layer), n, d, kv);
            rope(q[layer], d, n, 1f);
            rope(k[layer], kv, n, 1f);
            attention(layer, n);
            float[] mid = xMid[layer];
            Kernels.forward(mid, 0, ao[layer], 0, pt, l.wo(layer), n, d, d);
            if (dropping) {
                dropout.apply(mid, 0, n * d, Dropout.ATTENTION_OUT, layer, 0);
            }
            for (int i = 0; i < n * d; i++) {
                mid[i] = x[layer][i] + mid[i];
            }
            rmsnorm(xn2[layer], mid, p, l.rmsFfn(layer), r2[layer], n);
            Kernels.forward(h1[layer], 0, xn2[layer], 0, pt, l.w1(layer), n, d, hd);
            Kernels.forward(h3[layer], 0, xn2[layer], 0, pt, l.w3(layer), n, d, hd);
            float[] a = h1[layer], b = h3[layer], gl = g[layer];
            for (int i = 0; i < n * hd; i++) {
                float val = a[i];
                val *= (1.0f / (1.0f + (float) Math.exp(-val)));
                gl[i] = val * b[i];
            }
            float[] out = x[layer + 1];
            Kernels.forward(out, 0, gl, 0, pt, l.w2(layer), n, hd, d);
            if (dropping) {
                dropout.apply(out, 0, n * d, Dropout.FFN_OUT, layer, 0);
            }
            for (int i = 0; i < n * d; i++) {
                out[i] = mid[i] + out[i];
            }
        }
        rmsnorm(xnF, x[l.layers], p, l.rmsFinal, rF, n);
        Kernels.forward(logits, 0, xnF, 0, pt, l.classifier, n, d, l.vocab);
    }

    /** RMSNorm of each of the n rows, in run.c's arithmetic; keeps 1/rms per row. */
    private void rmsnorm(float[] out, float[] in, float[] weight, int wOff, float[] inverseRms, int n) {
        int d = l.dim;
        for (int t = 0; t < n; t++) {
            int row = t * d;
            float ss = 0f;
            for (int j = 0; j < d; j++) {
                ss += in[row + j] * in[row + j];
            }
            ss /= d;
            ss += 1e-5f;
            ss = 1.0f / (float) Math.sqrt(ss);
            inverseRms[t] = ss;
            for (int j = 0; j < d; j++) {
                out[row + j] = weight[wOff + j] * (ss * in[row + j]);
            }
        }
    }

    /** Rotates each (even, odd) pair by the position's angle; direction -1 undoes it (backward). */
    private void rope(float[] vec, int width, int n, float direction) {
        int hs = l.headSize, half = hs / 2;
        for (int t = 0; t < n; t++) {
            for (int i = 0; i < width; i += 2) {
                int j = (i % hs) / 2;
                float fcr = model.ropeCos[t * half + j];
                float fci = direction * model.ropeSin[t * half + j];
                int at = t * width + i;
                float v0 = vec[at], v1 = vec[at + 1];
                vec[at] = v0 * fcr - v1 * fci;
                vec[at + 1] = v0 * fci + v1 * fcr;
            }
        }
    }

    /**
     * Attention is computed in blocks of this many query rows: a block only needs the keys up to
     * its last row, which skips most of the masked half of the score matrix.
     */
    private static final int CAUSAL_BLOCK = 32;

    /**
     * Causal multi-head attention with grouped keys/values, per head as two matrix products
     * {@code S = Q Kᵀ / sqrt(head_size)} and {@code O = softmax(S) V}; keeps the attention weights.
     * Each block of query rows multiplies only by the keys its rows can see (the rest of its masked
     * part is computed and then zeroed, a small waste that keeps the products in the fast kernel).
     */
    private void attention(int layer, int n) {
        int hs = l.headSize, d = l.dim, kv = l.kvDim, kvMul = l.heads / l.kvHeads;
        float sqrtHs = (float) Math.sqrt(hs);
        float[] ql = q[layer], kl = k[layer], vl = v[layer], al = att[layer], out = ao[layer];
        float[] ad = dropping ? attDropped[layer] : al;
        for (int h = 0; h < l.heads; h++) {
            int kvOff = (h / kvMul) * hs, s0 = h * n * n;
            Kernels.transpose(kl, kvOff, kv, kT, 0, n, hs);
            for (int r0 = 0; r0 < n; r0 += CAUSAL_BLOCK) {
                int r1 = Math.min(n, r0 + CAUSAL_BLOCK);
                Kernels.gemm(al, s0 + r0 * n, n, ql, r0 * d + h * hs, d, 1, kT, 0, n, r1 - r0, hs, r1, false);
            }
            for (int t = 0; t < n; t++) {
                int row = s0 + t * n;
                for (int u = 0; u <= t; u++) {
                    al[row + u] /= sqrtHs;
                }
                softmax(al, row, t + 1);
                Arrays.fill(al, row + t + 1, row + n, 0f);
                if (dropping) {
                    System.arraycopy(al, row, ad, row, n);
                    dropout.apply(ad, row, t + 1, Dropout.ATTENTION, layer, row);
                }
            }
            for (int r0 = 0; r0 < n; r0 += CAUSAL_BLOCK) {
                int r1 = Math.min(n, r0 + CAUSAL_BLOCK);
                Kernels.gemm(out, r0 * d + h * hs, d, ad, s0 + r0 * n, n, 1, vl, kvOff, kv, r1 - r0, r1, hs, false);
            }
        }
    }

    private static void softmax(float[] a, int off, int len) {
        float max = a[off];
        for (int i = 1; i < len; i++) {
            max = Math.max(max, a[off + i]);
        }
        float sum = 0f;
        for (int i = 0; i < len; i++) {
            a[off + i] = (float) Math.exp(a[off + i] - max);
            sum += a[off + i];
        }
        for (int i = 0; i < len; i++) {
            a[off + i] /= sum;
        }
    }

    /**
     * Cross-entropy of row t against {@code target}; when {@code scale} is not 0, overwrites the
     * row's logits with {@code scale × (softmax − onehot)}, the gradient of the loss.
     */
    private double crossEntropy(int t, int target, float scale) {
        int vocab = l.vocab, off = t * vocab;
        float max = logits[off];
        for (int i = 1; i < vocab; i++) {
            max = Math.max(max, logits[off + i]);
        }
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            sum += Math.exp(logits[off + i] - max);
        }
        double loss = Math.log(sum) + max - logits[off + target];
        if (scale != 0f) {
            for (int i = 0; i < vocab; i++) {
                logits[off + i] = (float) (Math.exp(logits[off + i] - max) / sum) * scale;
            }
            logits[off + target] -= scale;
        }
        return loss;
    }

    // ---------------------------------------------------------------- backward

    private void backward(int[] tokens, int from, int n) {
        float[] p = model.params;
        int d = l.dim, kv = l.kvDim, hd = l.hidden;
        float[] dlogits = logits;
        // classifier and final norm
        Kernels.backwardWeight(grad, l.classifier, dlogits, 0, xnF, 0, n, d, l.vocab);
        Arrays.fill(dxn, 0, n * d, 0f);
        Kernels.backwardInput(dxn, 0, dlogits, 0, p, l.classifier, n, d, l.vocab);
        Arrays.fill(dx, 0, n * d, 0f);
        rmsnormBackward(dx, dxn, x[l.layers], p, l.rmsFinal, rF, n);

        for (int layer = l.layers - 1; layer >= 0; layer--) {
            // feed-forward: x_out = mid + dropout(w2 · (silu(w1 · xn2) * (w3 · xn2)))
            float[] dOut = branchGradient(Dropout.FFN_OUT, layer, n);
            Kernels.backwardWeight(grad, l.w2(layer), dOut, 0, g[layer], 0, n, hd, d);
            Arrays.fill(dg, 0, n * hd, 0f);
            Kernels.backwardInput(dg, 0, dOut, 0, p, l.w2(layer), n, hd, d);
            float[] a = h1[layer], b = h3[layer];
            for (int i = 0; i < n * hd; i++) {
                float sig = 1.0f / (1.0f + (float) Math.exp(-a[i]));
                dh3[i] = dg[i] * a[i] * sig;
                dh1[i] = dg[i] * b[i] * sig * (1f + a[i] * (1f - sig));
            }
            Kernels.backwardWeight(grad, l.w1(layer), dh1, 0, xn2[layer], 0, n, d, hd);
            Kernels.backwardWeight(grad, l.w3(layer), dh3, 0, xn2[layer], 0, n, d, hd);
            Arrays.fill(dxn, 0, n * d, 0f);
            Kernels.backwardInput(dxn, 0, dh1, 0, p, l.w1(layer), n, d, hd);
            Kernels.backwardInput(dxn, 0, dh3, 0, p, l.w3(layer), n, d, hd);
            rmsnormBackward(dx, dxn, xMid[layer], p, l.rmsFfn(layer), r2[layer], n);

            // attention: mid = x + dropout(wo · attention(rope(wq·xn1), rope(wk·xn1), wv·xn1))
            float[] dMid = branchGradient(Dropout.ATTENTION_OUT, layer, n);
            Kernels.backwardWeight(grad, l.wo(layer), dMid, 0, ao[layer], 0, n, d, d);
            Arrays.fill(dao, 0, n * d, 0f);
            Kernels.backwardInput(dao, 0, dMid, 0, p, l.wo(layer), n, d, d);
            attentionBackward(layer, n);
            rope(dq, d, n, -1f);
            rope(dk, kv, n, -1f);
            Kernels.backwardWeight(grad, l.wq(layer), dq, 0, xn1[layer], 0, n, d, d);
            Kernels.backwardWeight(grad, l.wk(layer), dk, 0, xn1[layer], 0, n, d, kv);
            Kernels.backwardWeight(grad, l.wv(layer), dv, 0, xn1[layer], 0, n, d, kv);
            Arrays.fill(dxn, 0, n * d, 0f);
            Kernels.backwardInput(dxn, 0, dq, 0, p, l.wq(layer), n, d, d);
            Kernels.backwardInput(dxn, 0, dk, 0, p, l.wk(layer), n, d, kv);
            Kernels.backwardInput(dxn, 0, dv, 0, p, l.wv(layer), n, d, kv);
            rmsnormBackward(dx, dxn, x[layer], p, l.rmsAtt(layer), r1[layer], n);
        }
        if (dropping) {
            dropout.apply(dx, 0, n * d, Dropout.EMBEDDING, 0, 0);
        }
        for (int t = 0; t < n; t++) {
            Kernels.axpy(grad, l.tokenEmbedding + tokens[from + t] * d, 1f, dx, t * d, d);
        }
    }

    /**
     * The gradient reaching a residual branch's output from {@link #dx}: dx itself, or with
     * dropout dx masked as the branch's output was.
     */
    private float[] branchGradient(int site, int layer, int n) {
        if (!dropping) {
            return dx;
        }
        System.arraycopy(dx, 0, dBranch, 0, n * l.dim);
        dropout.apply(dBranch, 0, n * l.dim, site, layer, 0);
        return dBranch;
    }

    /**
     * For {@code y = w * (r * x)} with {@code r = 1/sqrt(mean(x²) + eps)}: adds the input gradient
     * to {@code dx} and the weight gradient to {@link #grad}.
     */
    private void rmsnormBackward(float[] dxOut, float[] dy, float[] in, float[] p, int wOff, float[] inverseRms, int n) {
        int d = l.dim;
        for (int t = 0; t < n; t++) {
            int row = t * d;
            float r = inverseRms[t];
            float dot = 0f;
            for (int j = 0; j < d; j++) {
                dot += dy[row + j] * p[wOff + j] * in[row + j];
                grad[wOff + j] += dy[row + j] * r * in[row + j];
            }
            float c = r * r * r * dot / d;
            for (int j = 0; j < d; j++) {
                dxOut[row + j] += r * p[wOff + j] * dy[row + j] - c * in[row + j];
            }
        }
    }

    /**
     * From {@link #dao}, writes dq, dk and dv (before RoPE's inverse rotation). Blocked like the
     * forward pass: query rows [r0, r1) see keys below r1, and keys [r0, r1) are seen by queries
     * from r0 on.
     */
    private void attentionBackward(int layer, int n) {
        int hs = l.headSize, d = l.dim, kv = l.kvDim, kvMul = l.heads / l.kvHeads;
        float scale = 1.0f / (float) Math.sqrt(hs);
        float[] ql = q[layer], kl = k[layer], vl = v[layer], al = att[layer];
        float[] ad = dropping ? attDropped[layer] : al;
        Arrays.fill(dk, 0, n * kv, 0f);
        Arrays.fill(dv, 0, n * kv, 0f);
        for (int h = 0; h < l.heads; h++) {
            int kvOff = (h / kvMul) * hs, s0 = h * n * n;
            // dP = dO Vᵀ ;  dV += Pᵀ dO
            Kernels.transpose(vl, kvOff, kv, vT, 0, n, hs);
            for (int r0 = 0; r0 < n; r0 += CAUSAL_BLOCK) {
                int r1 = Math.min(n, r0 + CAUSAL_BLOCK);
                Kernels.gemm(dS, r0 * n, n, dao, r0 * d + h * hs, d, 1, vT, 0, n, r1 - r0, hs, r1, false);
                Kernels.gemm(dv, r0 * kv + kvOff, kv, ad, s0 + r0 + r0 * n, 1, n, dao, r0 * d + h * hs, d,
                        r1 - r0, n - r0, hs, true);
            }
            // dropout backward, then softmax backward with the 1/sqrt(head_size) of the scores folded in
            for (int t = 0; t < n; t++) {
                int row = t * n, pRow = s0 + t * n;
                if (dropping) {
                    dropout.apply(dS, row, t + 1, Dropout.ATTENTION, layer, pRow);
                }
                float dot = 0f;
                for (int u = 0; u <= t; u++) {
                    dot += al[pRow + u] * dS[row + u];
                }
                for (int u = 0; u <= t; u++) {
                    dS[row + u] = al[pRow + u] * (dS[row + u] - dot) * scale;
                }
                Arrays.fill(dS, row + t + 1, row + n, 0f);
            }
            // dQ = dS K ;  dK += dSᵀ Q
            for (int r0 = 0; r0 < n; r0 += CAUSAL_BLOCK) {
                int r1 = Math.min(n, r0 + CAUSAL_BLOCK);
                Kernels.gemm(dq, r0 * d + h * hs, d, dS, r0 * n, n, 1, kl, kvOff, kv, r1 - r0, r1, hs, false);
                Kernels.gemm(dk, r0 * kv + kvOff, kv, dS, r0 + r0 * n, 1, n, ql, r0 * d + h * hs, d,
                        r1 - r0, n - r0, hs, true);
            }
        }
    }
}
