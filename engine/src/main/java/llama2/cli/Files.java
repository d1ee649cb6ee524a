package llama2.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import llama2.engine.BadInputException;
import llama2.engine.Checkpoint;
import llama2.engine.Tokenizer;

/** Opens model and tokenizer files for the engine, which takes bytes, not paths. */
final class Files {
    private Files() {}

    /**
     * Maps the file into memory instead of reading it onto the heap: the engine copies each
     * tensor into its own array, so the weights exist once in the Java heap, not twice.
     */
    static ByteBuffer map(String path) {
        Path p = Path.of(path);
        try (FileChannel channel = FileChannel.open(p, StandardOpenOption.READ)) {
            if (channel.size() > Integer.MAX_VALUE) {
                throw new BadInputException(path + ": " + channel.size() + " bytes is larger than the 2 GiB this engine reads");
            }
            return channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size());
        } catch (NoSuchFileException e) {
            throw new BadInputException(path + ": no such file");
        } catch (IOException e) {
            throw new UncheckedIOException(path + ": cannot read: " + e.getMessage(), e);
        }
    }

    static Checkpoint checkpoint(String path) {
        return Checkpoint.read(map(path), path);
    }

    static Tokenizer tokenizer(String path, int vocabSize) {
        return Tokenizer.read(map(path), vocabSize, path);
    }
}
