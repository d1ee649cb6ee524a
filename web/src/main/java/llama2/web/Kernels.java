package llama2.web;

import llama2.engine.Checkpoint;
import llama2.engine.PackedQuantizedMatrix;
import org.teavm.interop.PlatformMarker;
import org.teavm.interop.Platforms;

/**
 * The engine's matrices that run fastest where this was compiled to. WebAssembly multiplies
 * 64-bit integers natively, so Q8_0 matrices become {@link PackedQuantizedMatrix} (two int8
 * products per multiply, the same bits); TeaVM's JavaScript keeps {@code long} in BigInt, so
 * there they stay as they are.
 */
final class Kernels {
    private Kernels() {
    }

    static Checkpoint of(Checkpoint checkpoint) {
        if (!webAssembly()) {
            return checkpoint;
        }
        return new Checkpoint(checkpoint.version(), checkpoint.groupSize(),
                checkpoint.weights().withMatrices(PackedQuantizedMatrix::of));
    }

    /** True in the WebAssembly GC build: TeaVM replaces this method's body there. */
    @PlatformMarker(Platforms.WEBASSEMBLY_GC)
    private static boolean webAssembly() {
        return false;
    }
}
