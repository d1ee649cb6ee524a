package llama2.train;

import java.util.Arrays;

import llama2.train.Kernels.View;

/**
 * Forward and backward passes of the model over windows of tokens, on one thread.
 *
 * <p>A pass owns everything the passes write: the activations the backward pass needs, scratch
 * space, and its own gradient array (same layout as the parameters) into which it accumulates the
 * gradients of all the windows it is given. Passes share only the read-only {@link Model}, so
 * they run in parallel without locks; the trainer sums their gradients afterwards in a fixed order.
 * Nothing is allocated per step.
 *
 * <p>Laid out like llm.c's {@code train_gpt2.c}: {@link #forward} and {@link #backward} show the
 * data flow through the layers; below them each operation's forward sits beside its backward.
 * Activations are flat {@code float[]}s, row-major {@code [n][width]}, one per layer where the
 * backward pass needs them.
 */
public final class Pass {
    private final Model model;
    private final ParameterLayout layout;
    public final float[] grad;

    // activations kept for the backward pass, per layer
    private final float[][] x;           // residual stream entering each layer; x[layers] leaves the last
    private final float[][] xnAtt, q, k, v, att, attOut, xMid, xnFfn, h1, h3, gated;
    private final float[][] invRmsAtt, invRmsFfn; // 1/rms of each row, for RMSNorm's backward
    private final float[] xnFinal, invRmsFinal, logits;

    // gradient scratch, reused by every layer
    private final float[] dx, dxn, dq, dk, dv, dAttOut, dh1, dh3, dGated;
    private final float[] kT, vT, dScores;
    /** One row's {@code exp(logit − max)}, computed once for the loss and reused for its gradient. */
    private final double[] exps;

    /** Null when training without dropout; {@link #dropping} says whether the current pass uses it. */
    private final Dropout dropout;
    private boolean dropping;
    /** With dropout: the attention weights after it ({@link #att} keeps them before), and a masked gradient. */
    private final float[][] attDropped;
    private final float[] dBranch;

    public Pass(Model model) {
        this(model, 0f);
    }

    /** A pass whose {@link #forwardBackward} applies dropout at this rate (0: none). */
    public Pass(Model model, float dropoutRate) {
        this.model = model;
        this.layout = model.layout;
        this.dropout = dropoutRate > 0 ? new Dropout(dropoutRate) : null;
        int n = layout.seqLen, d = layout.dim, kv = layout.kvDim, hidden = layout.hidden, layers = layout.layers;
        grad = new float[layout.size];
        x = new float[layers + 1][n * d];
        xnAtt = new float[layers][n * d];
        q = new float[layers][n * d];
        k = new float[layers][n * kv];
        v = new float[layers][n * kv];
        att = new float[layers][layout.heads * n * n];
        attOut = new float[layers][n * d];
        xMid = new float[layers][n * d];
        xnFfn = new float[layers][n * d];
        h1 = new float[layers][n * hidden];
        h3 = new float[layers][n * hidden];
        gated = new float[layers][n * hidden];
        invRmsAtt = new float[layers][n];
        invRmsFfn = new float[layers][n];
        xnFinal = new float[n * d];
        invRmsFinal = new float[n];
        logits = new float[n * layout.vocab];
        dx = new float[n * d];
        dxn = new float[n * d];
        dq = new float[n * d];
        dk = new float[n * kv];
        dv = new float[n * kv];
        dAttOut = new float[n * d];
        dh1 = new float[n * hidden];
        dh3 = new float[n * hidden];
        dGated = new float[n * hidden];
        kT = new float[layout.headSize * n];
        vT = new float[layout.headSize * n];
        dScores = new float[n * n];
        exps = new double[layout.vocab];
        attDropped = dropout == null ? att : new float[layers][layout.heads * n * n];
        dBranch = dropout == null ? null : new float[n * d];
    }

    public void clearGradients() {
        Arrays.fill(grad, 0f);
    }

    /**
     * Runs the model over {@code tokens[from .. from+n)} and returns the logits {@code [n][vocab]}
     * (a view of this pass's buffer, valid until the next call).
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

    // ------------------------------------------------------------------- the data flow

    private void forward(int[] tokens, int from, int n) {
        if (n > layout.seqLen) {
            throw new IllegalArgumentException("window of " + n + " tokens exceeds seq_len " + layout.seqLen);
        }
        int d = layout.dim, kv = layout.kvDim, hidden = layout.hidden;
        encoder(x[0], tokens, from, n);
        for (int l = 0; l < layout.layers; l++) {
            // attention block: mid = x + dropout(wo · attention(rope(wq·xn), rope(wk·xn), wv·xn)), xn = rmsnorm(x)
            rmsnorm(xnAtt[l], x[l], layout.rmsAtt(l), invRmsAtt[l], n);
            linear(q[l], xnAtt[l], layout.wq(l), n, d, d);
            linear(k[l], xnAtt[l], layout.wk(l), n, d, kv);
            linear(v[l], xnAtt[l], layout.wv(l), n, d, kv);
            rope(q[l], d, n);
            rope(k[l], kv, n);
            attention(l, n);
            linear(xMid[l], attOut[l], layout.wo(l), n, d, d);
            residual(xMid[l], x[l], Dropout.ATTENTION_OUT, l, n);
            // feed-forward block: out = mid + dropout(w2 · (silu(w1·xn) * (w3·xn))), xn = rmsnorm(mid)
            rmsnorm(xnFfn[l], xMid[l], layout.rmsFfn(l), invRmsFfn[l], n);
            linear(h1[l], xnFfn[l], layout.w1(l), n, d, hidden);
            linear(h3[l], xnFfn[l], layout.w3(l), n, d, hidden);
            swiglu(gated[l], h1[l], h3[l], n * hidden);
            linear(x[l + 1], gated[l], layout.w2(l), n, hidden, d);
            residual(x[l + 1], xMid[l], Dropout.FFN_OUT, l, n);
        }
        rmsnorm(xnFinal, x[layout.layers], layout.rmsFinal, invRmsFinal, n);
        linear(logits, xnFinal, layout.classifier, n, d, layout.vocab);
    }

    /** From the logits' gradient (which {@link #crossEntropy} left in {@link #logits}) to {@link #grad}. */
    private void backward(int[] tokens, int from, int n) {
        int d = layout.dim, kv = layout.kvDim, hidden = layout.hidden;
        Arrays.fill(dxn, 0, n * d, 0f);
        linearBackward(dxn, logits, xnFinal, layout.classifier, n, d, layout.vocab);
        Arrays.fill(dx, 0, n * d, 0f);
        rmsnormBackward(dx, dxn, x[layout.layers], layout.rmsFinal, invRmsFinal, n);
        // dx is now the gradient of the residual stream; each block adds its branch's share to it
        for (int l = layout.layers - 1; l >= 0; l--) {
            float[] dOut = residualBackward(Dropout.FFN_OUT, l, n);
            Arrays.fill(dGated, 0, n * hidden, 0f);
            linearBackward(dGated, dOut, gated[l], layout.w2(l), n, hidden, d);
            swigluBackward(dh1, dh3, dGated, h1[l], h3[l], n * hidden);
            Arrays.fill(dxn, 0, n * d, 0f);
            linearBackward(dxn, dh1, xnFfn[l], layout.w1(l), n, d, hidden);
            linearBackward(dxn, dh3, xnFfn[l], layout.w3(l), n, d, hidden);
            rmsnormBackward(dx, dxn, xMid[l], layout.rmsFfn(l), invRmsFfn[l], n);

            float[] dMid = residualBackward(Dropout.ATTENTION_OUT, l, n);
            Arrays.fill(dAttOut, 0, n * d, 0f);
            linearBackward(dAttOut, dMid, attOut[l], layout.wo(l), n, d, d);
            attentionBackward(l, n);
            ropeBackward(dq, d, n);
            ropeBackward(dk, kv, n);
            Arrays.fill(dxn, 0, n * d, 0f);
            linearBackward(dxn, dq, xnAtt[l], layout.wq(l), n, d, d);
            linearBackward(dxn, dk, xnAtt[l], layout.wk(l), n, d, kv);
            linearBackward(dxn, dv, xnAtt[l], layout.wv(l), n, d, kv);
            rmsnormBackward(dx, dxn, x[l], layout.rmsAtt(l), invRmsAtt[l], n);
        }
        encoderBackward(dx, tokens, from, n);
    }

    // ------------------------------------------------------------------- encoder

    /** Each token's embedding row, then (training with dropout) the embedding's mask. */
    private void encoder(float[] out, int[] tokens, int from, int n) {
        int d = layout.dim;
        for (int t = 0; t < n; t++) {
            System.arraycopy(model.params, layout.tokenEmbedding + tokens[from + t] * d, out, t * d, d);
        }
        if (dropping) {
            dropout.apply(out, 0, n * d, Dropout.EMBEDDING, 0, 0);
        }
    }

    /** Adds each position's (masked) gradient to its token's embedding row; consumes dOut. */
    private void encoderBackward(float[] dOut, int[] tokens, int from, int n) {
        int d = layout.dim;
        if (dropping) {
            dropout.apply(dOut, 0, n * d, Dropout.EMBEDDING, 0, 0);
        }
        for (int t = 0; t < n; t++) {
            Kernels.axpy(grad, layout.tokenEmbedding + tokens[from + t] * d, 1f, dOut, t * d, d);
        }
    }

    // ------------------------------------------------------------------- rmsnorm

    /** RMSNorm of each of the n rows, in run.c's arithmetic; keeps 1/rms per row. */
    private void rmsnorm(float[] out, float[] in, int weight, float[] inverseRms, int n) {
        float[] p = model.params;
        int d = layout.dim;
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
                out[row + j] = p[weight + j] * (ss * in[row + j]);
            }
        }
    }

    /**
     * For {@code y = w * (r * x)} with {@code r = 1/sqrt(mean(x²) + eps)}: adds the input gradient
     * to {@code dIn} and the weight gradient to {@link #grad}.
     */
    private void rmsnormBackward(float[] dIn, float[] dOut, float[] in, int weight, float[] inverseRms, int n) {
        float[] p = model.params;
        int d = layout.dim;
        for (int t = 0; t < n; t++) {
            int row = t * d;
            float r = inverseRms[t];
            float dot = 0f;
            for (int j = 0; j < d; j++) {
                dot += dOut[row + j] * p[weight + j] * in[row + j];
                grad[weight + j] += dOut[row + j] * r * in[row + j];
            }
            float c = r * r * r * dot / d;
            for (int j = 0; j < d; j++) {
                dIn[row + j] += r * p[weight + j] * dOut[row + j] - c * in[row + j];
            }
        }
    }

    // ------------------------------------------------------------------- linear

    /** {@code out [n][outDim] = in [n][inDim] · Wᵀ}, W the {@code [outDim][inDim]} matrix at {@code weight}. */
    private void linear(float[] out, float[] in, int weight, int n, int inDim, int outDim) {
        Kernels.forward(out, in, model.transposed, weight, n, inDim, outDim);
    }

    /** Adds {@code dOut · W} to {@code dIn} and {@code dOutᵀ · in} to W's gradient. */
    private void linearBackward(float[] dIn, float[] dOut, float[] in, int weight, int n, int inDim, int outDim) {
        Kernels.backwardWeight(grad, weight, dOut, in, n, inDim, outDim);
        Kernels.backwardInput(dIn, dOut, model.params, weight, n, inDim, outDim);
    }

    // ------------------------------------------------------------------- rope

    /** Rotates each (even, odd) pair of every row by its position's angle. */
    private void rope(float[] vec, int width, int n) {
        rotate(vec, width, n, 1f);
    }

    /** A rotation's gradient is the inverse rotation of the output's. */
    private void ropeBackward(float[] dVec, int width, int n) {
        rotate(dVec, width, n, -1f);
    }

    private void rotate(float[] vec, int width, int n, float direction) {
        int hs = layout.headSize, half = hs / 2;
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

    // ------------------------------------------------------------------- attention

    /**
     * Attention is computed in blocks of this many query rows: a block only needs the keys up to
     * its last row, which skips most of the masked half of the score matrix.
     */
    private static final int CAUSAL_BLOCK = 32;

    /**
     * Causal multi-head attention with grouped keys/values, per head as two matrix products
     * {@code S = Q Kᵀ / sqrt(head_size)} and {@code O = dropout(softmax(S)) V}; keeps the attention
     * weights. Each block of query rows multiplies only by the keys its rows can see (the rest of
     * its masked part is computed and then zeroed, a small waste that keeps the products in the
     * fast kernel).
     */
    private void attention(int l, int n) {
        int hs = layout.headSize, d = layout.dim, kv = layout.kvDim, kvMul = layout.heads / layout.kvHeads;
        float sqrtHs = (float) Math.sqrt(hs);
        float[] ql = q[l], kl = k[l], vl = v[l], al = att[l], out = attOut[l];
        float[] ad = dropping ? attDropped[l] : al;
        for (int h = 0; h < layout.heads; h++) {
            int kvOff = (h / kvMul) * hs, s0 = h * n * n;
            Kernels.transpose(kl, kvOff, kv, kT, 0, n, hs);
            for (int r0 = 0; r0 < n; r0 += CAUSAL_BLOCK) {
                int rEnd = Math.min(n, r0 + CAUSAL_BLOCK);
                int rows = rEnd - r0;
                Kernels.multiply(new View(al, s0 + r0 * n, rows, rEnd, n), new View(ql, r0 * d + h * hs, rows, hs, d),
                        new View(kT, 0, hs, rEnd, n));
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
                    dropout.apply(ad, row, t + 1, Dropout.ATTENTION, l, row);
                }
            }
            for (int r0 = 0; r0 < n; r0 += CAUSAL_BLOCK) {
                int rEnd = Math.min(n, r0 + CAUSAL_BLOCK);
                int rows = rEnd - r0;
                Kernels.multiply(new View(out, r0 * d + h * hs, rows, hs, d), new View(ad, s0 + r0 * n, rows, rEnd, n),
                        new View(vl, kvOff, rEnd, hs, kv));
            }
        }
    }

    /**
     * From {@link #dAttOut}, writes dq, dk and dv (before RoPE's inverse rotation). Blocked like
     * the forward pass: query rows [r0, rEnd) see keys below rEnd, and keys [r0, rEnd) are seen by
     * queries from r0 on.
     */
    private void attentionBackward(int l, int n) {
        int hs = layout.headSize, d = layout.dim, kv = layout.kvDim, kvMul = layout.heads / layout.kvHeads;
        float scale = 1.0f / (float) Math.sqrt(hs);
        float[] ql = q[l], kl = k[l], vl = v[l], al = att[l];
        float[] ad = dropping ? attDropped[l] : al;
        Arrays.fill(dk, 0, n * kv, 0f);
        Arrays.fill(dv, 0, n * kv, 0f);
        for (int h = 0; h < layout.heads; h++) {
            int kvOff = (h / kvMul) * hs, s0 = h * n * n;
            // dP = dO Vᵀ ;  dV += Pᵀ dO
            Kernels.transpose(vl, kvOff, kv, vT, 0, n, hs);
            for (int r0 = 0; r0 < n; r0 += CAUSAL_BLOCK) {
                int rEnd = Math.min(n, r0 + CAUSAL_BLOCK);
                int rows = rEnd - r0;
                Kernels.multiply(new View(dScores, r0 * n, rows, rEnd, n), new View(dAttOut, r0 * d + h * hs, rows, hs, d),
                        new View(vT, 0, hs, rEnd, n));
                Kernels.multiplyTransposedAdd(new View(dv, r0 * kv + kvOff, rows, hs, kv),
                        new View(ad, s0 + r0 * n + r0, n - r0, rows, n), new View(dAttOut, r0 * d + h * hs, n - r0, hs, d));
            }
            // dropout backward, then softmax backward with the 1/sqrt(head_size) of the scores folded in
            for (int t = 0; t < n; t++) {
                int row = t * n, pRow = s0 + t * n;
                if (dropping) {
                    dropout.apply(dScores, row, t + 1, Dropout.ATTENTION, l, pRow);
                }
                float dot = 0f;
                for (int u = 0; u <= t; u++) {
                    dot += al[pRow + u] * dScores[row + u];
                }
                for (int u = 0; u <= t; u++) {
                    dScores[row + u] = al[pRow + u] * (dScores[row + u] - dot) * scale;
                }
                Arrays.fill(dScores, row + t + 1, row + n, 0f);
            }
            // dQ = dS K ;  dK += dSᵀ Q
            for (int r0 = 0; r0 < n; r0 += CAUSAL_BLOCK) {
                int rEnd = Math.min(n, r0 + CAUSAL_BLOCK);
                int rows = rEnd - r0;
                Kernels.multiply(new View(dq, r0 * d + h * hs, rows, hs, d), new View(dScores, r0 * n, rows, rEnd, n),
                        new View(kl, kvOff, rEnd, hs, kv));
                Kernels.multiplyTransposedAdd(new View(dk, r0 * kv + kvOff, rows, hs, kv),
                        new View(dScores, r0 * n + r0, n - r0, rows, n), new View(ql, r0 * d + h * hs, n - r0, hs, d));
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

    // ------------------------------------------------------------------- residual

    /** {@code out = in + dropout(out)}: a block's branch output joins the residual stream. */
    private void residual(float[] out, float[] in, int site, int l, int n) {
        int len = n * layout.dim;
        if (dropping) {
            dropout.apply(out, 0, len, site, l, 0);
        }
        for (int i = 0; i < len; i++) {
            out[i] = in[i] + out[i];
        }
    }

    /**
     * The gradient reaching a block's branch output from the stream's {@link #dx} (which passes
     * through the addition unchanged): dx itself, or with dropout dx masked as the branch was.
     */
    private float[] residualBackward(int site, int l, int n) {
        if (!dropping) {
            return dx;
        }
        System.arraycopy(dx, 0, dBranch, 0, n * layout.dim);
        dropout.apply(dBranch, 0, n * layout.dim, site, l, 0);
        return dBranch;
    }

    // ------------------------------------------------------------------- swiglu

    /** {@code out = silu(a) * b}, with {@code silu(a) = a · sigmoid(a)}. */
    private static void swiglu(float[] out, float[] a, float[] b, int len) {
        for (int i = 0; i < len; i++) {
            float val = a[i];
            val *= (1.0f / (1.0f + (float) Math.exp(-val)));
            out[i] = val * b[i];
        }
    }

    /** Writes dA and dB from dOut; {@code silu'(a) = sigmoid(a) · (1 + a · (1 − sigmoid(a)))}. */
    private static void swigluBackward(float[] dA, float[] dB, float[] dOut, float[] a, float[] b, int len) {
        for (int i = 0; i < len; i++) {
            float sig = 1.0f / (1.0f + (float) Math.exp(-a[i]));
            dB[i] = dOut[i] * a[i] * sig;
            dA[i] = dOut[i] * b[i] * sig * (1f + a[i] * (1f - sig));
        }
    }

    // ------------------------------------------------------------------- cross-entropy

    /**
     * Cross-entropy of row t against {@code target}; when {@code scale} is not 0, overwrites the
     * row's logits with {@code scale × (softmax − onehot)}, the gradient of the loss.
     */
    private double crossEntropy(int t, int target, float scale) {
        int vocab = layout.vocab, off = t * vocab;
        float max = logits[off];
        for (int i = 1; i < vocab; i++) {
            max = Math.max(max, logits[off + i]);
        }
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            exps[i] = Math.exp(logits[off + i] - max);
            sum += exps[i];
        }
        double loss = Math.log(sum) + max - logits[off + target];
        if (scale != 0f) {
            for (int i = 0; i < vocab; i++) {
                logits[off + i] = (float) (exps[i] / sum) * scale;
            }
            logits[off + target] -= scale;
        }
        return loss;
    }
}
