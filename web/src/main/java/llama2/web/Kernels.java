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
 * BigInt, so there they stay as they are. The same holds for each worker's slice of a model
 * split across workers.
 */
final class Kernels {
    private Kernels() {
    }

    /** A {@link CheckpointLoader} (same arguments) that gives this build's matrices. */
    static CheckpointLoader loader(long size, String source, boolean quantize) {
        return loader(size, source, quantize, 0, 1);
    }

    /** As above, keeping only shard {@code shard} of {@code shards} of each matrix (a worker's slice). */
    static CheckpointLoader loader(long size, String source, boolean quantize, int shard, int shards) {
        CheckpointLoader loader = new CheckpointLoader(size, source, quantize, shard, shards);
        return webAssembly() ? loader.packingQuantized() : loader;
    }

    /** True in the WebAssembly GC build: TeaVM replaces this method's body there. */
    @PlatformMarker(Platforms.WEBASSEMBLY_GC)
    private static boolean webAssembly() {
        return false;
    }
}
