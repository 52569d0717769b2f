"""Screenshots of every page, as the role that uses it, at phone, desktop and wall sizes, in both languages.

    .venv/bin/python docs/screenshots/gallery.py --base http://127.0.0.1:8000

Run against the demo plant (``make run``: its users sign in with their name as password). Writes
``docs/screenshots/pages/<page>-<language>-<width>.jpg`` and the index ``docs/screenshots/pages.md``,
and prints each page whose content is wider than the window (a horizontal scroll bar) or that did
not answer 200. Chromium is Debian's (``/usr/bin/chromium``), driven by Playwright.
"""

from __future__ import annotations

import argparse
import sys
import urllib.parse
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
SIZES = {390: 844, 1280: 900, 1920: 1080}
LANGUAGES = {"en": "English", "zh-hans": "简体中文"}

# (name, role who uses it, path); the demo's order, work center and NCR numbers.
PAGES = [
    ("home-planner", "planner", "/"),
    ("home-supervisor", "supervisor", "/"),
    ("home-quality", "quality", "/"),
    ("planning", "planner", "/planning/"),
    ("planning-order", "planner", "/planning/orders/WO-1018/"),
    ("planning-load", "planner", "/planning/load/"),
    ("planning-gantt", "planner", "/planning/gantt/"),
    ("board", "supervisor", "/board/"),
    ("andon", "supervisor", "/andon/"),
    ("oee", "supervisor", "/oee/"),
    ("oee-machine", "supervisor", "/oee/CUT-01/"),
    ("unassigned-production", "supervisor", "/unassigned-production/"),
    ("quality", "quality", "/quality/"),
    ("quality-ncr", "quality", "/quality/ncr/1/"),  # open one first: POST /api/v1/nonconformances
    ("quality-spc", "quality", "/quality/spc/SA-1100/20/ANGLE/"),
    ("reports-daily", "supervisor", "/reports/daily/"),
    ("reports-labor", "planner", "/reports/labor/"),
    ("trace", "quality", "/trace/"),
    ("sync", "admin", "/sync/"),
    ("sync-messages", "admin", "/sync/messages/"),
    ("sync-dead-letters", "admin", "/sync/dead-letters/"),
    ("sync-reconciliation", "admin", "/sync/reconciliation/"),
    ("sync-pulls", "admin", "/sync/pulls/"),
    ("station-setup", "supervisor", "/station/setup/"),
    ("sign-in", None, "/accounts/login/"),
    ("not-found", "planner", "/no-such-page/"),
]


def index_write(*, pages: list[tuple]) -> None:
    """``pages.md``: every page of the list whose screenshots are on disk (a run with ``--only`` keeps the others)."""
    lines = ["# Every page, as its user sees it", "",
             "Taken by `docs/screenshots/gallery.py` from the demo plant (`make run`), at 390 px (phone), "
             "1280 px (desktop) and 1920 px (wall screen), in English and Simplified Chinese.", ""]
    for name, role, path in pages:
        if not (HERE / "pages" / f"{name}-en-390.jpg").exists():
            continue
        lines += [f"## {name} — `{path}` ({role or 'signed out'})", "", "| | 390 px | 1280 px | 1920 px |", "|---|---|---|---|"]
        for language, label in LANGUAGES.items():
            cells = [f"![{name} {language} {width}](pages/{name}-{language}-{width}.jpg)" for width in SIZES]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    (HERE / "pages.md").write_text("\n".join(lines), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--only", help="comma-separated page names")
    parser.add_argument("--extra", action="append", default=[], help="name,role,path of a page to add")
    args = parser.parse_args()
    if urllib.parse.urlsplit(args.base).hostname not in {"127.0.0.1", "localhost"}:
        parser.error("--base must be a loopback address")
    extras = [tuple(None if part == "-" else part for part in extra.split(",", 2)) for extra in args.extra]
    pages = PAGES + extras
    if args.only:
        wanted = set(args.only.split(","))
        pages = [page for page in pages if page[0] in wanted]
    out = HERE / "pages"
    out.mkdir(exist_ok=True)
    problems, rows = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium)
        for language in LANGUAGES:
            contexts: dict[str | None, object] = {}
            for name, role, path in pages:
                context = contexts.get(role)
                if context is None:
                    context = contexts[role] = browser.new_context(viewport={"width": 1280, "height": 900})
                    context.add_cookies([{"name": "django_language", "value": language, "url": args.base}])
                    if role:
                        page = context.new_page()
                        page.goto(f"{args.base}/accounts/login/")
                        page.fill("input[name=username]", role)
                        page.fill("input[name=password]", role)
                        page.click("button[type=submit], input[type=submit]")
                        page.wait_for_load_state()
                        page.close()
                page = context.new_page()
                for width, height in SIZES.items():
                    page.set_viewport_size({"width": width, "height": height})
                    response = page.goto(f"{args.base}{path}")
                    page.wait_for_load_state("networkidle")
                    scroll_width = page.evaluate("document.documentElement.scrollWidth")
                    file = out / f"{name}-{language}-{width}.jpg"
                    page.screenshot(path=str(file), type="jpeg", quality=70)
                    status = response.status if response else 0
                    if scroll_width > width + 1:
                        problems.append(f"{name} {language} {width}: content {scroll_width} px wide")
                    if status != 200 and name != "not-found":
                        problems.append(f"{name} {language} {width}: HTTP {status}")
                    rows.append((name, role, path, language, width, file.name))
                page.close()
            for context in contexts.values():
                context.close()
        browser.close()
    index_write(pages=PAGES + extras)
    for problem in problems:
        print("PROBLEM", problem)
    print(f"{len(rows)} screenshots, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
