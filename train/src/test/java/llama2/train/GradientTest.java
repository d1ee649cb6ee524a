package llama2.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

import llama2.engine.Config;

/** The hand-written backward pass against central finite differences of a double-precision forward. */
class GradientTest {

    static Model tinyModel(boolean shared, long seed) {
        // two layers, grouped-query attention (4 heads share 2 key/value heads), odd sizes
        Config config = new Config(16, 24, 2, 4, 2, 19, 40, shared).validate("test"); // 40: two attention blocks
        ParameterLayout layout = new ParameterLayout(config);
        float[] params = layout.initialise(new Rng(seed));
        // larger-than-init weights and non-trivial norm gains make every term of the gradient matter
        Rng rng = new Rng(seed + 1);
        for (int i = 0; i < params.length; i++) {
            params[i] = params[i] * 10 + (float) (0.1 * rng.nextGaussian());
        }
        return new Model(layout, params);
    }

    static int[] tokens(int count, int vocab, long seed) {
        Rng rng = new Rng(seed);
        int[] t = new int[count];
        for (int i = 0; i < count; i++) {
            t[i] = rng.nextInt(vocab);
        }
        return t;
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void everyTensorsGradientMatchesFiniteDifferences(boolean shared) {
        checkGradients(tinyModel(shared, 7), 0f);
    }

    /** The masks are fixed by the window's seed, so the loss is a smooth function of the weights. */
    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void withDropoutEveryTensorsGradientMatchesFiniteDifferences(boolean shared) {
        checkGradients(tinyModel(shared, 5), 0.25f);
    }

    private static void checkGradients(Model model, float dropoutRate) {
        ParameterLayout l = model.layout;
        int n = l.seqLen;
        int[] tokens = tokens(n + 1, l.vocab, 11);
        long dropoutSeed = Dropout.windowSeed(99, 3, 1);
        Pass pass = new Pass(model, dropoutRate);
        pass.clearGradients();
        double trainingLoss = pass.forwardBackward(tokens, 0, n, 1f, dropoutSeed);

        double[] p = new double[l.size];
        for (int i = 0; i < p.length; i++) {
            p[i] = model.params[i];
        }
        Dropout dropout = null;
        if (dropoutRate > 0) {
            dropout = new Dropout(dropoutRate);
            dropout.reseed(dropoutSeed);
            double plain = new DoubleReference(l, p).loss(tokens, n);
            assertEquals(plain, pass.loss(tokens, 0, n), 1e-6 * plain, "without dropout at evaluation");
            assertTrue(Math.abs(plain - trainingLoss) > 1e-3 * plain, "dropout changes the training loss");
        }
        DoubleReference reference = new DoubleReference(l, p, dropout);
        double expected = reference.loss(tokens, n);
        assertEquals(expected, trainingLoss, 1e-6 * expected, "forward loss (float vs double)");

        double h = 1e-5;
        for (ParameterLayout.Tensor tensor : l.tensors()) {
            double diff2 = 0, norm2 = 0;
            for (int i = tensor.offset(); i < tensor.offset() + tensor.length(); i++) {
                double saved = p[i];
                p[i] = saved + h;
                double plus = reference.loss(tokens, n);
                p[i] = saved - h;
                double minus = reference.loss(tokens, n);
                p[i] = saved;
                double numeric = (plus - minus) / (2 * h);
                double analytic = pass.grad[i];
                diff2 += (numeric - analytic) * (numeric - analytic);
                norm2 += numeric * numeric;
            }
            double relative = Math.sqrt(diff2 / norm2);
            assertTrue(norm2 > 0, tensor.name() + " has no gradient at all");
            assertTrue(relative < 1e-3, tensor.name() + ": relative error " + relative);
        }
    }

    @Test
    void gradientsOfSeveralWindowsAccumulate() {
        Model model = tinyModel(true, 3);
        int n = model.layout.seqLen;
        int[] a = tokens(n + 1, model.layout.vocab, 1), b = tokens(n + 1, model.layout.vocab, 2);
        Pass separate = new Pass(model), together = new Pass(model);
        separate.clearGradients();
        separate.forwardBackward(a, 0, n, 1f, 0);
        float[] ga = separate.grad.clone();
        separate.clearGradients();
        separate.forwardBackward(b, 0, n, 1f, 0);
        together.clearGradients();
        together.forwardBackward(a, 0, n, 1f, 0);
        together.forwardBackward(b, 0, n, 1f, 0);
        float[] sum = new float[ga.length];
        for (int i = 0; i < sum.length; i++) {
            sum[i] = ga[i] + separate.grad[i];
        }
        // the two orders of summation round differently, by float ulps of the largest summands
        float largest = 0;
        for (float g : sum) {
            largest = Math.max(largest, Math.abs(g));
        }
        for (int i = 0; i < sum.length; i++) {
            assertEquals(sum[i], together.grad[i], 1e-6 * largest, "gradient " + i);
        }
    }
}
