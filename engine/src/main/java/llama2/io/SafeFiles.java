package llama2.io;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

import llama2.engine.BadInputException;

/**
 * Every file the command lines read or write goes through here, so each rule is written once:
 * inputs must be regular files (a FIFO would block forever), and outputs appear whole or not at
 * all. An output is written to a temporary file beside it whose name is unique to the process and
 * the call, forced to the disk, renamed over the target in one atomic step, and the directory
 * is forced too, so after a kill or a power cut the target holds the old contents or the new,
 * never a mixture. A failed write deletes its temporary file; temporaries of processes that were
 * killed are deleted by the next write to the same target.
 */
public final class SafeFiles {
    private static final String TEMP_SUFFIX = ".tmp";
    private static final AtomicLong COUNTER = new AtomicLong();
    private static final Set<Path> IN_PROGRESS = ConcurrentHashMap.newKeySet();

    static {
        // Ctrl-C or a plain kill runs the shutdown hooks: leave no temporary behind
        Runtime.getRuntime().addShutdownHook(new Thread(() -> IN_PROGRESS.forEach(SafeFiles::deleteQuietly)));
    }

    private SafeFiles() {}

    /** What a save does with the stream of its temporary file. */
    public interface Body {
        void writeTo(OutputStream out) throws IOException;
    }

    /** A path from what the user typed, or a one-line error naming the flag. */
    public static Path path(String name, String what) {
        try {
            return Path.of(name);
        } catch (InvalidPathException e) {
            throw new BadInputException(what + " '" + name + "' is not a file name this system can open ("
                    + e.getReason() + "; try LC_ALL=C.UTF-8)");
        }
    }

    /** Refuses a missing file, a directory, a FIFO or a device: only regular files are read. */
    public static void requireRegularFile(Path path) {
        if (Files.isRegularFile(path)) {
            return;
        }
        if (!Files.exists(path)) {
            throw new BadInputException(path + ": no such file");
        }
        throw new BadInputException(path + ": not a regular file (a "
                + (Files.isDirectory(path) ? "directory" : "pipe, socket or device") + "); give a file");
    }

    /**
     * Maps a whole file into memory (read-only). The engine copies every tensor into its own
     * array, so the weights exist once in the Java heap, not twice.
     */
    public static ByteBuffer map(Path path) {
        requireRegularFile(path);
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            if (channel.size() > Integer.MAX_VALUE) {
                throw new BadInputException(path + ": " + channel.size() + " bytes is larger than the 2 GiB a file may have here");
            }
            return channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size());
        } catch (IOException e) {
            throw failure("reading", path, e);
        }
    }

    /**
     * Maps a file and parses it. A file cut short while it is mapped (rewritten in place by
     * another program) faults inside the parse; that becomes one line naming the file.
     */
    public static <T> T parse(Path path, Function<ByteBuffer, T> parser) {
        ByteBuffer file = map(path);
        try {
            return parser.apply(file);
        } catch (InternalError e) {
            throw new BadInputException(path + ": the file changed while it was being read (rewritten in place by another"
                    + " program?)");
        }
    }

    /** Reads a whole file onto the heap (for files that are parsed rather than copied). */
    public static byte[] readAllBytes(Path path) {
        requireRegularFile(path);
        try {
            return Files.readAllBytes(path);
        } catch (IOException e) {
            throw failure("reading", path, e);
        } catch (OutOfMemoryError e) {
            throw new BadInputException(path + ": too large to read into the " + (Runtime.getRuntime().maxMemory() >> 20)
                    + " MB Java may use (give java more with -Xmx)");
        }
    }

    /** Refuses to write {@code output} over one of the command's inputs. */
    public static void requireDistinct(Path output, Path... inputs) {
        for (Path input : inputs) {
            if (input != null && sameFile(output, input)) {
                throw new BadInputException(output + ": the output would overwrite the input " + input + "; choose another name");
            }
        }
    }

    private static boolean sameFile(Path a, Path b) {
        try {
            if (Files.exists(a) && Files.exists(b)) {
                return Files.isSameFile(a, b);
            }
        } catch (IOException e) {
            // fall through to comparing the names
        }
        return a.toAbsolutePath().normalize().equals(b.toAbsolutePath().normalize());
    }

    /**
     * Creates {@code dir} if needed and proves it writable now, before any work is done; removes
     * what killed processes left in it.
     */
    public static void requireWritableDirectory(Path dir) {
        try {
            Files.createDirectories(dir);
            Path probe = Files.createTempFile(dir, ".write-test-", TEMP_SUFFIX);
            Files.delete(probe);
            deleteAbandonedTemporaries(dir, ".");
        } catch (IOException e) {
            throw failure("writing into the directory", dir, e);
        }
    }

    /** Writes {@code target} atomically and durably (see the class comment). */
    public static void write(Path target, Body body) {
        Path dir = target.toAbsolutePath().getParent();
        String prefix = "." + target.getFileName() + ".";
        deleteAbandonedTemporaries(dir, prefix);
        Path temporary = dir.resolve(prefix + ProcessHandle.current().pid() + "-" + COUNTER.incrementAndGet() + TEMP_SUFFIX);
        IN_PROGRESS.add(temporary);
        try {
            try (FileChannel channel = FileChannel.open(temporary, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                OutputStream out = new BufferedOutputStream(Channels.newOutputStream(channel), 1 << 20);
                body.writeTo(out);
                out.flush();
                channel.force(true);
            }
            Files.move(temporary, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            forceDirectory(dir);
        } catch (IOException e) {
            throw failure("writing", target, e);
        } finally {
            deleteQuietly(temporary);
            IN_PROGRESS.remove(temporary);
        }
    }

    /**
     * Deletes the temporaries in {@code dir} (all of them, or those of one target's
     * {@code prefix}) whose process no longer runs: what a kill left behind.
     */
    public static void deleteAbandonedTemporaries(Path dir, String prefix) {
        try (var entries = Files.newDirectoryStream(dir, entry -> entry.getFileName().toString().startsWith(prefix)
                && entry.getFileName().toString().endsWith(TEMP_SUFFIX))) {
            for (Path entry : entries) {
                String name = entry.getFileName().toString();
                String owner = name.substring(name.lastIndexOf('.', name.length() - TEMP_SUFFIX.length() - 1) + 1,
                        name.length() - TEMP_SUFFIX.length());
                try {
                    long pid = Long.parseLong(owner.substring(0, owner.indexOf('-')));
                    if (ProcessHandle.of(pid).map(p -> !p.isAlive()).orElse(true)) {
                        deleteQuietly(entry);
                    }
                } catch (RuntimeException e) {
                    // not one of ours
                }
            }
        } catch (IOException e) {
            // an unreadable directory fails the write itself, with a better message
        }
    }

    /** Makes a rename durable: on Linux a directory's entries reach the disk by fsync of the directory. */
    private static void forceDirectory(Path dir) {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException e) {
            // some systems cannot open a directory for fsync; the rename itself is still atomic
        }
    }

    private static void deleteQuietly(Path path) {
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            // best effort: the next write to the same target deletes it
        }
    }

    /** An I/O failure as one line saying what was being done to which file, and why. */
    public static UncheckedIOException failure(String doing, Path path, IOException e) {
        return new UncheckedIOException(doing + " " + path + ": " + reason(e), e);
    }

    /** Java names some failures by the path alone; this says what happened. */
    public static String reason(IOException e) {
        if (e instanceof NoSuchFileException) {
            return "no such file or directory";
        }
        if (e instanceof AccessDeniedException) {
            return "permission denied";
        }
        if (e instanceof FileSystemException f && f.getReason() != null) {
            return f.getReason();
        }
        String message = e.getMessage();
        return message == null ? e.getClass().getSimpleName() : message.replace('\n', ' ');
    }
}
