package llama2.web;

import java.util.Arrays;
import llama2.engine.Exchange;
import org.teavm.jso.JSBody;
import org.teavm.jso.typedarrays.Float32Array;

/**
 * The shards' exchange in the browser: static/shards.js moves the parts between workers and hands
 * back the whole vector. Wasm GC arrays cannot be shared between workers, so each part is copied
 * out and the whole copied back in.
 *
 * <p>With shared memory each call waits for the other shards (Atomics.wait, which a worker may do
 * inside a call). With messages nothing may wait: the shards run the forward pass stage by stage
 * ({@link llama2.engine.Transformer#stage}), an exchange only sends this shard's part and the
 * whole vector arrives later through {@link #complete}; the lead's forward pass, asked for by a
 * step, throws {@link ForwardPending} until its stages ran.
 */
final class WorkerExchange implements Exchange {
    private final boolean lead;
    private float[] pending;   // the vector of an exchange still under way (messages)
    private int pendingFrom;   // and this shard's part of it, already in place
    private int pendingTo;

    /** A step needs a forward pass that the shards must first run stage by stage. */
    static final class ForwardPending extends RuntimeException {
        ForwardPending() {
            super("the forward pass runs in stages first", null, false, false);
        }
    }

    WorkerExchange(boolean lead) {
        this.lead = lead;
    }

    @Override
    public void begin(int token, int pos) {
        if (lead && !begin0(token, pos)) {
            throw new ForwardPending();
        }
    }

    @Override
    public void allGather(float[] v, int from, int to) {
        Float32Array whole = allGather0(Float32Array.copyFromJavaArray(Arrays.copyOfRange(v, from, to)), from, v.length);
        if (whole == null) {
            pending = v;   // messages: the others' parts are on their way
            pendingFrom = from;
            pendingTo = to;
        } else {
            copyOthers(whole, v, from, to);
        }
    }

    /** True while an exchange waits for {@link #complete}. */
    boolean waiting() {
        return pending != null;
    }

    /** The whole vector of the exchange under way (or just done). */
    void complete(Float32Array whole) {
        float[] target = pending;
        pending = null;
        copyOthers(whole, target, pendingFrom, pendingTo);
    }

    /** The other shards' parts of {@code whole} into {@code v}; this shard's {@code [from, to)} is there already. */
    private static void copyOthers(Float32Array whole, float[] v, int from, int to) {
        if (from > 0) {
            System.arraycopy(subarray(whole, 0, from).copyToJavaArray(), 0, v, 0, from);
        }
        if (to < v.length) {
            System.arraycopy(subarray(whole, to, v.length).copyToJavaArray(), 0, v, to, v.length - to);
        }
    }

    @JSBody(params = {"v", "from", "to"}, script = "return v.subarray(from, to);")
    private static native Float32Array subarray(Float32Array v, int from, int to);

    /** False when the forward pass must run in stages first (messages). */
    @JSBody(params = {"token", "pos"}, script = "return self.llama2Shards.begin(token, pos);")
    private static native boolean begin0(int token, int pos);

    @JSBody(params = {"part", "from", "length"}, script = "return self.llama2Shards.allGather(part, from, length);")
    private static native Float32Array allGather0(Float32Array part, int from, int length);
}
