// The board on a wall screen: nobody scrolls it, so it pages itself. Each page starts at a line's
// heading or an order's row (never mid-row) and holds what fits under the bar; every few seconds
// (the bar's data-page-seconds) the next page comes, then the first again. The clock ticks in the plant's time zone, and the
// time of the last update turns red when the polls stop arriving.
"use strict";

(() => {
  const STALE_SECONDS = 20;
  let page = 0;

  const bar = () => document.getElementById("wall-bar");

  // Where each page starts (a scroll offset) and the line it starts in, for the bar.
  function pageStarts() {
    const board = document.getElementById("board");
    if (!board) return [{ offset: 0, line: "" }];
    const top = bar() ? bar().offsetHeight : 0;
    const height = window.innerHeight - top;
    const blocks = board.querySelectorAll("section.line > h2, #board table.board > tbody > tr");  // not the rows of the charts' hidden tables
    const starts = [{ offset: 0, line: "" }];
    let start = 0;
    for (const block of blocks) {
      const box = block.getBoundingClientRect();
      const blockTop = box.top + window.scrollY - top;
      const blockBottom = box.bottom + window.scrollY - top;
      if (blockBottom - start > height && blockTop > start) {
        start = blockTop;
        // A page that starts inside a line's table names the line, whose heading is on an earlier page.
        const heading = block.matches("tr") ? block.closest("section.line").querySelector("h2") : null;
        starts.push({ offset: start, line: heading ? heading.textContent.trim() : "" });
      }
    }
    return starts;
  }

  function show() {
    const starts = pageStarts();
    page %= starts.length;
    window.scrollTo(0, starts[page].offset);
    const label = document.querySelector("[data-wall-page]");
    if (label) {
      label.hidden = starts.length < 2;
      label.textContent = `${page + 1} / ${starts.length}`;
    }
    const line = document.querySelector("[data-wall-line]");
    if (line) {
      line.textContent = starts[page].line;
    }
  }

  function tick() {
    const clock = document.querySelector("[data-clock]");
    if (clock) {
      clock.textContent = new Intl.DateTimeFormat("en-GB", {
        timeZone: clock.dataset.timeZone || undefined, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
      }).format(new Date());
    }
    const updated = document.querySelector("[data-updated-at]");
    if (updated) {
      updated.classList.toggle("stale", Date.now() / 1000 - Number(updated.dataset.updatedAt) > STALE_SECONDS);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    show();
    tick();
    setInterval(tick, 1000);
    const seconds = Number(bar() && bar().dataset.pageSeconds) || 10;
    setInterval(() => { page += 1; show(); }, seconds * 1000);
  });
  // A poll replaced the board: heights may have changed, stay on the same page number.
  document.addEventListener("htmx:afterSettle", show);
  window.addEventListener("resize", show);
})();
