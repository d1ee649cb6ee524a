package llama2.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import llama2.engine.BadInputException;

/** The file rules and main's one-line messages, in process (the jars' processes: train's FaultInjectionIT). */
class SafeFilesTest {
    @Test
    void aFailedWriteKeepsTheOldFileAndLeavesNoTemporary(@TempDir Path dir) throws IOException {
        Path target = dir.resolve("model.bin");
        Files.write(target, new byte[] {1, 2, 3});
        UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> SafeFiles.write(target, out -> {
            out.write(new byte[100_000]);
            throw new IOException("No space left on device");
        }));
        assertEquals("writing " + target + ": No space left on device", e.getMessage());
        assertArrayEquals(new byte[] {1, 2, 3}, Files.readAllBytes(target));
        assertEquals(List.of(target), list(dir));
    }

    @Test
    void aWriteReplacesTheFileWholeAndRemovesTemporariesOfDeadProcesses(@TempDir Path dir) throws IOException {
        Path target = dir.resolve("model.bin");
        Path abandoned = dir.resolve(".model.bin." + Long.MAX_VALUE + "-1.tmp"); // no such process
        Files.write(abandoned, new byte[10]);
        SafeFiles.write(target, out -> out.write(new byte[] {4, 5}));
        assertArrayEquals(new byte[] {4, 5}, Files.readAllBytes(target));
        assertEquals(List.of(target), list(dir));
    }

    @Test
    void onlyRegularFilesAreRead(@TempDir Path dir) {
        BadInputException e = assertThrows(BadInputException.class, () -> SafeFiles.map(dir));
        assertEquals(dir + ": not a regular file (a directory); give a file", e.getMessage());
        e = assertThrows(BadInputException.class, () -> SafeFiles.readAllBytes(dir.resolve("missing")));
        assertEquals(dir.resolve("missing") + ": no such file", e.getMessage());
    }

    @Test
    void anOutputMayNotBeAnInput(@TempDir Path dir) throws IOException {
        Path in = dir.resolve("in.bin");
        Files.write(in, new byte[1]);
        assertThrows(BadInputException.class, () -> SafeFiles.requireDistinct(dir.resolve("x/../in.bin"), in));
        SafeFiles.requireDistinct(dir.resolve("out.bin"), in);
    }

    @Test
    void everyThrowableIsOneLine() {
        assertEquals("a file changed or became unreadable while it was being read (java.lang.InternalError: a fault occurred"
                + " in an unsafe memory access operation)",
                CommandLine.describe(new InternalError("a fault occurred in an unsafe memory access operation")));
        assertEquals("no such file or directory", CommandLine.describe(new NoSuchFileException("x.bin")));
        assertTrue(CommandLine.describe(new OutOfMemoryError()).startsWith("out of memory"));
        String unexpected = CommandLine.describe(new IllegalStateException("two\nlines"));
        assertTrue(unexpected.startsWith("unexpected failure, please report it: java.lang.IllegalStateException: two lines at "),
                unexpected);
        assertFalse(unexpected.contains("\n"));
    }

    static List<Path> list(Path dir) throws IOException {
        try (var files = Files.list(dir)) {
            return files.toList();
        }
    }
}
