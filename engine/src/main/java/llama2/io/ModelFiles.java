package llama2.io;

import java.nio.ByteBuffer;
import java.nio.file.Path;

import llama2.engine.LanguageModel;

/**
 * Loads a {@link LanguageModel} from files, on the JVM (the engine itself takes bytes, so that it
 * also runs in a browser). The model is read as the command line reads it ({@link SafeFiles#parse}):
 * memory-mapped, so the weights end up once in the Java heap, not twice, and a file cut short
 * while it is read is named in one line.
 *
 * <pre>{@code LanguageModel model = ModelFiles.load(Path.of("stories15M.bin"), Path.of("tokenizer.bin"));}</pre>
 *
 * A missing, unreadable or malformed file is refused with a {@link llama2.engine.BadInputException}
 * (or an {@link java.io.UncheckedIOException} for an I/O error) whose one-line message names the file.
 */
public final class ModelFiles {
    private ModelFiles() {
    }

    /** Reads a llama2.c checkpoint (version 0, 1 or 2) and its {@code tokenizer.bin}. */
    public static LanguageModel load(Path model, Path tokenizer) {
        ByteBuffer tokenizerBytes = ByteBuffer.wrap(SafeFiles.readAllBytes(tokenizer)); // small: on the heap
        return SafeFiles.parse(model, modelBytes -> LanguageModel.load(modelBytes, model.toString(), tokenizerBytes, tokenizer.toString()));
    }
}
