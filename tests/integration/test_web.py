"""test_web.py -- the operators' web view (/boardhook/) in a real headless Chromium, against the real
stack: nginx, the handler, Redis and a boardhook-worker.

Each class starts a Stack and a worker, fills Redis the real way (webhook POSTs through nginx, a
worker command that fails into the dead letters, one that holds its job, a bad POST refused), then
opens the page in Debian's chromium through chromedriver (python3-selenium) over HTTPS from
127.0.0.1. The browser trusts the stack's test CA through an NSS database in a HOME of its own, as
a user's Chromium trusts an added CA: certificate errors are not ignored. The pages must show
exactly what Redis holds; an event type and a command's stderr made of <script> and <img onerror>
must appear as text and run nothing; the browser's console must stay free of errors.

Screenshots of every view, 1280 and 800 pixels wide, go to <stack folder>/screenshots (KEEP=1 keeps
them; the README's web/screenshot-overview.png is overview-1280.png of such a run).
Run: /usr/bin/python3 test_web.py --handler PATH --worker PATH --queues PATH.
"""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path

import harness

try:
    from selenium import webdriver
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
except ImportError:   # scripts/test installs python3-selenium (BOARDHOOK_TEST_PACKAGES)
    webdriver = None

PREFIX = "bh-web"
HOST = socket.gethostname()
FIXTURES = harness.FIXTURES
# Written to be run if they ever reach the page as HTML: each would leave a trace in window.__pwned
# (or open an alert, which would also break every later WebDriver command).
HOSTILE_TYPE = '<script>window.__pwned = "type"</script><img src=x onerror="window.__pwned = \'img\'; alert(1)">'
HOSTILE_STDERR = ('Traceback (most recent call last):\n'
                  '<script>window.__pwned = "stderr"</script>\n'
                  '<img src=x onerror="window.__pwned = \'stderr-img\'; alert(2)">\n')
HOSTILE_TICKET = 4242
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1280,900"]

# Reads a table of the page as the operator sees it: one {column heading: cell text} per row, the
# text of a cell without its notes (badges such as "paused"), which go to {"notes": [...]}.
READ_TABLE = """
const table = document.getElementById(arguments[0]);
const heads = [...table.querySelectorAll('thead th')].map((th) => th.textContent);
return [...table.querySelectorAll('tbody > tr:not(.detail-row):not(.empty-row)')].map((tr) => {
  const row = { notes: [...tr.querySelectorAll('.note')].map((n) => n.textContent) };
  [...tr.children].forEach((td, i) => {
    const copy = td.cloneNode(true);
    copy.querySelectorAll('.note').forEach((n) => n.remove());
    row[heads[i]] = copy.textContent;
  });
  return row;
});
"""
READ_PAIRS = """
const pairs = {};
for (const node of document.querySelectorAll(arguments[0])) pairs[node.children[0].textContent] = node.children[1].textContent;
return pairs;
"""


def format_bytes(n):
    """What the page writes for a size (app.js bytes())."""
    if n < 1024:
        return f"{n} B"
    return f"{n / 1024:.1f} KiB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.1f} MiB"


def local_time(rfc3339):
    """What the page writes for a time, in the browser's zone (UTC here, TZ=UTC)."""
    return rfc3339[:10] + " " + rfc3339[11:19]


class Browser:
    """Chromium under chromedriver, in a folder of its own: a HOME whose NSS database trusts `ca`,
    and a new profile. Stopped by quit() (chromedriver ends Chromium), its folder removed."""

    def __init__(self, ca, folder):
        self.folder = Path(folder)
        nssdb = self.folder / "home/.pki/nssdb"
        nssdb.mkdir(parents=True)
        certutil = harness.find_program("certutil")
        subprocess.run([certutil, "-N", "-d", f"sql:{nssdb}", "--empty-password"], check=True)
        subprocess.run([certutil, "-A", "-d", f"sql:{nssdb}", "-n", "boardhook test CA", "-t", "C,,", "-i", str(ca)],
                       check=True)
        options = webdriver.ChromeOptions()
        options.binary_location = harness.find_program("chromium")
        for flag in CHROMIUM_FLAGS + [f"--user-data-dir={self.folder / 'profile'}"]:
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        env = {k: v for k, v in os.environ.items() if not k.startswith("BOARDHOOK_")}
        env.update(HOME=str(self.folder / "home"), TZ="UTC")
        service = Service(harness.find_program("chromedriver"), env=env,
                          log_path=str(self.folder / "chromedriver.log"))
        self.driver = webdriver.Chrome(service=service, options=options)
        self.driver.set_script_timeout(10)

    def quit(self):
        try:
            self.driver.quit()
        finally:
            if not harness.KEEP:
                shutil.rmtree(self.folder, ignore_errors=True)


class WebViewTest(harness.StackTest):
    """A Stack with the web view, a worker, a browser; Redis filled again before each test."""
    actions = "on"   # BOARDHOOK_WEB_ACTIONS; None: unset (the default, off)

    @classmethod
    def setUpClass(cls):
        if webdriver is None:
            raise RuntimeError("python3-selenium is missing; scripts/test installs it")
        for program, option in ((harness.WORKER, "--worker"), (harness.QUEUES, "--queues")):
            if not program or not os.access(program, os.X_OK):
                raise RuntimeError(f"{program!r} missing: pass {option}")
        cls.stack_options = {"prefix": PREFIX, "handler_env": {"BOARDHOOK_WEB_ACTIONS": cls.actions} if cls.actions else {}}
        super().setUpClass()
        cls.shots = cls.stack.dir / "screenshots"
        cls.shots.mkdir()
        cls.browser = Browser(cls.stack.ca, tempfile.mkdtemp(prefix="boardhook-chromium-", dir=cls.stack.dir))
        cls.addClassCleanup(cls.browser.quit)
        cls.driver = cls.browser.driver

    def setUp(self):
        self.stack.redis_cmd("FLUSHALL")
        self.worker = None
        self.fill()
        self.addCleanup(self.check_console)

    # ---- filling Redis the real way -------------------------------------------------------
    def fill(self):
        """3 ticket_status_change queued (no worker serves them); 1 note_deletion held by a
        consumer; 1 event of HOSTILE_TYPE failed into the dead letters (--max-attempts 1); 1 bad
        POST refused."""
        for _ in range(3):
            r = self.stack.post((FIXTURES / "ticket_status_change.json").read_bytes())
            self.assertEqual(r.status, 200, self.why(r))
        self.bad_body = (FIXTURES / "bad/missing_event_type.json").read_bytes()
        r = self.stack.post(self.bad_body)
        self.assertEqual(r.status, 400, self.why(r))
        self.bad_request_id = r.request_id

        folder = self.stack.dir
        (folder / "stderr.txt").write_text(HOSTILE_STDERR)
        (folder / "release").unlink(missing_ok=True)
        (folder / "fail.sh").write_text(f"cat > /dev/null\ncat {folder}/stderr.txt >&2\nexit 3\n")
        (folder / "hold.sh").write_text(f"cat > /dev/null\nwhile [ ! -e {folder}/release ]; do sleep 0.05; done\n")
        self.worker = harness.Process("boardhook-worker", [
            harness.WORKER, "--type", f"note_deletion=sh {folder}/hold.sh",
            "--type", f"{harness.type_key_part(HOSTILE_TYPE)}=sh {folder}/fail.sh",
            "--concurrency", "1", "--max-attempts", "1", "--timeout", "60"],   # a consumer per type
            folder / "worker.log", self.stack.handler_environment())
        self.addCleanup(self.stop_worker)
        harness.wait_for(lambda: self.stack.redis_cmd("HLEN", self.key("workers")) == 1, "worker registered", self.worker)
        self.worker_id = self.stack.redis_cmd("HKEYS", self.key("workers"))[0].decode()

        hostile = json.dumps({"CommunityName": "test-community", "EventType": HOSTILE_TYPE, "TicketId": HOSTILE_TICKET,
                              "Events": [{"Seq": 1}]}).encode()
        for body in (hostile, (FIXTURES / "note_deletion.json").read_bytes()):
            r = self.stack.post(body)
            self.assertEqual(r.status, 200, self.why(r))
        dead_key = self.key("dead", harness.type_key_part(HOSTILE_TYPE))
        harness.wait_for(lambda: self.stack.redis_cmd("LLEN", dead_key) == 1
                         and self.running_jobs() == 1, "one dead letter and one job held", self.worker)
        self.dead_bytes = self.stack.redis_cmd("LINDEX", dead_key, 0)
        self.dead_record = json.loads(self.dead_bytes)

    def running_jobs(self):
        return sum(self.stack.redis_cmd("LLEN", k) for k in self.stack.redis_cmd("KEYS", self.key("processing", "*")))

    def stop_worker(self):
        if self.worker is not None:
            (self.stack.dir / "release").touch()   # the held job finishes, so SIGTERM's drain is quick
            self.assertEqual(self.worker.stop(), 0, harness.tail(self.stack.dir / "worker.log"))
            self.worker = None

    def key(self, *parts):
        return ":".join((PREFIX,) + parts)

    # ---- the browser ----------------------------------------------------------------------
    def url(self, fragment):
        return f"https://localhost:{self.stack.https_port}/boardhook/#{fragment}"

    def open(self, fragment):
        """A fresh document at this view (going from one #view to another would only change the hash)."""
        self.driver.get("about:blank")
        self.driver.get(self.url(fragment))
        self.until(lambda: self.driver.execute_script("return document.getElementById('updated').textContent")
                   .startswith("updated"), "the page's first refresh")

    def until(self, condition, what, timeout=8):
        """Poll `condition()` until it is true (returns its value); fails with `what`."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = condition()
            if last:
                return last
            time.sleep(0.1)
        self.fail(f"{what}: not so after {timeout} s (last: {last!r})\n{self.why()}")

    def table(self, table_id):
        return self.driver.execute_script(READ_TABLE, table_id)

    def pairs(self, selector):
        return self.driver.execute_script(READ_PAIRS, selector)

    def screenshot(self, name):
        """Full-page screenshots at 1280 and 800 pixels wide; at both, nothing may be wider than
        the window (tables included: their columns must fit, not scroll)."""
        for width in (1280, 800):
            self.driver.set_window_size(width, 900)
            time.sleep(0.3)   # the chart redraws to the new width
            overflow = self.driver.execute_script("""
                const wide = [document.documentElement, ...document.querySelectorAll('.table-wrap')]
                  .filter((e) => e.offsetParent !== null || e === document.documentElement)
                  .filter((e) => e.scrollWidth > e.clientWidth + 1);
                return wide.map((e) => (e.id || e.className || e.tagName) + ': ' + e.scrollWidth + ' > ' + e.clientWidth);""")
            self.assertEqual(overflow, [], f"{name} at {width} px is wider than the window")
            height = self.driver.execute_script("return document.documentElement.scrollHeight")
            self.driver.set_window_size(width, max(600, height + 100))
            time.sleep(0.2)
            self.driver.save_screenshot(str(self.shots / f"{name}-{width}.png"))
        self.driver.set_window_size(1280, 900)

    def check_console(self):
        """No error in the browser's console during the test (CSP refusals, failed loads and
        script errors all land there)."""
        errors = [entry for entry in self.driver.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]
        self.assertEqual(errors, [], "errors in the browser console")

    def assertNothingRan(self):
        """Neither hostile string ran: no alert open, no global set, no <img> made from them."""
        try:
            text = self.driver.switch_to.alert.text
            self.fail(f"an alert is open: {text!r}")
        except NoAlertPresentException:
            pass
        self.assertIsNone(self.driver.execute_script("return window.__pwned === undefined ? null : window.__pwned"))
        self.assertEqual(self.driver.find_elements(By.CSS_SELECTOR, "img, main script"), [])


class WebView(WebViewTest):
    """BOARDHOOK_WEB_ACTIONS=on."""

    def test_overview_shows_each_type_and_the_stack(self):
        self.open("overview")
        rows = {row["Event type"]: row for row in self.until(lambda: self.table("types-table"), "types table rows")}
        self.assertEqual(set(rows), {"ticket_status_change", "note_deletion", HOSTILE_TYPE})
        counts = {t: [rows[t][c] for c in ("Queued", "Processing", "Retrying", "Dead")] for t in rows}
        self.assertEqual(counts, {"ticket_status_change": ["3", "0", "0", "0"],
                                  "note_deletion": ["0", "1", "0", "0"],
                                  HOSTILE_TYPE: ["0", "0", "0", "1"]})
        self.assertRegex(rows["ticket_status_change"]["Oldest"], r"^\d+ (ms|s)$")
        self.assertEqual(rows["note_deletion"]["Oldest"], "–")
        cards = self.pairs(".card")
        self.assertEqual({k: cards[k] for k in ("Queued", "Processing", "Retrying", "Dead", "Rejected", "Spool")},
                         {"Queued": "3", "Processing": "1", "Retrying": "0", "Dead": "1", "Rejected": "1", "Spool": "off"})
        handler = self.facts("handler-facts")
        self.assertEqual((handler["Health"], handler["Redis"], handler["Spool"], handler["Actions"]), ("ok", "ok", "off", "on"))
        redis = self.facts("redis-facts")
        self.assertEqual(redis, {"Mode": "single", "Primary": f"127.0.0.1:{self.stack.redis_port}", "Sentinels": "none"})
        self.assertEqual(self.driver.find_element(By.ID, "health").text, "healthy")
        # Two refreshes make a rate: every type's in/s and done/s are numbers, and idle.
        rows = self.until(lambda: {r["Event type"]: r for r in self.table("types-table") if r["In/s"] != "–"}, "rates", 10)
        self.assertEqual({t: (r["In/s"], r["Done/s"]) for t, r in rows.items()},
                         {t: ("0", "0") for t in ("ticket_status_change", "note_deletion", HOSTILE_TYPE)})
        self.assertEqual(len(self.driver.find_elements(By.CSS_SELECTOR, "#chart svg polyline")), 2, "the chart's two lines")
        self.assertEqual({t: r["notes"] for t, r in rows.items()}, {t: [] for t in rows})
        # Paused with the tool: the row says so at the next refresh, and only that row.
        paused = subprocess.run([harness.QUEUES, "pause", "ticket_status_change"], env=self.stack.handler_environment(),
                                capture_output=True, text=True, timeout=30)
        self.assertEqual(paused.returncode, 0, paused)
        self.until(lambda: {r["Event type"]: r["notes"] for r in self.table("types-table")} ==
                   {"ticket_status_change": ["paused"], "note_deletion": [], HOSTILE_TYPE: []}, "the paused badge", 5)
        self.screenshot("overview")

    def facts(self, dl_id):
        return self.driver.execute_script("""
            const out = {};
            for (const dt of document.querySelectorAll('#' + arguments[0] + ' > dt')) out[dt.textContent] = dt.nextElementSibling.textContent;
            return out;""", dl_id)

    def test_a_new_event_appears_without_a_reload(self):
        self.open("overview")
        self.until(lambda: self.table("types-table"), "types table rows")
        self.driver.execute_script("window.__sameDocument = 'yes'")
        posted = time.monotonic()
        r = self.stack.post((FIXTURES / "ticket_status_change.json").read_bytes())
        self.assertEqual(r.status, 200, self.why(r))

        def shown():
            row = next(r for r in self.table("types-table") if r["Event type"] == "ticket_status_change")
            return row if row["Queued"] == "4" else None
        row = self.until(shown, "4 queued ticket_status_change", timeout=3 + 2)   # refresh_seconds + margin
        print(f"\nnew event on the page {time.monotonic() - posted:.1f} s after its POST", flush=True)
        self.assertNotIn(row["In/s"], ("0", "–"), "the new event counts in in/s")
        self.assertEqual(self.pairs(".card")["Queued"], "4")
        self.assertEqual(self.driver.execute_script("return window.__sameDocument"), "yes", "the page was reloaded")
        self.assertEqual(self.driver.execute_script("return performance.getEntriesByType('navigation').length"), 1)

    def test_workers_show_the_live_worker_and_its_running_job(self):
        self.open("workers")
        workers = self.until(lambda: self.table("workers-table"), "workers rows")
        record = json.loads(self.stack.redis_cmd("HGET", self.key("workers"), self.worker_id))
        self.assertEqual(len(workers), 1, workers)
        w = workers[0]
        self.assertEqual((w["Worker"], w["State"], w["Host"], w["PID"], w["Consumers"], w["Running"]),
                         (self.worker_id, "alive", HOST, str(self.worker.pid), "2", "1"))
        self.assertEqual(w["Types"], "".join(record["types"]))   # one chip each
        self.assertRegex(w["Last heartbeat"], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \d+ (ms|s) ago$")
        self.assertEqual(w["Started"][:19], local_time(record["started_at"]))

        jobs = self.table("jobs-table")
        consumer = next(k.decode()[len(self.key("processing", "")):] for k in self.stack.redis_cmd("KEYS", self.key("processing", "*"))
                        if self.stack.redis_cmd("LLEN", k) == 1)
        envelope = json.loads(self.stack.redis_cmd("LINDEX", self.key("processing", consumer), 0))
        self.assertEqual(len(jobs), 1, jobs)
        self.assertEqual((jobs[0]["Consumer"], jobs[0]["Event type"], jobs[0]["Ticket"]),
                         (consumer, "note_deletion", str(envelope["ticket_id"]) if envelope["ticket_id"] is not None else "–"))
        self.assertEqual(jobs[0]["Event"], envelope["id"][:12] + "…")
        self.assertEqual(jobs[0]["Received"][:19], local_time(envelope["received_at"]))
        self.screenshot("workers")

    def dead_view(self):
        self.open("dead/" + urllib.parse.quote(HOSTILE_TYPE, safe=""))
        return self.until(lambda: self.table("dead-table"), "dead letter rows")

    def test_dead_letters_show_the_failure_and_the_envelope_on_demand(self):
        rows = self.dead_view()
        record = self.dead_record
        self.assertEqual(len(rows), 1, rows)
        d = rows[0]
        self.assertEqual(d["Failed"][:19], local_time(record["failed_at"]))
        self.assertEqual((d["Event"], d["Ticket"], d["Attempts"], d["Exit"]),
                         (record["envelope"]["id"][:12] + "…", str(HOSTILE_TICKET), "1", "exit 3"))
        self.assertEqual(record["exit_code"], 3)
        # The error sentence, then the stderr's last line.
        self.assertEqual(d["Error"], record["error"] + HOSTILE_STDERR.strip().splitlines()[-1])
        self.assertEqual(d["Worker"], record["worker"])
        self.assertTrue(record["worker"].startswith(self.worker_id + ":"), record["worker"])   # the consumer
        # The type picker names the type with its count, as text.
        picked = self.driver.execute_script("const s = document.getElementById('dead-type'); return [s.value, s.selectedOptions[0].textContent]")
        self.assertEqual(picked, [HOSTILE_TYPE, f"{HOSTILE_TYPE} (1)"])

        details = self.driver.find_element(By.CSS_SELECTOR, "#dead-table details")
        self.assertFalse(details.get_property("open"), "the envelope is shown on demand, not at once")
        details.find_element(By.TAG_NAME, "summary").click()
        stderr = self.driver.find_element(By.CSS_SELECTOR, "#dead-table pre.stderr")
        envelope = self.driver.find_element(By.CSS_SELECTOR, "#dead-table pre.envelope")
        self.assertTrue(envelope.is_displayed())
        self.assertEqual(stderr.get_property("textContent"), record["stderr_tail"])
        self.assertEqual(record["stderr_tail"], HOSTILE_STDERR)
        self.assertEqual(json.loads(envelope.get_property("textContent")), record["envelope"])
        # It stays open across refreshes.
        time.sleep(3.5)
        self.assertTrue(self.driver.find_element(By.CSS_SELECTOR, "#dead-table details").get_property("open"))
        self.assertNothingRan()
        self.screenshot("dead")

    def test_rejected_shows_the_refused_post(self):
        self.open("rejected")
        rows = self.until(lambda: self.table("rejected-table"), "rejected rows")
        record = json.loads(self.stack.redis_cmd("LINDEX", self.key("rejected"), 0))
        self.assertEqual(len(rows), 1, rows)
        r = rows[0]
        self.assertEqual((r["When"][:19], r["Status"], r["Reason"], r["Detail"], r["Request id"], r["Size"]),
                         (local_time(record["at"]), "400", "invalid_envelope", record["detail"], self.bad_request_id,
                          format_bytes(len(self.bad_body))))
        self.assertEqual(r["Replayable"], "yesReplay", "replayable, with its button (actions on)")
        self.screenshot("rejected")

    def test_hostile_type_and_stderr_are_text_everywhere(self):
        for fragment in ("overview", "dead/" + urllib.parse.quote(HOSTILE_TYPE, safe="")):
            self.open(fragment)
            self.until(lambda: HOSTILE_TYPE in self.driver.execute_script("return document.body.textContent"),
                       "the hostile type shown as text")
            self.assertNothingRan()
        self.until(lambda: self.table("dead-table"), "dead letter rows")
        text = self.driver.execute_script("return document.getElementById('dead-table').textContent")
        self.assertIn(HOSTILE_STDERR, text)
        self.assertEqual(self.driver.title, "boardhook queues")
        self.assertNothingRan()

    def test_requeue_from_the_page_puts_the_dead_letter_back(self):
        self.stop_worker()   # else it would take the event again at once
        self.dead_view()
        button = self.driver.find_element(By.XPATH, "//table[@id='dead-table']//button[text()='Requeue']")
        button.click()
        alert = self.until(self.alert, "the confirmation")
        self.assertIn(HOSTILE_TYPE, alert.text)
        alert.accept()
        flash = self.until(lambda: self.driver.find_element(By.ID, "flash").text, "the action's answer")
        self.assertEqual(flash, "Requeued 1.")
        queue = self.stack.redis_cmd("LRANGE", self.stack.queue_key(HOSTILE_TYPE), 0, -1)
        self.assertEqual(queue, [harness.member_bytes(self.dead_bytes, "envelope")], "the envelope, byte for byte")
        self.assertEqual(self.stack.redis_cmd("LLEN", self.key("dead", harness.type_key_part(HOSTILE_TYPE))), 0)
        self.until(lambda: self.table("dead-table") == [], "the dead-letter table emptied")
        self.driver.execute_script("location.hash = '#overview'")
        row = self.until(lambda: next((r for r in self.table("types-table") if r["Event type"] == HOSTILE_TYPE), None),
                         "the type's overview row")
        self.assertEqual((row["Queued"], row["Dead"]), ("1", "0"))

    def alert(self):
        try:
            return self.driver.switch_to.alert
        except NoAlertPresentException:
            return None

    def test_an_action_without_the_csrf_token_is_refused_and_changes_nothing(self):
        page = self.stack.request("GET", "/boardhook/")
        self.assertEqual(page.status, 200, self.why(page))
        cookie = page.header("Set-Cookie").split(";")[0]
        name, token = cookie.split("=", 1)
        self.assertEqual(name, "boardhook_csrf")
        self.assertRegex(token, r"^[0-9a-f]{64}$")
        body = json.dumps({"type": HOSTILE_TYPE}).encode()
        dead_key = self.key("dead", harness.type_key_part(HOSTILE_TYPE))
        for headers in ({"Cookie": cookie},                                   # no header
                        {"Cookie": cookie, "X-CSRF-Token": "0" * 64},         # another token
                        {"X-CSRF-Token": token},                              # no cookie
                        {}):
            r = self.stack.request("POST", "/boardhook/api/requeue", body=body,
                                   headers={"Content-Type": "application/json", **headers})
            self.assertEqual((r.status, r.json().get("error")), (403, "csrf_failed"), self.why(r))
            self.assertEqual(self.stack.redis_cmd("LRANGE", dead_key, 0, -1), [self.dead_bytes], "the dead letter moved")
            self.assertEqual(self.stack.redis_cmd("LLEN", self.stack.queue_key(HOSTILE_TYPE)), 0)
        # The same request with the token is done: the refusals above were the token's doing.
        self.stop_worker()
        r = self.stack.request("POST", "/boardhook/api/requeue", body=body,
                               headers={"Content-Type": "application/json", "Cookie": cookie, "X-CSRF-Token": token})
        self.assertEqual((r.status, r.json()), (200, {"requeued": 1}), self.why(r))
        self.assertEqual(self.stack.redis_cmd("LLEN", dead_key), 0)


class ReadOnlyWebView(WebViewTest):
    """BOARDHOOK_WEB_ACTIONS unset: the same pages, no button, and the API refuses actions."""
    actions = None

    def test_no_action_is_offered_and_the_api_refuses_them(self):
        self.open("dead/" + urllib.parse.quote(HOSTILE_TYPE, safe=""))
        rows = self.until(lambda: self.table("dead-table"), "dead letter rows")
        self.assertEqual(len(rows), 1)
        self.assertEqual(self.driver.find_elements(By.CSS_SELECTOR, "button"), [])
        self.assertEqual(self.driver.find_element(By.ID, "actions-state").text, "read-only")
        self.open("rejected")
        rows = self.until(lambda: self.table("rejected-table"), "rejected rows")
        self.assertEqual(rows[0]["Replayable"], "yes")
        self.assertEqual(self.driver.find_elements(By.CSS_SELECTOR, "button"), [])

        page = self.stack.request("GET", "/boardhook/")
        cookie = page.header("Set-Cookie").split(";")[0]
        token = cookie.split("=", 1)[1]
        r = self.stack.request("POST", "/boardhook/api/requeue", body=json.dumps({"type": HOSTILE_TYPE}).encode(),
                               headers={"Content-Type": "application/json", "Cookie": cookie, "X-CSRF-Token": token})
        self.assertEqual((r.status, r.json().get("error")), (403, "actions_disabled"), self.why(r))
        self.assertEqual(self.stack.redis_cmd("LLEN", self.key("dead", harness.type_key_part(HOSTILE_TYPE))), 1)


if __name__ == "__main__":
    harness.main()
