package llama2.cli;

import java.io.PrintStream;

import llama2.engine.BadInputException;
import llama2.engine.Checkpoint;
import llama2.engine.Config;

/** {@code info <checkpoint>}: what a checkpoint holds, after checking it the way loading does. */
final class InfoCommand {
    private InfoCommand() {}

    static void run(String[] args, PrintStream out) {
        if (args.length != 1) {
            throw new BadInputException("usage: info <checkpoint>");
        }
        String path = args[0];
        Checkpoint checkpoint = Main.readCheckpoint(path);
        Config c = checkpoint.config();
        out.println("file:        " + path);
        out.println("format:      " + checkpoint.formatName());
        out.println("dim:         " + c.dim());
        out.println("hidden_dim:  " + c.hiddenDim());
        out.println("n_layers:    " + c.nLayers());
        out.println("n_heads:     " + c.nHeads());
        out.println("n_kv_heads:  " + c.nKvHeads());
        out.println("vocab_size:  " + c.vocabSize());
        out.println("seq_len:     " + c.seqLen());
        out.println("classifier:  " + (c.sharedClassifier() ? "shared with the token embedding" : "separate"));
        out.println("parameters:  " + c.parameterCount());
        out.println("bytes:       " + Checkpoint.fileSize(c, checkpoint.version(), checkpoint.groupSize()));
    }
}
