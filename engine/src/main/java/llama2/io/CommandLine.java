package llama2.io;

import java.io.ByteArrayOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.lang.module.ModuleFinder;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;

import llama2.engine.BadInputException;

/**
 * What both jars' {@code main} share: the arguments as the bytes the user typed, UTF-8 on
 * stdout, and every way of failing turned into one line on stderr and exit status 1.
 *
 * <p>The JVM decodes arguments and encodes file names with the locale's charset, so under
 * {@code LANG=C} a non-ASCII prompt turns into U+FFFD and a non-ASCII file name cannot be opened.
 * In that case, and when a jar wants a JVM module it was not started with (the trainer's
 * {@code jdk.incubator.vector}), the program starts itself again in a child JVM with a UTF-8
 * locale and the module, hands over the original argument bytes (read from
 * {@code /proc/self/cmdline}), and passes the child's output through, minus the JVM's warning
 * about incubator modules. The child stops by itself if the parent is killed.
 */
public final class CommandLine {
    /** A program: the arguments and UTF-8 stdout in, the exit status out. */
    public interface Program {
        int run(String[] args, PrintStream out) throws Exception;
    }

    private static final String ARGS_PROPERTY = "llama2.args";
    private static final String PARENT_PROPERTY = "llama2.parent";
    private static final String VECTOR_MODULE = "jdk.incubator.vector";
    private static final byte[] INCUBATOR_WARNING = ("WARNING: Using incubator modules: " + VECTOR_MODULE)
            .getBytes(StandardCharsets.US_ASCII);

    private CommandLine() {}

    /**
     * Runs {@code program} as a process's {@code main} and exits. {@code wantsVectorModule}: start
     * again with {@code jdk.incubator.vector} when the JVM was started without it.
     */
    public static void main(String[] jvmArgs, Class<?> mainClass, boolean wantsVectorModule, Program program) {
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), false, StandardCharsets.UTF_8);
        System.setOut(out);
        int status;
        try {
            byte[][] raw = rawArguments(jvmArgs);
            boolean addModule = wantsVectorModule && ModuleLayer.boot().findModule(VECTOR_MODULE).isEmpty()
                    && ModuleFinder.ofSystem().find(VECTOR_MODULE).isPresent();
            boolean needUtf8 = !utf8Locale() && Arrays.stream(raw).anyMatch(CommandLine::nonAscii);
            if (System.getProperty(ARGS_PROPERTY) == null && (addModule || needUtf8)) {
                status = relaunch(mainClass, raw, addModule);
            } else {
                watchParent();
                status = program.run(decode(raw), out);
            }
            out.flush();
            if (out.checkError()) {
                status = fail("cannot write to standard output (closed, or the disk is full)");
            }
        } catch (Throwable e) {
            out.flush();
            status = fail(describe(e));
        }
        System.exit(status);
    }

    private static int fail(String message) {
        System.err.println("error: " + message);
        System.err.flush();
        return 1;
    }

    /** One line for anything a run can throw: the expected ones say what happened, the rest what they are. */
    static String describe(Throwable e) {
        if (e instanceof BadInputException || e instanceof UncheckedIOException) {
            return oneLine(e.getMessage());
        }
        if (e instanceof IOException io) {
            return SafeFiles.reason(io);
        }
        if (e instanceof OutOfMemoryError) {
            return "out of memory (give java more with -Xmx, e.g. java -Xmx4g -jar ..., or use a smaller model)";
        }
        if (e instanceof InternalError) {
            // a mapped file that shrinks while it is read faults inside the copy
            return "a file changed or became unreadable while it was being read (" + oneLine(e.toString()) + ")";
        }
        return "unexpected failure, please report it: " + oneLine(e.toString())
                + (e.getStackTrace().length > 0 ? " at " + e.getStackTrace()[0] : "");
    }

    private static String oneLine(String message) {
        return message == null ? "unexpected error" : message.replace('\n', ' ').replace('\r', ' ');
    }

    // ---------------------------------------------------------------- the bytes the user typed

    private static boolean utf8Locale() {
        String jnu = System.getProperty("sun.jnu.encoding");
        return jnu != null && Charset.isSupported(jnu) && Charset.forName(jnu).equals(StandardCharsets.UTF_8);
    }

    /**
     * The arguments as bytes: handed over by a parent, or, where the locale is not UTF-8, the
     * last entries of {@code /proc/self/cmdline} (Linux), else Java's decoding of them.
     */
    static byte[][] rawArguments(String[] args) {
        String handed = System.getProperty(ARGS_PROPERTY);
        if (handed != null) {
            return unpack(handed);
        }
        if (!utf8Locale() && args.length > 0) {
            try {
                byte[] cmdline = Files.readAllBytes(Path.of("/proc/self/cmdline"));
                List<byte[]> all = split(cmdline);
                if (all.size() >= args.length) {
                    return all.subList(all.size() - args.length, all.size()).toArray(new byte[0][]);
                }
            } catch (IOException | RuntimeException e) {
                // not Linux: keep Java's decoding
            }
        }
        byte[][] raw = new byte[args.length][];
        for (int i = 0; i < args.length; i++) {
            raw[i] = args[i].getBytes(StandardCharsets.UTF_8);
        }
        return raw;
    }

    private static List<byte[]> split(byte[] nulTerminated) {
        List<byte[]> parts = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < nulTerminated.length; i++) {
            if (nulTerminated[i] == 0) {
                parts.add(Arrays.copyOfRange(nulTerminated, start, i));
                start = i + 1;
            }
        }
        return parts;
    }

    private static String[] decode(byte[][] raw) {
        String[] args = new String[raw.length];
        for (int i = 0; i < raw.length; i++) {
            args[i] = new String(raw[i], StandardCharsets.UTF_8);
        }
        return args;
    }

    private static boolean nonAscii(byte[] bytes) {
        for (byte b : bytes) {
            if (b < 0) {
                return true;
            }
        }
        return false;
    }

    private static String pack(byte[][] raw) {
        ByteArrayOutputStream joined = new ByteArrayOutputStream();
        for (byte[] arg : raw) {
            joined.writeBytes(arg);
            joined.write(0);
        }
        return Base64.getUrlEncoder().encodeToString(joined.toByteArray());
    }

    private static byte[][] unpack(String packed) {
        return split(Base64.getUrlDecoder().decode(packed)).toArray(new byte[0][]);
    }

    // ---------------------------------------------------------------- starting again

    private static int relaunch(Class<?> mainClass, byte[][] raw, boolean addModule) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String option : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (option.chars().allMatch(c -> c < 128)) {
                command.add(option); // -Xmx and friends
            }
        }
        if (addModule) {
            command.add("--add-modules");
            command.add(VECTOR_MODULE);
        }
        command.add("-D" + ARGS_PROPERTY + "=" + pack(raw));
        command.add("-D" + PARENT_PROPERTY + "=" + ProcessHandle.current().pid());
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(mainClass.getName());
        ProcessBuilder builder = new ProcessBuilder(command)
                .redirectInput(ProcessBuilder.Redirect.INHERIT)
                .redirectOutput(ProcessBuilder.Redirect.INHERIT);
        if (!utf8Locale()) {
            builder.environment().put("LC_ALL", "C.UTF-8");
        }
        Process child = builder.start();
        Thread stop = new Thread(child::destroy); // Ctrl-C or kill reaches the child too
        Runtime.getRuntime().addShutdownHook(stop);
        copyStderr(child.getErrorStream(), new FileOutputStream(FileDescriptor.err));
        int status = child.waitFor();
        Runtime.getRuntime().removeShutdownHook(stop);
        return status;
    }

    /** Passes the child's stderr through line by line, minus the JVM's incubator warning. */
    private static void copyStderr(InputStream in, OutputStream err) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        int b;
        while ((b = in.read()) != -1) {
            line.write(b);
            if (b == '\n') {
                byte[] bytes = line.toByteArray();
                if (!startsWith(bytes, INCUBATOR_WARNING)) {
                    err.write(bytes);
                    err.flush();
                }
                line.reset();
            }
        }
        err.write(line.toByteArray());
        err.flush();
    }

    private static boolean startsWith(byte[] bytes, byte[] prefix) {
        return bytes.length >= prefix.length && Arrays.equals(bytes, 0, prefix.length, prefix, 0, prefix.length);
    }

    /** In a child: when the parent dies (kill -9), stop at once rather than run on unseen. */
    private static void watchParent() {
        String parent = System.getProperty(PARENT_PROPERTY);
        if (parent == null) {
            return;
        }
        ProcessHandle handle = ProcessHandle.of(Long.parseLong(parent)).orElse(null);
        Thread watcher = new Thread(() -> {
            while (handle != null && handle.isAlive()) {
                try {
                    Thread.sleep(100);
                } catch (InterruptedException e) {
                    return;
                }
            }
            System.exit(137); // runs the shutdown hooks: a save in progress deletes its temporary
        }, "parent-watcher");
        watcher.setDaemon(true);
        watcher.start();
    }
}
