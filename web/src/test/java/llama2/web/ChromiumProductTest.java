package llama2.web;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import llama2.engine.Config;
import llama2.web.server.DevServer;
import llama2.web.support.Chromium;
import llama2.web.support.Paths;
import llama2.web.support.TestModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.Keys;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The page as a visitor meets it in Chromium: on a phone's screen, with downloads that can be
 * cancelled or fail, links to stories, the keyboard.
 */
class ChromiumProductTest {
    static final Duration LOAD = Duration.ofSeconds(60);
    static final Duration GENERATE = Duration.ofSeconds(120);
    /**
     * About 18 MB: long enough to download on a throttled network to cancel it halfway; its
     * context of 2048 positions makes a whole story take seconds, so a key pressed during one
     * arrives before it ends.
     */
    static final Config BIG = new Config(288, 768, 6, 6, 6, 512, 2048, true);

    @TempDir
    static Path overlay;
    static DevServer server;
    static Chromium browser;

    @BeforeAll
    static void start() throws IOException {
        browser = Chromium.start();
        new TestModels(overlay)
                .withSiteModels(Paths.bundledModels().resolve("models.json"))
                .addRandom("big", BIG, 1)
                .addChatRandom("chatty", new Config(8, 16, 1, 2, 2, 300, 64, true), 1)
                .addListedButMissing("missing")
                .addTruncated("broken", new Config(8, 16, 1, 2, 2, 300, 24, true))
                .writeManifest();
        server = new DevServer(0, List.of(overlay, Paths.site()));
    }

    @AfterAll
    static void stop() throws IOException {
        Chromium.close(browser, server);
    }

    @AfterEach
    void desktopAndFastNetworkAgain() {
        screen(1280, 800);
        cdp("Network.emulateNetworkConditions", Map.of("offline", false, "latency", 0,
                "downloadThroughput", -1, "uploadThroughput", -1));
    }

    private static Object cdp(String command, Map<String, Object> parameters) {
        return ((ChromeDriver) browser.driver()).executeCdpCommand(command, parameters);
    }

    /** The viewport of a phone (or a desktop), in CSS pixels. */
    private static void screen(int width, int height) {
        cdp("Emulation.setDeviceMetricsOverride", Map.of("width", width, "height", height,
                "deviceScaleFactor", 1, "mobile", width < 600));
    }

    /** True when the element's box lies within the viewport. */
    private static boolean inView(String id) {
        return (Boolean) browser.script("const r = document.getElementById(arguments[0]).getBoundingClientRect();"
                + "return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight;", id);
    }

    private static boolean lastLineInView(String id) {
        return (Boolean) browser.script("const r = document.getElementById(arguments[0]).getBoundingClientRect();"
                + "return r.bottom > 0 && r.bottom <= window.innerHeight + 1;", id);
    }

    @Test
    void onTheSmallestPhoneThePromptAndGenerateAreInView() {
        screen(320, 568);
        browser.open(server.url());
        browser.awaitReady(LOAD);
        assertTrue(inView("prompt"), "the prompt is in view");
        assertTrue(inView("generate"), "Generate is in view without scrolling");
        assertFalse((Boolean) browser.script("return document.getElementById('advanced').open"), "settings are folded");
        assertTrue((Boolean) browser.script("return document.documentElement.scrollWidth <= window.innerWidth"),
                "nothing is wider than the screen");
    }

    @Test
    void onAPhoneTheStoryComesIntoViewAndIsFollowedToItsEnd() {
        screen(390, 844);
        browser.open(server.url() + "?seed=1&steps=256&temperature=1&prompt=Once");
        browser.awaitReady(LOAD);
        browser.element("generate").click();
        new WebDriverWait(browser.driver(), GENERATE).until(d -> !browser.element("output").getText().isEmpty());
        assertTrue((Boolean) browser.script("const r = document.getElementById('output').getBoundingClientRect();"
                + "return r.top >= 0 && r.top < window.innerHeight;"), "the story's first line is in view");
        assertEquals("done", browser.awaitState(GENERATE, "done", "error"));
        assertTrue(lastLineInView("output"), "its last line is in view at the end");
    }

    @Test
    void aBadFilesMessageIsInViewOnAPhone() {
        screen(390, 844);
        browser.open(server.url() + "?model=broken");
        assertEquals("error", browser.awaitState(LOAD, "ready", "error"));
        assertTrue(browser.element("status").getText().contains("broken.bin"), browser.element("status").getText());
        assertTrue(inView("status"), "the message is in view");
    }

    @Test
    void anUnreachableModelLeavesTheModelInUseUsable() {
        browser.open(server.url());
        browser.awaitReady(LOAD);
        new Select(browser.element("model")).selectByValue("missing");
        new WebDriverWait(browser.driver(), Duration.ofSeconds(5))
                .until(d -> browser.element("status").getText().contains("Still using"));
        assertTrue(browser.element("generate").isEnabled(), "Generate works on the model in use");
        assertEquals(Paths.defaultModel().id(), new Select(browser.element("model")).getFirstSelectedOption().getAttribute("value"),
                "the picker names the model in use");
        browser.element("generate").click();
        assertEquals("done", browser.awaitState(GENERATE, "done", "error"), browser.element("status").getText());
    }

    @Test
    void cancellingADownloadAbortsItAndKeepsNothing() {
        browser.open(server.url());
        browser.awaitReady(LOAD);
        browser.driver().manage().timeouts().scriptTimeout(LOAD);
        ((org.openqa.selenium.JavascriptExecutor) browser.driver()).executeAsyncScript( // another test may have stored it
                "const done = arguments[arguments.length - 1]; caches.delete('llama2-models-v1').then(() => done(true));");
        cdp("Network.enable", Map.of());
        cdp("Network.emulateNetworkConditions", Map.of("offline", false, "latency", 20,
                "downloadThroughput", 1_000_000, "uploadThroughput", -1));
        new Select(browser.element("model")).selectByValue("big");
        new WebDriverWait(browser.driver(), LOAD)
                .withMessage(() -> "status: " + browser.element("status").getText() + "; progress: "
                        + browser.element("progress-text").getAttribute("textContent"))
                .until(d -> browser.element("progress-text").getText().contains("%"));
        String progress = browser.element("progress-text").getText();
        assertTrue(progress.matches("model .* of .* \\(\\d+%\\).*"), progress);
        assertTrue(browser.element("generate").isEnabled(), "the model in use stays usable during the download");
        browser.element("cancel").click();
        new WebDriverWait(browser.driver(), Duration.ofSeconds(5))
                .until(d -> browser.element("status").getText().contains("cancelled"));
        assertTrue(browser.element("status").getText().contains("Still using"), browser.element("status").getText());
        assertTrue(browser.element("download").getAttribute("hidden") != null, "the progress bar is gone");
        browser.driver().manage().timeouts().scriptTimeout(LOAD);
        Object cached = ((org.openqa.selenium.JavascriptExecutor) browser.driver()).executeAsyncScript(
                "const done = arguments[arguments.length - 1];"
                + "caches.open('llama2-models-v1').then(c => c.keys()).then(keys => done(keys.map(k => k.url).join(' ')));");
        assertFalse(String.valueOf(cached).contains("big.bin"), "nothing of the cancelled model is cached: " + cached);
    }

    @Test
    void aBlankSeedStaysRandomAcrossReloads() {
        browser.open(server.url() + "?steps=20");
        browser.awaitReady(LOAD);
        browser.element("generate").click();
        assertEquals("done", browser.awaitState(GENERATE, "done", "error"));
        String used = browser.element("seed-used").getText();
        assertFalse(browser.driver().getCurrentUrl().contains("seed="), browser.driver().getCurrentUrl());
        browser.driver().navigate().refresh();
        browser.awaitReady(LOAD);
        assertEquals("", browser.element("seed").getAttribute("value"), "the seed field is blank again");
        browser.element("generate").click();
        assertEquals("done", browser.awaitState(GENERATE, "done", "error"));
        assertFalse(used.equals(browser.element("seed-used").getText()), "another random seed");
    }

    @Test
    void theLinkToAStoryAppearsWithItAndWritesItAgain() {
        browser.open(server.url() + "?steps=30&temperature=1");
        browser.awaitReady(LOAD);
        assertFalse(browser.element("permalink").isDisplayed(), "no link before there is a story");
        browser.element("generate").click();
        assertEquals("done", browser.awaitState(GENERATE, "done", "error"));
        String ids = browser.element("output").getAttribute("data-ids");
        String link = browser.element("permalink").getAttribute("href");
        assertTrue(browser.element("permalink").isDisplayed() && link.contains("run=1") && link.contains("seed="), link);
        assertTrue(browser.element("copy").isDisplayed() && browser.element("save").isDisplayed());

        browser.open(link);
        assertEquals("done", browser.awaitState(GENERATE.plus(LOAD), "done", "error"), "the link generates by itself");
        assertEquals(ids, browser.element("output").getAttribute("data-ids"), "the same story");
    }

    @Test
    void focusGoesToStopWhileWritingAndBackAfterwards() {
        browser.open(server.url() + "?steps=0&model=big");
        browser.awaitReady(LOAD);
        // The page's own observer notes where focus is each time the state changes, as the
        // page leaves it (a poll from here could come after a short story had already ended).
        browser.script("window.focusAtState = [];"
                + "new MutationObserver(function () { window.focusAtState.push(document.body.dataset.state + ' '"
                + "  + (document.activeElement.id || document.activeElement.tagName)); })"
                + ".observe(document.body, {attributes: true, attributeFilter: ['data-state']});");
        browser.element("generate").click();
        browser.element("stop").sendKeys(Keys.ENTER);
        assertEquals("done", browser.awaitState(GENERATE, "done", "error"));
        assertTrue(browser.element("status").getText().startsWith("Stopped"), "Enter on Stop stopped the story: "
                + browser.element("status").getText());
        assertEquals(List.of("generating stop", "done generate"), browser.script("return window.focusAtState"));
        assertEquals("generate", browser.script("return document.activeElement.id"));
    }

    @Test
    void enterInAFieldGenerates() {
        browser.open(server.url() + "?steps=10");
        browser.awaitReady(LOAD);
        browser.element("prompt").sendKeys(Keys.ENTER);
        assertEquals("done", browser.awaitState(GENERATE, "done", "error"));
        browser.element("advanced").findElement(org.openqa.selenium.By.tagName("summary")).click();
        browser.element("seed").sendKeys("7", Keys.ENTER);
        new WebDriverWait(browser.driver(), GENERATE).until(d -> browser.element("seed-used").getText().equals("7"));
        assertEquals("done", browser.awaitState(GENERATE, "done", "error"));
    }

    @Test
    void chatIsOfferedOnlyToModelsMarkedForIt() {
        browser.open(server.url());
        browser.awaitReady(LOAD);
        assertFalse(browser.element("mode-row").isDisplayed(), "the default model tells stories only");
        new Select(browser.element("model")).selectByValue("chatty");
        new WebDriverWait(browser.driver(), LOAD).until(d -> browser.element("mode-row").isDisplayed());
    }

    @Test
    void aFirstVisitAsksForNothingThatIsMissing() {
        browser.open(server.url());
        browser.awaitReady(LOAD);
        assertEquals(0, server.requests("/favicon.ico"), "the page names its icon");
        assertTrue(server.requests("/icon.svg") + server.requests("/manifest.webmanifest") >= 1);
    }

    @Test
    void afterOneVisitThePageOpensAndWritesOffline() {
        browser.open(server.url() + "?steps=12");
        browser.awaitReady(LOAD);
        browser.driver().manage().timeouts().scriptTimeout(LOAD);
        ((org.openqa.selenium.JavascriptExecutor) browser.driver()).executeAsyncScript(
                "const done = arguments[arguments.length - 1]; navigator.serviceWorker.ready.then(() => done(true));");
        cdp("Network.enable", Map.of());
        cdp("Network.emulateNetworkConditions", Map.of("offline", true, "latency", 0,
                "downloadThroughput", -1, "uploadThroughput", -1));
        browser.driver().navigate().refresh();
        browser.awaitReady(LOAD);
        assertTrue(browser.driver().getCurrentUrl().contains("steps=12"), "the address keeps its settings offline");
        browser.element("generate").click();
        assertEquals("done", browser.awaitState(GENERATE, "done", "error"), browser.element("status").getText());
        assertEquals(13, browser.element("output").getAttribute("data-ids").split(" ").length, "steps=12 was read");
    }

    @Test
    void underASubpathThePageWorksAndItsServiceWorkerKeepsToIt(@TempDir Path host) throws IOException {
        java.nio.file.Files.createSymbolicLink(host.resolve("repo"), Paths.site().toAbsolutePath());
        try (DevServer pages = new DevServer(0, List.of(host))) { // like https://user.github.io/repo/
            browser.open(pages.url() + "repo/?steps=10");
            browser.awaitReady(LOAD);
            browser.element("generate").click();
            assertEquals("done", browser.awaitState(GENERATE, "done", "error"), browser.element("status").getText());
            browser.driver().manage().timeouts().scriptTimeout(LOAD);
            Object scope = ((org.openqa.selenium.JavascriptExecutor) browser.driver()).executeAsyncScript(
                    "const done = arguments[arguments.length - 1]; navigator.serviceWorker.ready.then(r => done(r.scope));");
            assertEquals(pages.url() + "repo/", scope);
            assertTrue(browser.element("permalink").getAttribute("href").startsWith(pages.url() + "repo/?"),
                    browser.element("permalink").getAttribute("href"));
        }
    }

    @Test
    void localFilesSayThatTheyCannotBeLinked() {
        browser.open(server.url() + "?steps=10");
        browser.awaitReady(LOAD);
        new Select(browser.element("model")).selectByVisibleText("Open files…");
        browser.element("model-file").sendKeys(Paths.defaultModel().model().toAbsolutePath().toString());
        browser.element("tokenizer-file").sendKeys(Paths.defaultModel().tokenizer().toAbsolutePath().toString());
        new WebDriverWait(browser.driver(), LOAD).until(d -> browser.element("status").getText().startsWith("Ready"));
        browser.element("generate").click();
        assertEquals("done", browser.awaitState(GENERATE, "done", "error"));
        assertFalse(browser.element("permalink").isDisplayed());
        assertTrue(browser.element("no-link").isDisplayed(), "the page says why there is no link");
    }

    @Test
    void stepsShorterThanThePromptAreSaidPlainly() {
        browser.open(server.url() + "?steps=2&prompt=" + java.net.URLEncoder.encode("Once upon a time there was",
                java.nio.charset.StandardCharsets.UTF_8));
        browser.awaitReady(LOAD);
        browser.element("generate").click();
        assertEquals("done", browser.awaitState(GENERATE, "done", "error"));
        assertTrue(browser.element("status").getText().contains("The steps (2) end inside the prompt"),
                browser.element("status").getText());
    }

    private static Object async(String code) {
        browser.driver().manage().timeouts().scriptTimeout(LOAD);
        return ((org.openqa.selenium.JavascriptExecutor) browser.driver()).executeAsyncScript(
                "const done = arguments[arguments.length - 1];" + code);
    }

    @Test
    void theLiveRegionsSayTheStateNotEveryToken() {
        browser.open(server.url() + "?steps=60&temperature=1");
        browser.awaitReady(LOAD);
        browser.script("window.spoken = 0; const live = document.querySelectorAll('[aria-live]:not([aria-live=\\'off\\']), [role=status]');"
                + "const watch = new MutationObserver((changes) => { window.spoken += changes.length; });"
                + "live.forEach((node) => watch.observe(node, {childList: true, characterData: true, subtree: true}));");
        browser.element("generate").click();
        assertEquals("done", browser.awaitState(GENERATE, "done", "error"));
        long tokens = Long.parseLong(browser.element("count").getText());
        long spoken = (Long) browser.script("return window.spoken");
        assertTrue(tokens > 20 && spoken <= 4, spoken + " changes announced for " + tokens + " tokens");
        assertEquals("off", browser.element("output").getAttribute("aria-live"), "the story itself is not announced token by token");
    }

    @Test
    void onAPhoneEveryControlIsAtLeast44PixelsHigh() {
        screen(390, 844);
        browser.open(server.url() + "?steps=12");
        browser.awaitReady(LOAD);
        browser.element("generate").click();
        assertEquals("done", browser.awaitState(GENERATE, "done", "error"));
        browser.element("advanced").findElement(org.openqa.selenium.By.tagName("summary")).click();
        Object small = browser.script("const small = [];"
                + "document.querySelectorAll('button, select, input, textarea, summary, a').forEach((e) => {"
                + "  const target = (e.type === 'checkbox' || e.type === 'radio') ? e.closest('label') : e;"
                + "  const r = target.getBoundingClientRect();"
                + "  if (r.width > 0 && r.height > 0 && !e.closest('footer') && (r.height < 44 || r.width < 44)) {"
                + "    small.push((e.id || e.tagName) + ' ' + Math.round(r.width) + 'x' + Math.round(r.height)); }"
                + "}); return small.join(', ');");
        assertEquals("", small, "controls smaller than 44 px");
    }

    @Test
    void aDownloadOver100MbAsksFirstWithItsSizeAndMemory() {
        browser.open(server.url());
        browser.awaitReady(LOAD);
        browser.script("window.asked = []; window.confirm = (text) => { window.asked.push(text); return false; };");
        new Select(browser.element("model")).selectByValue("stories110M");
        new WebDriverWait(browser.driver(), Duration.ofSeconds(10)).until(d -> (Long) browser.script("return window.asked.length") > 0);
        String question = (String) browser.script("return window.asked[0]");
        assertTrue(question.contains("438.4 MB download") && question.matches("(?s).*need about [0-9.]+ MB of memory.*"), question);
        double fp32Memory = memoryIn(question);
        assertEquals(Paths.defaultModel().id(), new Select(browser.element("model")).getFirstSelectedOption().getAttribute("value"),
                "declined: the picker is back on the model in use");
        assertTrue(browser.element("download").getAttribute("hidden") != null, "nothing downloads");
        assertTrue(browser.element("generate").isEnabled());

        browser.element("advanced").findElement(org.openqa.selenium.By.tagName("summary")).click();
        browser.element("quantize").click();
        new Select(browser.element("model")).selectByValue("stories110M");
        new WebDriverWait(browser.driver(), Duration.ofSeconds(10)).until(d -> (Long) browser.script("return window.asked.length") > 1);
        question = (String) browser.script("return window.asked[1]");
        assertTrue(question.contains("quantized to Q8_0 on load") && memoryIn(question) < fp32Memory / 2, question);
    }

    @Test
    void theStoryCanBeCopiedDownloadedAndShared(@TempDir Path downloads) throws Exception {
        browser.open(server.url() + "?steps=30&seed=3");
        browser.awaitReady(LOAD);
        assertFalse(browser.element("output").isDisplayed(), "no empty story box before the first story");
        assertFalse(browser.element("count").isDisplayed(), "no '0 tokens' before the first story");
        browser.script("window.shared = null; navigator.share = (data) => { window.shared = data; return Promise.resolve(); };");
        browser.element("generate").click();
        assertEquals("done", browser.awaitState(GENERATE, "done", "error"));
        String story = (String) browser.script("return document.getElementById('output').textContent");

        cdp("Browser.grantPermissions", Map.of("permissions", List.of("clipboardReadWrite", "clipboardSanitizedWrite"),
                "origin", server.url().replaceAll("/$", "")));
        browser.element("copy").click();
        new WebDriverWait(browser.driver(), Duration.ofSeconds(10)).until(d -> browser.element("status").getText().contains("copied"));
        assertEquals(story, async("navigator.clipboard.readText().then(done, (e) => done('refused: ' + e));"));

        cdp("Browser.setDownloadBehavior", Map.of("behavior", "allow", "downloadPath", downloads.toString()));
        browser.element("save").click();
        Path saved = downloads.resolve("story.txt");
        new WebDriverWait(browser.driver(), Duration.ofSeconds(20)).until(d -> java.nio.file.Files.exists(saved));
        new WebDriverWait(browser.driver(), Duration.ofSeconds(5))
                .until(d -> story.equals(readQuietly(saved)));

        browser.element("share").click();
        new WebDriverWait(browser.driver(), Duration.ofSeconds(5)).until(d -> browser.script("return window.shared") != null);
        assertEquals(story, browser.script("return window.shared.text"));
        assertEquals(browser.element("permalink").getAttribute("href"), browser.script("return window.shared.url"));
    }

    private static double memoryIn(String question) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("need about ([0-9.]+) MB of memory").matcher(question);
        assertTrue(m.find(), question);
        return Double.parseDouble(m.group(1));
    }

    private static String readQuietly(Path file) {
        try {
            return java.nio.file.Files.readString(file, java.nio.charset.StandardCharsets.UTF_8);
        } catch (IOException e) {
            return null;
        }
    }
}
