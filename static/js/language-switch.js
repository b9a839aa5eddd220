// A language switch: buttons in #language-switch show one section.language-version (data-tag) at a time.
// Without this script every version stays visible. Used by the Sign page and the revision pages.
"use strict";

const bar = document.getElementById("language-switch");

function show(tag) {
  for (const section of document.querySelectorAll("section.language-version")) {
    section.hidden = section.dataset.tag !== tag;
  }
  for (const button of bar.querySelectorAll("button.language-button")) {
    button.setAttribute("aria-pressed", button.dataset.tag === tag ? "true" : "false");
  }
  bar.dataset.shown = tag;
}

if (bar) {
  const pressed = bar.querySelector('button.language-button[aria-pressed="true"]')
    || bar.querySelector("button.language-button");
  for (const button of bar.querySelectorAll("button.language-button")) {
    button.addEventListener("click", () => show(button.dataset.tag));
  }
  if (pressed) show(pressed.dataset.tag);
}
