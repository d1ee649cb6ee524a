package llama2.web.support;

import java.io.IOException;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.htmlunit.BrowserVersion;
import org.htmlunit.WebClient;
import org.htmlunit.html.HtmlElement;
import org.htmlunit.html.HtmlPage;

/**
 * HtmlUnit as a browser without WebAssembly: it runs the page, the worker and the engine's
 * JavaScript build (slowly, so the models it gets are tiny).
 */
public final class HtmlUnitBrowser implements AutoCloseable {
    /**
     * HtmlUnit logs a warning with a full stack trace each time it sets up a worker's global
     * scope (it cannot alias the DedicatedWorkerGlobalScope prototype), though the worker then
     * runs fine. Only that logger is quietened, and only below SEVERE; script errors still fail
     * the test ({@code setThrowExceptionOnScriptError}). Held here so the setting is not
     * garbage-collected with the logger.
     */
    private static final Logger WORKER_SETUP_NOISE = quiet("org.htmlunit.javascript.JavaScriptEngine");

    private static Logger quiet(String name) {
        Logger logger = Logger.getLogger(name);
        logger.setLevel(Level.SEVERE);
        return logger;
    }

    private final WebClient client = new WebClient(BrowserVersion.CHROME);
    private HtmlPage page;

    public HtmlUnitBrowser() {
        client.getOptions().setThrowExceptionOnScriptError(true);
        client.getOptions().setCssEnabled(false);
    }

    public HtmlPage open(String url) throws IOException {
        page = client.getPage(url);
        return page;
    }

    public HtmlPage page() {
        return page;
    }

    public HtmlElement element(String id) {
        return page.getHtmlElementById(id);
    }

    public String state() {
        return page.getBody().getAttribute("data-state");
    }

    /** Runs the page's scripts until body[data-state] is one of {@code states}, or fails after {@code seconds}. */
    public String awaitState(int seconds, String... states) {
        long deadline = System.nanoTime() + seconds * 1_000_000_000L;
        while (!List.of(states).contains(state())) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the page stayed in state '" + state() + "' (status: "
                        + element("status").getTextContent() + "), expected one of " + List.of(states));
            }
            client.waitForBackgroundJavaScript(50);
        }
        return state();
    }

    public void awaitReady(int seconds) {
        if (!awaitState(seconds, "ready", "error").equals("ready")) {
            throw new AssertionError("the model did not load: " + element("status").getTextContent());
        }
    }

    /** Runs scripts until {@code condition} holds, or fails after {@code seconds}. */
    public void await(int seconds, String what, java.util.function.BooleanSupplier condition) {
        long deadline = System.nanoTime() + seconds * 1_000_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            client.waitForBackgroundJavaScript(20);
        }
    }

    @Override
    public void close() {
        client.close();
    }
}
