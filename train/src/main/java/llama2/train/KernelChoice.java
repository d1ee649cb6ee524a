package llama2.train;

import llama2.engine.BadInputException;

/**
 * The {@code --kernels portable|vector} flag of the JVM commands. This is the one class that
 * names {@link VectorKernels}, so that the trainer compiled for the browser (which has no vector
 * API) never reaches it.
 */
final class KernelChoice {
    private KernelChoice() {}

    static final String FLAG = "--kernels";

    static boolean vectorAvailable() {
        return ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
    }

    static String defaultName() {
        return vectorAvailable() ? "vector" : "portable";
    }

    static Kernels.Implementation named(String command, String name) {
        return switch (name) {
            case "portable" -> PortableKernels.ROWS;
            case "vector" -> {
                if (!vectorAvailable()) {
                    throw new BadInputException(command + ": --kernels vector needs java --add-modules jdk.incubator.vector");
                }
                yield VectorKernels.INSTANCE;
            }
            default -> throw new BadInputException(command + ": --kernels expects portable or vector, got '" + name + "'");
        };
    }

    /** Makes every product of this process use the kernels {@code --kernels} names (or the default); returns the name. */
    static String apply(Args a, String command) {
        String name = a.string(FLAG, defaultName());
        Kernels.use(named(command, name));
        return name;
    }
}
