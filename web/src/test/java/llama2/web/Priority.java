package llama2.web;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Chromium sets the threads of its renderers (the page, its workers) to niceness 0 whatever it was
 * started with, so a benchmark started with {@code nice -n -5} would still share the cores equally
 * with any other niceness-0 work. {@link #matchThisProcess} gives the browser's threads this JVM's
 * niceness (lowering it needs root; otherwise nothing changes).
 */
public final class Priority {
    private Priority() {
    }

    /** This process's niceness (field 19 of /proc/self/stat), or 0 where /proc is missing. */
    public static int ofThisProcess() {
        return niceness(Path.of("/proc/self/stat"));
    }

    /** Renices every thread of this JVM's descendants that is nicer than this JVM; returns how many it changed. */
    public static int matchThisProcess() {
        int ours = ofThisProcess();
        List<String> command = new ArrayList<>(List.of("renice", "-n", String.valueOf(ours), "-p"));
        ProcessHandle.current().descendants().forEach(process -> {
            try (var tasks = Files.list(Path.of("/proc/" + process.pid() + "/task"))) {
                tasks.filter(task -> niceness(task.resolve("stat")) > ours)
                        .forEach(task -> command.add(task.getFileName().toString()));
            } catch (IOException | RuntimeException gone) {
                // the process ended in between
            }
        });
        int threads = command.size() - 5;
        if (threads == 0) {
            return 0;
        }
        try {
            Process renice = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            return renice.waitFor() == 0 ? threads : 0;
        } catch (IOException e) {
            return 0;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 0;
        }
    }

    private static int niceness(Path stat) {
        try {
            String line = Files.readString(stat);
            String[] fields = line.substring(line.lastIndexOf(')') + 2).split(" ");
            return Integer.parseInt(fields[16]); // field 19 counted from the pid
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }
}
