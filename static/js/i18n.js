// The scripts' messages in the page's language.
//
// Messages are written in English in the scripts and passed to t() with named %(placeholders)s; the server puts their
// translations for this page's language in <meta name="accord-messages"> (signing/web/language.py, read from
// the scripts themselves), and `make translations-extract` finds them in static/js like any other message.
"use strict";

let catalog = null;

function messages() {
  if (catalog === null) {
    catalog = {};
    const meta = document.querySelector('meta[name="accord-messages"]');
    if (meta && meta.content) {
      try {
        const parsed = JSON.parse(meta.content);
        if (parsed && typeof parsed === "object") catalog = parsed;
      } catch (error) {
        catalog = {};  // English, then
      }
    }
  }
  return catalog;
}

export function t(message, values = {}) {
  const translated = Object.prototype.hasOwnProperty.call(messages(), message) ? messages()[message] : message;
  return translated.replace(/%\((\w+)\)s/g, (whole, name) => (name in values ? String(values[name]) : whole));
}
