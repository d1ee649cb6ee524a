package llama2.train;

/**
 * AdamW as PyTorch implements it (what llama2.c's train.py uses): decoupled weight decay applied
 * to the matrices only (not to the RMSNorm gains), bias-corrected first and second moments.
 */
public final class AdamW {
    public final float beta1, beta2, epsilon, weightDecay;
    /** First and second moment estimates, in the parameters' layout. */
    final float[] m, v;
    /** Which parameters decay: true for elements of 2-D tensors. */
    private final boolean[] decays;
    /** Number of updates done so far (the t of the bias correction). */
    long updates;

    public AdamW(ParameterLayout layout, float beta1, float beta2, float weightDecay) {
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.epsilon = 1e-8f;
        this.weightDecay = weightDecay;
        this.m = new float[layout.size];
        this.v = new float[layout.size];
        this.decays = new boolean[layout.size];
        for (ParameterLayout.Tensor t : layout.tensors()) {
            java.util.Arrays.fill(decays, t.offset(), t.offset() + t.length(), t.matrix());
        }
    }

    public void update(float[] params, float[] grad, float lr) {
        updates++;
        double correction1 = 1 - Math.pow(beta1, updates);
        double correction2 = 1 - Math.pow(beta2, updates);
        float stepSize = (float) (lr / correction1);
        float sqrtCorrection2 = (float) Math.sqrt(correction2);
        float decay = 1 - lr * weightDecay;
        for (int i = 0; i < params.length; i++) {
            float g = grad[i];
            if (decays[i]) {
                params[i] *= decay;
            }
            m[i] = beta1 * m[i] + (1 - beta1) * g;
            v[i] = beta2 * v[i] + (1 - beta2) * g * g;
            float denominator = (float) Math.sqrt(v[i]) / sqrtCorrection2 + epsilon;
            params[i] -= stepSize * m[i] / denominator;
        }
    }
}
