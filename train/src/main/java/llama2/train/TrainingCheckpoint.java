package llama2.train;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

import llama2.engine.BadInputException;
import llama2.engine.Config;

/**
 * A training run frozen between two steps: shape, hyperparameters, step, tokens seen, time spent,
 * the random generator's state, the weights and both AdamW moments. Loading it and training on
 * gives exactly the weights an uninterrupted run would have had.
 *
 * <p>Layout (big-endian header, little-endian floats): magic "L2TC", format 1, the config (7 ints
 * and a shared flag), the hyperparameters as UTF text, step, optimizer updates, tokens seen, time,
 * RNG state, then params, m and v.
 */
public final class TrainingCheckpoint {
    private static final int MAGIC = 0x4c325443; // "L2TC"
    private static final int FORMAT = 1;

    private TrainingCheckpoint() {}

    public static void save(Trainer t, double secondsSoFar, Path path) throws IOException {
        Path temporary = path.resolveSibling(path.getFileName() + ".tmp");
        try (DataOutputStream out = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(temporary), 1 << 20))) {
            Config c = t.model.config();
            out.writeInt(MAGIC);
            out.writeInt(FORMAT);
            for (int v : new int[] {c.dim(), c.hiddenDim(), c.nLayers(), c.nHeads(), c.nKvHeads(), c.vocabSize(), c.seqLen()}) {
                out.writeInt(v);
            }
            out.writeBoolean(c.sharedClassifier());
            out.writeUTF(t.hp.serialize());
            out.writeInt(t.step);
            out.writeLong(t.optimizer.updates);
            out.writeLong(t.tokensSeen);
            out.writeDouble(secondsSoFar);
            out.writeLong(t.rng.state());
            writeFloats(out, t.model.params);
            writeFloats(out, t.optimizer.m);
            writeFloats(out, t.optimizer.v);
        }
        Files.move(temporary, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** What a checkpoint holds, before a trainer is built around it. */
    public record State(Config config, Hyperparameters hp, int step, long updates, long tokensSeen,
                        double seconds, long rngState, float[] params, float[] m, float[] v) {

        /** Builds the trainer, continuing where the checkpoint left off. */
        public Trainer resume(int[] trainingTokens, int threads) {
            Model model = new Model(new ParameterLayout(config), params);
            Trainer t = new Trainer(model, hp, trainingTokens, threads);
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

    public static State load(Path path) {
        try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(path), 1 << 20))) {
            if (in.readInt() != MAGIC) {
                throw new BadInputException(path + ": not a training checkpoint (made by 'train')");
            }
            int format = in.readInt();
            if (format != FORMAT) {
                throw new BadInputException(path + ": training checkpoint format " + format + ", expected " + FORMAT);
            }
            int[] h = new int[7];
            for (int i = 0; i < 7; i++) {
                h[i] = in.readInt();
            }
            Config config = new Config(h[0], h[1], h[2], h[3], h[4], h[5], h[6], in.readBoolean()).validate(path.toString());
            Hyperparameters hp = Hyperparameters.deserialize(in.readUTF());
            int step = in.readInt();
            long updates = in.readLong(), tokens = in.readLong();
            double seconds = in.readDouble();
            long rng = in.readLong();
            int size = new ParameterLayout(config).size;
            float[] params = readFloats(in, size), m = readFloats(in, size), v = readFloats(in, size);
            if (in.read() != -1) {
                throw new BadInputException(path + ": training checkpoint has trailing bytes");
            }
            return new State(config, hp, step, updates, tokens, seconds, rng, params, m, v);
        } catch (IOException e) {
            throw new BadInputException(path + ": cannot read training checkpoint (" + e.getMessage() + ")");
        }
    }

    private static void writeFloats(DataOutputStream out, float[] values) throws IOException {
        out.writeInt(values.length);
        ByteBuffer buffer = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        buffer.asFloatBuffer().put(values);
        out.write(buffer.array());
    }

    private static float[] readFloats(DataInputStream in, int expected) throws IOException {
        int n = in.readInt();
        if (n != expected) {
            throw new BadInputException("training checkpoint: tensor block of " + n + " floats, expected " + expected);
        }
        byte[] bytes = new byte[n * 4];
        in.readFully(bytes);
        float[] values = new float[n];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(values);
        return values;
    }
}
