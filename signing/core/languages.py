"""Language tags of the language versions of a declaration (BCP 47, as Accord writes them).

Standard library only: the services clean what the secretariat types with :func:`normalise`, the
payload checks the tags it names with :data:`payload.LANGUAGE_TAG`, and pages name a tag with
:func:`name`. Declaration text is never translated; only the names of the languages are shown.
"""

from __future__ import annotations

import re
from types import MappingProxyType

# Language (2-3 letters), then an optional script (4 letters), region (2 letters or 3 digits) and variants.
_TAG = re.compile(r"([A-Za-z]{2,3})((?:-[A-Za-z0-9]{2,8})*)")

# Each language's name in itself, for the language switches (the tags of the network's cities first).
NAMES = MappingProxyType({
    "en": "English", "tr": "Türkçe", "el": "Ελληνικά", "bg": "Български", "ro": "Română", "sr": "Српски",
    "sr-Latn": "Srpski (latinica)", "sr-Cyrl": "Српски (ћирилица)", "mk": "Македонски", "sq": "Shqip",
    "uk": "Українська", "ru": "Русский", "ka": "ქართული", "hy": "Հայերեն", "az": "Azərbaycan", "bs": "Bosanski",
    "hr": "Hrvatski", "sl": "Slovenščina", "me": "Crnogorski", "de": "Deutsch", "fr": "Français",
})


def normalise(tag: str) -> str | None:
    """The tag in its conventional case (``sr-latn`` → ``sr-Latn``, ``en-gb`` → ``en-GB``); None if malformed."""
    match = _TAG.fullmatch((tag or "").strip().replace("_", "-"))
    if match is None or len(tag.strip()) > 35:
        return None
    parts = [match[1].lower()]
    for subtag in match[2].split("-")[1:]:
        if len(subtag) == 4 and subtag.isalpha():
            parts.append(subtag.title())
        elif len(subtag) == 2 and subtag.isalpha():
            parts.append(subtag.upper())
        else:
            parts.append(subtag.lower())
    return "-".join(parts)


def name(tag: str) -> str:
    """The language's own name, or the tag itself when Accord knows no name for it."""
    return NAMES.get(tag, tag)
