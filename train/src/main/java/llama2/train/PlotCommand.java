package llama2.train;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.ToDoubleFunction;

import llama2.engine.BadInputException;
import llama2.io.SafeFiles;

/**
 * The {@code plot} subcommand: a run's {@code losses.csv} as a loss-curve SVG, written by hand
 * (no library): training and validation loss per token against tokens seen.
 */
final class PlotCommand {
    private PlotCommand() {}

    static final String HELP = """
            usage: plot --run DIR --out loss.svg [--title TEXT]
            Draws DIR/losses.csv (written by 'train') as an SVG: training loss (mean of the logged
            steps) and validation loss, in nats per token, against tokens seen.
            """;

    private static final int WIDTH = 720, HEIGHT = 420, LEFT = 64, RIGHT = 24, TOP = 44, BOTTOM = 52;

    static void run(String[] argv, PrintStream out) throws IOException {
        Args a = new Args("plot", argv, Set.of("--run", "--out", "--title"), Set.of());
        Path csv = Path.of(a.required("--run")).resolve(LossLog.FILE);
        if (!Files.isRegularFile(csv)) {
            throw new BadInputException("plot: " + csv + " does not exist (written by 'train')");
        }
        List<LossLog.Row> rows = LossLog.read(csv);
        if (rows.isEmpty()) {
            throw new BadInputException("plot: " + csv + " holds no rows yet");
        }
        Path target = a.output("--out", csv);
        byte[] svg = svg(rows, a.string("--title", "Loss per token")).getBytes(StandardCharsets.UTF_8);
        SafeFiles.write(target, stream -> stream.write(svg));
        out.printf("wrote %s (%d rows)%n", target, rows.size());
    }

    static String svg(List<LossLog.Row> rows, String title) {
        double xMax = rows.get(rows.size() - 1).tokens();
        List<LossLog.Row> validated = rows.stream().filter(r -> !Double.isNaN(r.validLoss())).toList();
        double yMin = Double.MAX_VALUE, yMax = 0;
        for (LossLog.Row r : rows) {
            yMin = Math.min(yMin, r.trainLoss());
        }
        for (LossLog.Row r : validated) {
            yMin = Math.min(yMin, r.validLoss());
            yMax = Math.max(yMax, r.validLoss());
        }
        if (validated.isEmpty()) {
            yMax = rows.stream().mapToDouble(LossLog.Row::trainLoss).max().orElse(1);
        }
        // the first steps' loss (ln vocab and falling fast) would flatten the rest: the top is the
        // highest validation loss, and the training curve is clipped above it
        double yStep = tickStep(yMax - yMin);
        yMin = Math.floor(yMin / yStep) * yStep;
        yMax = Math.max(yMin + yStep, Math.ceil(yMax / yStep) * yStep);
        double xStep = tickStep(Math.max(1, xMax));
        Scale sx = new Scale(0, Math.max(xStep, Math.ceil(xMax / xStep) * xStep), LEFT, WIDTH - RIGHT);
        Scale sy = new Scale(yMin, yMax, HEIGHT - BOTTOM, TOP);

        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                + "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">%n", WIDTH, HEIGHT, WIDTH, HEIGHT));
        s.append(String.format("<rect width=\"%d\" height=\"%d\" fill=\"white\"/>%n", WIDTH, HEIGHT));
        s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"24\" font-size=\"15\" font-weight=\"bold\">%s</text>%n",
                LEFT, escape(title)));
        s.append(String.format(Locale.ROOT, "<clipPath id=\"plot\"><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/></clipPath>%n",
                LEFT, TOP, WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM));
        for (double y = yMin; y <= yMax + yStep / 2; y += yStep) {
            s.append(String.format(Locale.ROOT, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>%n",
                    LEFT, WIDTH - RIGHT, sy.at(y), sy.at(y)));
            s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>%n",
                    LEFT - 6, sy.at(y) + 4, label(y, yStep)));
        }
        for (double x = 0; x <= sx.max + xStep / 2; x += xStep) {
            s.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>%n",
                    sx.at(x), sx.at(x), TOP, HEIGHT - BOTTOM));
            s.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>%n",
                    sx.at(x), HEIGHT - BOTTOM + 16, label(x / 1e6, xStep / 1e6)));
        }
        s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">tokens seen (millions)</text>%n",
                (LEFT + WIDTH - RIGHT) / 2, HEIGHT - 12));
        s.append(String.format(Locale.ROOT, "<text transform=\"translate(16 %d) rotate(-90)\" text-anchor=\"middle\">"
                + "loss (nats per token)</text>%n", (TOP + HEIGHT - BOTTOM) / 2));
        s.append(polyline(rows, LossLog.Row::trainLoss, sx, sy, "#1f77b4"));
        s.append(polyline(validated, LossLog.Row::validLoss, sx, sy, "#e4572e"));
        for (LossLog.Row r : validated) {
            s.append(String.format(Locale.ROOT, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"#e4572e\"/>%n",
                    sx.at(r.tokens()), sy.at(r.validLoss())));
        }
        int lx = WIDTH - RIGHT - 270, ly = TOP + 18;
        s.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"262\" height=\"44\" fill=\"white\" "
                + "fill-opacity=\"0.85\"/>%n", lx - 6, ly - 14));
        s.append(legend(lx, ly, "#1f77b4", "training loss"));
        if (!validated.isEmpty()) {
            LossLog.Row best = validated.stream().min((p, q) -> Double.compare(p.validLoss(), q.validLoss())).get();
            s.append(legend(lx, ly + 18, "#e4572e", String.format(Locale.ROOT, "validation (best %.3f, step %d)",
                    best.validLoss(), best.step())));
        }
        s.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#333\"/>%n",
                LEFT, TOP, WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM));
        return s.append("</svg>\n").toString();
    }

    /** A linear map from data to pixels. */
    private record Scale(double min, double max, double from, double to) {
        double at(double v) {
            return from + (v - min) / (max - min) * (to - from);
        }
    }

    private static String polyline(List<LossLog.Row> rows, ToDoubleFunction<LossLog.Row> y, Scale sx, Scale sy, String colour) {
        StringBuilder points = new StringBuilder();
        for (LossLog.Row r : rows) {
            points.append(String.format(Locale.ROOT, "%.1f,%.1f ", sx.at(r.tokens()), sy.at(y.applyAsDouble(r))));
        }
        return String.format("<polyline clip-path=\"url(#plot)\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"%s\"/>%n",
                colour, points.toString().strip());
    }

    private static String legend(int x, int y, String colour, String text) {
        return String.format(Locale.ROOT, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"/>"
                + "<text x=\"%d\" y=\"%d\">%s</text>%n", x, x + 18, y - 4, y - 4, colour, x + 24, y, escape(text));
    }

    /** 1, 2 or 5 times a power of ten, giving four to ten ticks over the range. */
    static double tickStep(double range) {
        double raw = range / 5, power = Math.pow(10, Math.floor(Math.log10(raw)));
        double f = raw / power;
        return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * power;
    }

    private static String label(double v, double step) {
        int decimals = Math.max(0, (int) Math.ceil(-Math.log10(step) - 1e-9));
        return String.format(Locale.ROOT, "%." + decimals + "f", v);
    }

    private static String escape(String text) {
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }
}
