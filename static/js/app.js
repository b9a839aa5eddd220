// Site-wide behaviour. No inline scripts anywhere: the CSP forbids them.
"use strict";

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement)) return;
  const question = form.dataset.confirm;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

// Character counters (templates/_forms.html, counted_textarea): the count is always visible, and over the
// limit the text is refused with the reason (never cut silently, as maxlength would cut a paste).
function formatCount(n) {
  return new Intl.NumberFormat(document.documentElement.lang || undefined).format(n);
}

function updateCounter(area) {
  const max = Number(area.dataset.maxlength);
  const counter = document.getElementById(`${area.id}-count`);
  if (!counter || !max) return;
  const length = area.value.length;
  const over = length - max;
  const template = over > 0 ? counter.dataset.over : counter.dataset.count;
  const text = (template || "{n} / {max}")
    .replace("{n}", formatCount(length)).replace("{max}", formatCount(max)).replace("{over}", formatCount(over));
  counter.textContent = text;
  counter.classList.toggle("over", over > 0);
  area.setCustomValidity(over > 0 ? text : "");
}

for (const area of document.querySelectorAll("textarea[data-maxlength]")) {
  updateCounter(area);
  area.addEventListener("input", () => updateCounter(area));
}

// Times (the Jinja global `when`, signing/web/home.py): shown in the reader's time zone and language,
// with the UTC time kept in the title (on hover).
function localiseTimes(root) {
  for (const node of root.querySelectorAll("time[datetime]")) {
    const date = new Date(node.getAttribute("datetime"));
    if (Number.isNaN(date.getTime())) continue;
    node.textContent = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
      dateStyle: "medium", timeStyle: "short",
    }).format(date);
  }
}
localiseTimes(document);
// Content a page's script inserts later (e.g. the progress after signing, static/js/sign.js) announces itself.
document.addEventListener("accord:content", (event) => {
  if (event.target instanceof Element) localiseTimes(event.target);
});

// Phones: the header navigation collapses behind the "Menu" button (CSS in static/css/app.css).
document.documentElement.classList.add("js");
const navToggle = document.querySelector(".nav-toggle");
const siteNav = document.getElementById("site-nav");
if (navToggle && siteNav) {
  navToggle.hidden = false;
  navToggle.addEventListener("click", () => {
    const open = siteNav.classList.toggle("open");
    navToggle.setAttribute("aria-expanded", String(open));
  });
}

// Wide tables scroll inside their own container, never the page (a region, focusable for keyboard users).
for (const table of document.querySelectorAll("main table")) {
  if (table.parentElement && table.parentElement.classList.contains("table-scroll")) continue;
  const box = document.createElement("div");
  box.className = "table-scroll";
  box.tabIndex = 0;
  box.setAttribute("role", "region");
  const caption = table.querySelector("caption");
  const heading = table.closest("section")?.querySelector("h2, h3");
  box.setAttribute("aria-label", (caption || heading)?.textContent?.trim() || document.title);
  table.replaceWith(box);
  box.append(table);
}
