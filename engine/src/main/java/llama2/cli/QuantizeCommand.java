package llama2.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

import llama2.engine.BadInputException;
import llama2.engine.Checkpoint;
import llama2.io.SafeFiles;

/**
 * {@code quantize <in> <out> [--group N]}: rewrites a checkpoint as version 2 (Q8_0). The file
 * appears only once complete ({@link SafeFiles#write}), so a failure never leaves half a model
 * behind or damages an existing file.
 */
final class QuantizeCommand {
    private QuantizeCommand() {}

    static void run(String[] args, PrintStream out) throws IOException {
        if (args.length != 2 && !(args.length == 4 && args[2].equals("--group"))) {
            throw new BadInputException("usage: quantize <in> <out> [--group N]");
        }
        Path target = SafeFiles.path(args[1], "output");
        SafeFiles.requireDistinct(target, SafeFiles.path(args[0], "model"));
        Checkpoint checkpoint = Main.readCheckpoint(args[0]);
        int groupSize = args.length == 4
                ? Flags.parseInt("--group", args[3])
                : Checkpoint.defaultGroupSize(checkpoint.config());
        SafeFiles.write(target, stream -> Checkpoint.write(checkpoint.weights(), 2, groupSize, stream));
        out.println("wrote " + target + ": version 2 (Q8_0, group size " + groupSize + "), " + Files.size(target) + " bytes");
    }
}
