package llama2.web;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import llama2.engine.Exchange;
import org.teavm.jso.JSBody;
import org.teavm.jso.typedarrays.Float32Array;

/**
 * The shards' exchange in the browser: static/shards.js moves the parts between workers. Wasm GC
 * arrays cannot be shared between workers, nor read by JavaScript, so the vector goes through a
 * box in the engine's linear memory that JavaScript sees as a Float32Array: this shard's part is
 * copied in, shards.js copies it out and the others' parts in around it, and they are copied back.
 * Each copy is one loop over the floats (TeaVM's own conversions of a whole array allocate a new
 * typed array and Java array per exchange and cross into JavaScript per 1024 floats: 0.8-1.3 ms
 * of a token, measured with shards.js's timing). Nothing else is allocated in that memory while
 * a model writes, so the Float32Array stays valid from an exchange's start to its end.
 *
 * <p>With shared memory each call waits for the other shards (Atomics.wait, which a worker may do
 * inside a call). With messages nothing may wait: the shards run the forward pass stage by stage
 * ({@link llama2.engine.Transformer#stage}), an exchange only sends this shard's part and the
 * others' arrive later in the box ({@link #complete}); the lead's forward pass, asked for by a
 * step, throws {@link ForwardPending} until its stages ran.
 */
final class WorkerExchange implements Exchange {
    private final boolean lead;
    private final FloatBuffer box; // as long as the longest vector exchanged; each part at its place
    private float[] pending;       // the vector of an exchange still under way (messages)
    private int pendingFrom;       // and this shard's part of it, already in place
    private int pendingTo;

    /** A step needs a forward pass that the shards must first run stage by stage. */
    static final class ForwardPending extends RuntimeException {
        ForwardPending() {
            super("the forward pass runs in stages first", null, false, false);
        }
    }

    /** {@code longest}: the most floats one exchange moves (the model's longest vector). */
    WorkerExchange(boolean lead, int longest) {
        this.lead = lead;
        this.box = ByteBuffer.allocateDirect(4 * longest).order(ByteOrder.nativeOrder()).asFloatBuffer();
    }

    @Override
    public void begin(int token, int pos) {
        if (lead && !begin0(token, pos)) {
            throw new ForwardPending();
        }
    }

    @Override
    public void allGather(float[] v, int from, int to) {
        computed();
        box.clear().position(from);
        box.put(v, from, to - from);
        box.clear();
        if (allGather0(Float32Array.fromJavaBuffer(box), from, to, v.length)) {
            copyOthers(v, from, to);
            copied();
        } else {
            pending = v;   // messages: the others' parts are on their way
            pendingFrom = from;
            pendingTo = to;
        }
    }

    /** True while an exchange waits for {@link #complete}. */
    boolean waiting() {
        return pending != null;
    }

    /** The other shards' parts of the exchange under way arrived in the box. */
    void complete() {
        float[] target = pending;
        pending = null;
        copyOthers(target, pendingFrom, pendingTo);
    }

    /** The other shards' parts from the box into {@code v}; this shard's {@code [from, to)} is there already. */
    private void copyOthers(float[] v, int from, int to) {
        box.clear();
        box.get(v, 0, from);
        box.position(to);
        box.get(v, to, v.length - to);
    }

    /** Where the time goes (shards.js): the engine computed until now; then it copied until now. */
    @JSBody(script = "self.llama2Shards.computed();")
    private static native void computed();

    @JSBody(script = "self.llama2Shards.copied();")
    private static native void copied();

    /** False when the forward pass must run in stages first (messages). */
    @JSBody(params = {"token", "pos"}, script = "return self.llama2Shards.begin(token, pos);")
    private static native boolean begin0(int token, int pos);

    /** True once the box holds every shard's part (shared memory); false if they arrive later (messages). */
    @JSBody(params = {"box", "from", "to", "length"}, script = "return self.llama2Shards.allGather(box, from, to, length);")
    private static native boolean allGather0(Float32Array box, int from, int to, int length);
}
