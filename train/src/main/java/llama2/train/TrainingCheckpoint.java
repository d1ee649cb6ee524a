package llama2.train;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.zip.CRC32;
import java.util.zip.CheckedOutputStream;

import llama2.engine.BadInputException;
import llama2.engine.Config;
import llama2.engine.LittleEndianReader;
import llama2.engine.LittleEndianWriter;
import llama2.io.SafeFiles;

/**
 * A training run frozen between two steps: shape, hyperparameters, step, tokens seen, time spent,
 * the random generator's state, the weights and both AdamW moments. Loading it and training on
 * gives exactly the weights an uninterrupted run would have had.
 *
 * <p>Layout, all little-endian like every file of the project: magic "L2TC", format 2, the config
 * (7 ints and a shared-classifier byte), the fingerprint of the tokenizer the training tokens were
 * made with, the hyperparameters as UTF-8 {@code key=value} lines (length first), step, optimizer
 * updates, tokens seen, seconds of training, RNG state, then params, m and v (count first), and
 * last a CRC32 of everything before it, so a damaged file is refused rather than trained on.
 */
public final class TrainingCheckpoint {
    private static final byte[] MAGIC = {'L', '2', 'T', 'C'};
    private static final int FORMAT = 2;
    /** Format 1 (big-endian header, no checksum) read as a little-endian int. */
    private static final int FORMAT_1 = 0x01000000;

    private TrainingCheckpoint() {}

    /** Saves atomically and durably; a non-finite weight is refused rather than saved. */
    public static void save(Trainer t, double secondsSoFar, long tokenizerId, Path path) {
        WeightsBridge.requireFinite(t.model.params, path.toString());
        SafeFiles.write(path, stream -> write(t, secondsSoFar, tokenizerId, stream));
    }

    /** Writes the checkpoint to a stream (the browser keeps it as bytes); the caller checks the weights are finite. */
    public static void write(Trainer t, double secondsSoFar, long tokenizerId, OutputStream stream) throws IOException {
        Config c = t.model.config();
        CRC32 crc = new CRC32();
        LittleEndianWriter out = new LittleEndianWriter(new CheckedOutputStream(stream, crc));
        out.writeBytes(MAGIC);
        out.writeInt(FORMAT);
        for (int v : new int[] {c.dim(), c.hiddenDim(), c.nLayers(), c.nHeads(), c.nKvHeads(), c.vocabSize(), c.seqLen()}) {
            out.writeInt(v);
        }
        out.writeByte(c.sharedClassifier() ? 1 : 0);
        out.writeLong(tokenizerId);
        byte[] hp = t.hp.serialize().getBytes(StandardCharsets.UTF_8);
        out.writeInt(hp.length);
        out.writeBytes(hp);
        out.writeInt(t.step);
        out.writeLong(t.optimizer.updates);
        out.writeLong(t.tokensSeen);
        out.writeLong(Double.doubleToLongBits(secondsSoFar));
        out.writeLong(t.rng.state());
        for (float[] tensor : new float[][] {t.model.params, t.optimizer.m, t.optimizer.v}) {
            out.writeInt(tensor.length);
            out.writeFloats(tensor);
        }
        out.flush();
        int sum = (int) crc.getValue();
        stream.write(new byte[] {(byte) sum, (byte) (sum >>> 8), (byte) (sum >>> 16), (byte) (sum >>> 24)});
        stream.flush();
    }

    /** What a checkpoint holds, before a trainer is built around it. */
    public record State(Config config, long tokenizerId, Hyperparameters hp, int step, long updates, long tokensSeen,
                        double seconds, long rngState, float[] params, float[] m, float[] v) {

        /** The same state with other hyperparameters (a resumed run may lengthen its schedule). */
        public State with(Hyperparameters other) {
            return new State(config, tokenizerId, other, step, updates, tokensSeen, seconds, rngState, params, m, v);
        }

        /** Builds the trainer, continuing where the checkpoint left off. */
        public Trainer resume(int[] trainingTokens, int threads) {
            return resume(trainingTokens, new Shards(hp.shards(), threads));
        }

        /** Builds the trainer on these shards, continuing where the checkpoint left off. */
        public Trainer resume(int[] trainingTokens, ShardRunner shards) {
            Model model = new Model(new ParameterLayout(config), params);
            Trainer t = new Trainer(model, hp, trainingTokens, shards);
            t.step = step;
            t.optimizer.updates = updates;
            t.tokensSeen = tokensSeen;
            t.previousSeconds = seconds;
            t.rng.setState(rngState);
            System.arraycopy(m, 0, t.optimizer.m, 0, m.length);
            System.arraycopy(v, 0, t.optimizer.v, 0, v.length);
            return t;
        }
    }

    /** Whether the file starts like a training checkpoint (rather than a llama2.c model). */
    public static boolean isOne(Path path) {
        ByteBuffer file = SafeFiles.map(path);
        byte[] start = new byte[Math.min(MAGIC.length, file.remaining())];
        file.get(start);
        return java.util.Arrays.equals(start, MAGIC);
    }

    public static State load(Path path) {
        return read(SafeFiles.map(path), path.toString());
    }

    /** Reads a checkpoint from its bytes; {@code name} names it in messages. */
    public static State read(ByteBuffer file, String name) {
        LittleEndianReader in = new LittleEndianReader(file, name);
        if (!java.util.Arrays.equals(in.readBytes(Math.min(4, (int) in.size()), "magic"), MAGIC)) {
            throw new BadInputException(name + ": not a training checkpoint (made by 'train')");
        }
        int format = in.readInt("format");
        if (format == FORMAT_1) {
            throw new BadInputException(name + ": training checkpoint format 1, from an older trainer; this one reads format "
                    + FORMAT + " (start the run again, or export its weights with the older trainer)");
        }
        if (format != FORMAT) {
            throw new BadInputException(name + ": training checkpoint format " + format + ", expected " + FORMAT);
        }
        CRC32 crc = new CRC32();
        int body = (int) in.size() - 4;
        ByteBuffer checked = file.duplicate().position(0).limit(Math.max(0, body));
        byte[] chunk = new byte[1 << 16]; // a chunk at a time: TeaVM's CRC32 takes arrays only
        while (checked.hasRemaining()) {
            int n = Math.min(chunk.length, checked.remaining());
            checked.get(chunk, 0, n);
            crc.update(chunk, 0, n);
        }
        in.seek(Math.max(0, body));
        if (body < 8 || in.readInt("checksum") != (int) crc.getValue()) {
            throw new BadInputException(name + ": training checkpoint is damaged (CRC32 checksum mismatch); it cannot be resumed");
        }
        in.seek(8);
        int[] h = new int[7];
        for (int i = 0; i < 7; i++) {
            h[i] = in.readInt("config");
        }
        Config config = new Config(h[0], h[1], h[2], h[3], h[4], h[5], h[6], in.readByte("config") != 0).validate(name);
        long tokenizerId = in.readLong("tokenizer fingerprint");
        int hpLength = in.readInt("hyperparameters");
        Hyperparameters hp = Hyperparameters.deserialize(new String(in.readBytes(hpLength, "hyperparameters"), StandardCharsets.UTF_8));
        int step = in.readInt("step");
        long updates = in.readLong("updates"), tokens = in.readLong("tokens seen");
        double seconds = Double.longBitsToDouble(in.readLong("seconds"));
        long rng = in.readLong("rng state");
        int size = new ParameterLayout(config).size;
        float[] params = tensor(in, size, "params"), m = tensor(in, size, "m"), v = tensor(in, size, "v");
        if (in.position() != body) {
            throw new BadInputException(name + ": training checkpoint has " + (body - in.position()) + " unexpected bytes");
        }
        return new State(config, tokenizerId, hp, step, updates, tokens, seconds, rng, params, m, v);
    }

    private static float[] tensor(LittleEndianReader in, int expected, String what) {
        int n = in.readInt(what);
        if (n != expected) {
            throw new BadInputException("training checkpoint: " + what + " holds " + n + " floats, expected " + expected);
        }
        return in.readFloats(n, what);
    }
}
