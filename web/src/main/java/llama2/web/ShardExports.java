package llama2.web;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import llama2.engine.BadInputException;
import llama2.engine.Checkpoint;
import llama2.engine.CheckpointLoader;
import llama2.engine.Config;
import llama2.engine.ShardRows;
import llama2.engine.Tokenizer;
import llama2.engine.Transformer;
import org.teavm.jso.typedarrays.ArrayBuffer;
import org.teavm.jso.typedarrays.Int8Array;

/**
 * What the shard exports of {@link WorkerExports} do, for a model split into shards, one per
 * browser worker (static/shards.js drives them): every shard loads only its rows of the file as its bytes stream past, then the lead
 * (shard 0, in worker.js) writes stories through {@link WorkerExports} as usual while each other
 * shard follows its forward passes ({@link #shardForward}). They exchange through
 * {@link WorkerExchange}. Like {@link WorkerExports}, each call returns one JSON object, an
 * {@code {"error"}} on failure.
 */
public final class ShardExports {
    private static CheckpointLoader loader;
    private static int index;
    private static int shards;
    private static long modelBytes;
    private static Transformer follower;
    private static Transformer part;           // this worker's part of the model: the lead's or a follower's
    private static WorkerExchange exchange;

    private ShardExports() {
    }

    /**
     * How many shards the model whose file starts with {@code head} (its first 256 bytes, or all
     * of a shorter file) can use, at most {@code wanted}, and the longest vector they exchange:
     * {@code {"shards", "longest"}}.
     */
    static String shardCount(Int8Array head, double size, String name, int wanted) {
        try {
            Config config = CheckpointLoader.config(littleEndian(head.copyToJavaArray()), (long) size, name);
            return new Json().put("shards", ShardRows.usable(config, wanted)).put("longest", longest(config)).toString();
        } catch (Throwable failure) {
            return WorkerExports.error(failure);
        }
    }

    /** Begins reading this worker's shard of a file of {@code size} bytes; the model before is dropped. */
    static String shardLoadBegin(double size, String name, int shard, int shards, boolean quantize) {
        try {
            follower = null;
            part = null;
            exchange = null;
            WorkerExports.session.unloadModel();
            ShardExports.index = shard;
            ShardExports.shards = shards;
            modelBytes = (long) size;
            loader = Kernels.loader((long) size, name, quantize, shard, shards);
            return "{}";
        } catch (Throwable failure) {
            return WorkerExports.error(failure);
        }
    }

    /**
     * The first {@code length} bytes of the inbox ({@link WorkerExports#modelInbox}), the file's
     * next bytes in order (after any it jumped over): only this shard's rows of them are kept.
     */
    static String shardLoadBytes(int length) {
        try {
            loader.accept(WorkerExports.inbox(length));
            return "{}";
        } catch (Throwable failure) {
            loader = null;
            return WorkerExports.error(failure);
        }
    }

    /**
     * Which bytes of the file this shard needs next: {@code {"skip", "wanted"}}, jump over
     * {@code skip} bytes (other shards' rows; {@link #shardSkip}), then read {@code wanted}
     * ({@link #shardLoadBytes}); then ask again. So a worker reads, from a File, the header and
     * its own rows of each matrix, and none of the others'.
     */
    static String shardWants() {
        try {
            return new Json().put("skip", loader.skippable()).put("wanted", loader.wanted()).toString();
        } catch (Throwable failure) {
            return WorkerExports.error(failure);
        }
    }

    /** Jumps over the next {@code bytes} of the file, as {@link #shardWants} said it may. */
    static String shardSkip(double bytes) {
        try {
            loader.skip((long) bytes);
            return "{}";
        } catch (Throwable failure) {
            loader = null;
            return WorkerExports.error(failure);
        }
    }

    /** A follower's last call of loading: it now follows the lead's forward passes. */
    static String shardFollow() {
        try {
            Checkpoint checkpoint = finish();
            exchange = new WorkerExchange(false, longest(checkpoint.config()));
            follower = new Transformer(checkpoint.weights(), index, shards, exchange);
            part = follower;
            return "{}";
        } catch (Throwable failure) {
            return WorkerExports.error(failure);
        }
    }

    /**
     * The lead's last call of loading, with the tokenizer: returns the model's facts as
     * {@link WorkerExports#load} does, and {@code shards}.
     */
    static String shardLead(ArrayBuffer tokenizer, String tokenizerName) {
        try {
            boolean quantizedOnLoad = loader != null && loader.quantizes();
            Checkpoint checkpoint = finish();
            Tokenizer vocabulary = Tokenizer.read(littleEndian(Int8Array.create(tokenizer).copyToJavaArray()),
                    checkpoint.config().vocabSize(), tokenizerName);
            exchange = new WorkerExchange(true, longest(checkpoint.config()));
            Transformer lead = shards == 1 ? new Transformer(checkpoint.weights())
                    : new Transformer(checkpoint.weights(), 0, shards, exchange);
            part = lead;
            WorkerExports.session.use(checkpoint, vocabulary, lead, modelBytes, shards, quantizedOnLoad);
            return WorkerExports.session.describe();
        } catch (Throwable failure) {
            return WorkerExports.error(failure);
        }
    }

    /** A follower's part of one forward pass, which the lead began. */
    static String shardForward(int token, int pos) {
        try {
            if (follower == null) {
                throw new BadInputException("This shard holds no model.");
            }
            follower.forward(token, pos);
            return "{}";
        } catch (Throwable failure) {
            return WorkerExports.error(failure);
        }
    }

    /**
     * Stage {@code stage} of this shard's forward pass (messages: see {@link WorkerExchange}):
     * {@code {"stages", "waiting"}}, waiting true when the stage ended with an exchange whose
     * other parts must arrive ({@link #shardReceive}) before the next stage.
     */
    static String shardStage(int token, int pos, int stage) {
        try {
            if (part == null) {
                throw new BadInputException("This worker holds no model.");
            }
            part.stage(token, pos, stage);
            return new Json().put("stages", part.stages()).put("waiting", exchange.waiting()).toString();
        } catch (Throwable failure) {
            return WorkerExports.error(failure);
        }
    }

    /** The other shards' parts of the exchange the last stage began are in the exchange's box. */
    static String shardReceive() {
        try {
            exchange.complete();
            return "{}";
        } catch (Throwable failure) {
            return WorkerExports.error(failure);
        }
    }

    /** The most floats one exchange moves: the model's longest vector. */
    private static int longest(Config config) {
        return Math.max(config.vocabSize(), Math.max(config.dim(), config.hiddenDim()));
    }

    private static Checkpoint finish() {
        if (loader == null) {
            throw new BadInputException("No model is being loaded.");
        }
        Checkpoint checkpoint = loader.finish();
        loader = null;
        return checkpoint;
    }

    private static ByteBuffer littleEndian(byte[] bytes) {
        return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }
}
