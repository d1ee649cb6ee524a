package llama2.web;

import llama2.engine.CheckpointLoader;
import llama2.engine.PackedQuantizedMatrix;
import org.teavm.interop.PlatformMarker;
import org.teavm.interop.Platforms;

/**
 * The engine's matrices that run fastest where this was compiled to. WebAssembly multiplies
 * 64-bit integers natively, so there Q8_0 matrices are read straight into
 * {@link PackedQuantizedMatrix} (two int8 products per multiply, the same bits), row by row as
 * the file arrives, never beside an unpacked copy; TeaVM's JavaScript keeps {@code long} in
 * BigInt, so there they stay as they are. (A model split across workers keeps
 * {@link llama2.engine.QuantizedMatrix} slices, whatever the build.)
 */
final class Kernels {
    private Kernels() {
    }

    /** A {@link CheckpointLoader} (same arguments) that gives this build's matrices. */
    static CheckpointLoader loader(long size, String source, boolean quantize) {
        CheckpointLoader loader = new CheckpointLoader(size, source, quantize);
        return webAssembly() ? loader.packingQuantized() : loader;
    }

    /** True in the WebAssembly GC build: TeaVM replaces this method's body there. */
    @PlatformMarker(Platforms.WEBASSEMBLY_GC)
    private static boolean webAssembly() {
        return false;
    }
}
