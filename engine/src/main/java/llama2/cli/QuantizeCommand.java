package llama2.cli;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

import llama2.engine.BadInputException;
import llama2.engine.Checkpoint;

/**
 * {@code quantize <in> <out> [--group N]}: rewrites a checkpoint as version 2 (Q8_0). The
 * file appears only once complete (written beside it, then renamed), so a failure never leaves
 * half a model behind or damages an existing file.
 */
final class QuantizeCommand {
    private QuantizeCommand() {}

    static void run(String[] args, PrintStream out) throws IOException {
        if (args.length != 2 && !(args.length == 4 && args[2].equals("--group"))) {
            throw new BadInputException("usage: quantize <in> <out> [--group N]");
        }
        Checkpoint checkpoint = Files.checkpoint(args[0]);
        int groupSize = args.length == 4
                ? Flags.parseInt("--group", args[3])
                : Checkpoint.defaultGroupSize(checkpoint.config());
        Path target = Path.of(args[1]);
        Path temporary = target.resolveSibling(target.getFileName() + ".partial");
        try (OutputStream stream = new BufferedOutputStream(java.nio.file.Files.newOutputStream(temporary))) {
            Checkpoint.write(checkpoint.weights(), 2, groupSize, stream);
        } catch (IOException | RuntimeException e) {
            java.nio.file.Files.deleteIfExists(temporary);
            throw e;
        }
        java.nio.file.Files.move(temporary, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        out.println("wrote " + target + ": version 2 (Q8_0, group size " + groupSize + "), "
                + java.nio.file.Files.size(target) + " bytes");
    }
}
