"""The fleet pages in a real browser: Debian's headless Chromium driven by Playwright.

    fleet.py BASE_URL TOKEN_FILE SCREENSHOT_DIR FAILING_JOB PROBLEM_KIND

Signs in with the API token, checks that FAILING_JOB is the first row of the fleet table
and shows PROBLEM_KIND, opens its client page and the run that proved the problem, and
saves screenshots at 1280 and 390 px. Exits non-zero (with the reason) on any failure.
"""

import re
import sys

from playwright.sync_api import sync_playwright, expect

base, token_file, shots, failing, kind = sys.argv[1:6]
token = open(token_file).read().strip()

with sync_playwright() as p:
    browser = p.chromium.launch(
        executable_path="/usr/bin/chromium",
        args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    )
    for width, height in [(1280, 900), (390, 844)]:
        page = browser.new_page(viewport={"width": width, "height": height})
        page.set_default_timeout(15000)
        page.goto(base + "/")
        # Not signed in: the sign-in page.
        expect(page).to_have_url(base + "/login")
        # No user name: the password is the API token.
        page.fill("#password", token)
        page.click("button[type=submit]")
        expect(page).to_have_url(base + "/")
        first = page.locator("#fleet tbody tr").first
        expect(first).to_have_attribute("data-job", failing)
        expect(first).to_have_attribute("data-state", "problem")
        expect(first.locator(".kind")).to_have_text(kind)
        # Readable at this width: the table does not scroll sideways.
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        if overflow > 0:
            sys.exit(f"the fleet page is {overflow} px wider than a {width} px screen")
        page.screenshot(path=f"{shots}/fleet-{width}.png", full_page=True)

        first.locator("a[href^='/clients/']").click()
        expect(page).to_have_url(base + "/clients/" + failing)
        problem = page.locator("#problems li").first
        expect(problem.locator(".kind")).to_have_text(kind)
        expect(page.locator("svg.chart")).to_have_count(3)
        expect(page.locator("svg.chart").first).to_be_visible()
        page.screenshot(path=f"{shots}/client-{width}.png", full_page=True)

        problem.locator("a[href^='/runs/']").click()
        expect(page.locator("#evidence")).to_contain_text("Verdict: FAIL")
        expect(page.locator("#hash")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
        page.screenshot(path=f"{shots}/run-{width}.png", full_page=True)

        if width == 1280:
            # Test now: a new run, followed live until its evidence shows.
            page.goto(base + "/clients/" + failing)
            proven_by = page.locator("#problems li a[href^='/runs/']").first.get_attribute("href")
            page.click("#test-now")
            expect(page).to_have_url(re.compile(r"/runs/[^/]+/live$|/runs/[^/]+$"))
            expect(page).to_have_url(re.compile(r"/runs/[^/]+$"), timeout=60000)
            if page.url.endswith(proven_by):
                sys.exit("Test now did not start a new run")
            expect(page.locator("#evidence")).to_contain_text("Verdict: FAIL", timeout=60000)
            expect(page.locator("#evidence")).to_contain_text("manual")

        if width == 390:
            # Acknowledge the problem from its client page, then see it marked.
            page.goto(base + "/clients/" + failing)
            problem = page.locator("#problems li").first
            problem.locator("details.ack summary").click()
            problem.locator("input[name=reason]").fill("disk replaced, restore tested by hand")
            problem.locator("input[name=by]").fill("alice")
            problem.locator("form button[type=submit]").click()
            expect(page).to_have_url(base + "/clients/" + failing)
            expect(page.locator("#problems li").first.locator(".acked")).to_contain_text(
                "acknowledged by alice: disk replaced"
            )
            page.goto(base + "/")
            first = page.locator("#fleet tbody tr").first
            expect(first).to_have_attribute("data-job", failing)
            expect(first.locator(".acked")).to_have_text("(acknowledged)")
            page.screenshot(path=f"{shots}/fleet-acknowledged-{width}.png", full_page=True)

        page.click("header button[type=submit]")
        expect(page).to_have_url(base + "/login")
        page.close()
    browser.close()
print("ok")
