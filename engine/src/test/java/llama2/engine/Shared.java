package llama2.engine;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The reference material in {@code ../shared} (models and the reference's golden outputs),
 * read in place. Its location can be overridden with {@code -Dshared.dir=...}; when it is
 * missing, the tests that need it are skipped, not failed.
 */
public final class Shared {
    private Shared() {}

    public static Path dir() {
        assumeTrue(exists(), "no shared material at " + location().toAbsolutePath());
        return location();
    }

    public static boolean exists() {
        return Files.isDirectory(location().resolve("llama2"));
    }

    private static Path location() {
        return Path.of(System.getProperty("shared.dir", "../shared"));
    }

    public static Path model(String name) {
        return dir().resolve("llama2/models").resolve(name);
    }

    public static Path golden(String name) {
        return dir().resolve("llama2/golden").resolve(name);
    }

    public static byte[] bytes(Path path) {
        try {
            return Files.readAllBytes(path);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static Checkpoint checkpoint(String name) {
        return Checkpoint.read(ByteBuffer.wrap(bytes(model(name))), name);
    }

    public static Tokenizer tokenizer(String name, int vocabSize) {
        return Tokenizer.read(ByteBuffer.wrap(bytes(model(name))), vocabSize, name);
    }
}
