package llama2.web;

import java.util.Arrays;
import llama2.engine.Exchange;
import org.teavm.jso.JSBody;
import org.teavm.jso.typedarrays.Float32Array;

/**
 * The shards' exchange in the browser: static/shards.js moves the parts between workers (shared
 * memory, or messages) and hands back the whole vector. Wasm GC arrays cannot be shared between
 * workers, so each part is copied out and the whole copied back in.
 */
final class WorkerExchange implements Exchange {
    private final boolean lead;

    WorkerExchange(boolean lead) {
        this.lead = lead;
    }

    @Override
    public void begin(int token, int pos) {
        if (lead) {
            begin0(token, pos);
        }
    }

    @Override
    public void allGather(float[] v, int from, int to) {
        Float32Array whole = allGather0(Float32Array.copyFromJavaArray(Arrays.copyOfRange(v, from, to)), from, v.length);
        float[] all = whole.copyToJavaArray();
        System.arraycopy(all, 0, v, 0, v.length);
    }

    @JSBody(params = {"token", "pos"}, script = "self.llama2Shards.begin(token, pos);")
    private static native void begin0(int token, int pos);

    @JSBody(params = {"part", "from", "length"}, script = "return self.llama2Shards.allGather(part, from, length);")
    private static native Float32Array allGather0(Float32Array part, int from, int length);
}
