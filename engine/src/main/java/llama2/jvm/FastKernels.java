package llama2.jvm;

import llama2.engine.Weights;

/**
 * The CLI's SIMD kernels, when the JVM was started with {@code --add-modules jdk.incubator.vector}
 * (the CLI starts itself so): every matrix of a model swapped for its {@link VectorMatrices}
 * twin, which gives the same bits. Without the module the portable kernels run.
 */
public final class FastKernels {
    /** Whether the vector module is present (then, and only then, VectorMatrices may be loaded). */
    public static final boolean AVAILABLE = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()
            && VectorMatrices.supported();

    private FastKernels() {
    }

    /** {@code weights} with SIMD matrices where available, else {@code weights} itself. */
    public static Weights of(Weights weights) {
        return AVAILABLE ? weights.withMatrices(VectorMatrices::of) : weights;
    }
}
