package llama2.web;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import llama2.engine.Config;
import llama2.web.server.DevServer;
import llama2.web.support.HtmlUnitBrowser;
import llama2.web.support.Paths;
import llama2.web.support.TestModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The page on the engine's JavaScript build, in HtmlUnit (which has no WebAssembly). */
class HtmlUnitPageTest {
    /** Tiny, because HtmlUnit runs JavaScript hundreds of times slower than a browser. */
    static final Config TINY = new Config(8, 16, 1, 2, 2, 300, 24, true);
    static final Config LONG = new Config(8, 16, 1, 2, 2, 300, 4096, true);

    @TempDir
    static Path overlay;
    static DevServer server;
    HtmlUnitBrowser browser;

    @BeforeAll
    static void serveSiteWithTestModels() throws IOException {
        new TestModels(overlay)
                .addRandom("tiny", TINY, 1)
                .addChatRandom("long", LONG, 0)
                .addMarkup("markup", TINY)
                .addTruncated("broken", TINY)
                .writeManifest();
        server = new DevServer(0, List.of(overlay, Paths.site()));
    }

    @AfterAll
    static void stopServer() {
        server.close();
    }

    @BeforeEach
    void startBrowser() {
        browser = new HtmlUnitBrowser();
    }

    @AfterEach
    void closeBrowser() {
        browser.close();
    }

    private void open(String query) throws IOException {
        browser.open(server.url() + "?" + query);
    }

    @Test
    void pageLoadsTheFirstModelOfTheListOnTheJavaScriptEngine() throws IOException {
        open("");
        browser.awaitReady(60);
        assertEquals("js", browser.page().getBody().getAttribute("data-engine"));
        assertEquals("JavaScript (fallback: no WebAssembly GC here)", browser.element("engine").getTextContent(),
                "HtmlUnit has no WebAssembly, and the page says so");
        assertEquals("tiny", ((org.htmlunit.html.HtmlSelect) browser.element("model")).getSelectedOptions().get(0).getValueAttribute());
        String facts = browser.element("facts").getTextContent();
        assertTrue(facts.contains("dim 8") && facts.contains("vocabulary 300") && facts.contains("version 1 (float32)"), facts);
        assertFalse(browser.element("generate").hasAttribute("disabled"), "Generate is enabled once a model is ready");
    }

    @Test
    void generationFillsTheOutputAndRecordsIdsAndSpeed() throws IOException {
        open("model=tiny&seed=5&steps=20&temperature=1&topp=0.9&prompt=" + encode("mi ba"));
        browser.awaitReady(60);
        browser.element("generate").click();
        assertEquals("done", browser.awaitState(120, "done", "error"), browser.element("status").getTextContent());

        String[] ids = browser.element("output").getAttribute("data-ids").split(" ");
        assertEquals(21, ids.length, "BOS, then one token for each of the 20 positions");
        assertEquals("1", ids[0], "BOS first");
        assertTrue(browser.element("output").getTextContent().startsWith("mi ba"), "the prompt's own text comes first");
        assertTrue(Double.parseDouble(browser.element("output").getAttribute("data-tokps")) > 0);
        assertEquals("5", browser.element("seed-used").getTextContent());
        assertTrue(browser.page().getUrl().toString().contains("seed=5"), "the settings are in the URL");
    }

    @Test
    void blankSeedPicksOneAndShowsIt() throws IOException {
        open("model=tiny&steps=6&seed=");
        browser.awaitReady(60);
        browser.element("generate").click();
        browser.awaitState(120, "done", "error");
        String used = browser.element("seed-used").getTextContent();
        assertTrue(used.matches("\\d+"), "a random seed is shown: " + used);
        assertTrue(browser.element("permalink").getAttribute("href").contains("seed=" + used), "and put in the link");
        assertFalse(browser.page().getUrl().toString().contains("seed=" + used),
                "but not in the address bar: a reload draws a new one");
    }

    @Test
    void stopEndsTheStoryEarly() throws IOException {
        open("model=long&steps=0&seed=3");
        browser.awaitReady(60);
        browser.element("generate").click();
        browser.await(60, "a few tokens", () -> browser.element("count").getTextContent().matches("[0-9]+")
                && Integer.parseInt(browser.element("count").getTextContent()) >= 3); // blank until the story starts
        browser.element("stop").click();
        assertEquals("done", browser.awaitState(60, "done", "error"));
        assertTrue(browser.element("status").getTextContent().startsWith("Stopped"), browser.element("status").getTextContent());
        int positions = browser.element("output").getAttribute("data-ids").split(" ").length;
        assertTrue(positions < LONG.seqLen(), "stopped long before the context was full: " + positions);
    }

    @Test
    void brokenModelFileShowsAnErrorInPlainWords() throws IOException {
        open("model=broken");
        assertEquals("error", browser.awaitState(60, "ready", "error"));
        String status = browser.element("status").getTextContent();
        assertTrue(status.contains("broken.bin") && status.contains("does not match"), status);
        assertTrue(browser.element("generate").hasAttribute("disabled"), "nothing to generate with");
    }

    @Test
    void markupInTokenPiecesIsShownAsText() throws IOException {
        open("model=markup&steps=12&seed=1&temperature=1&prompt=");
        browser.awaitReady(60);
        browser.element("generate").click();
        assertEquals("done", browser.awaitState(120, "done", "error"));
        var output = browser.element("output");
        assertTrue(output.getTextContent().contains("<img src=x onerror="), output.getTextContent());
        assertEquals(0, output.getElementsByTagName("img").size(), "no element was created from a token");
        assertEquals("undefined", browser.page().executeJavaScript("typeof window.pwned").getJavaScriptResult().toString());
    }

    @Test
    void badSettingsAreExplained() throws IOException {
        open("model=tiny&topp=1.5");
        browser.awaitReady(60);
        browser.element("generate").click();
        assertEquals("error", browser.awaitState(60, "error", "done"));
        assertEquals("top-p must be a number from 0 to 1 (0 and 1 turn it off), found 1.5",
                browser.element("status").getTextContent(), "the engine's own sentence");
        assertFalse(browser.element("generate").hasAttribute("disabled"), "the model is still loaded");
    }

    @Test
    void chatModeShowsTheUsersTurnAndAnswers() throws IOException {
        open("model=long&mode=chat&steps=40&seed=2&prompt=hi");
        browser.awaitReady(60);
        assertEquals("Send", browser.element("generate").getTextContent());
        assertFalse(browser.element("system-row").hasAttribute("hidden"), "the system prompt is offered");
        browser.element("generate").click();
        assertEquals("done", browser.awaitState(120, "done", "error"), browser.element("status").getTextContent());
        var turns = browser.element("output").getElementsByTagName("p");
        assertEquals(1, turns.size());
        assertEquals("hi", turns.get(0).getTextContent());
        assertTrue(browser.element("status").getTextContent().startsWith("The conversation has filled")
                || browser.element("status").getTextContent().startsWith("Your turn"), browser.element("status").getTextContent());
    }

    private static String encode(String text) {
        return URLEncoder.encode(text, StandardCharsets.UTF_8);
    }
}
