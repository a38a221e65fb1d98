"""Language codes: what users type, what outputs carry."""

from __future__ import annotations

# Norwegian is `nb` (Bokmål) in outputs; `no` is accepted on input and never written.
_ALIASES = {"no": "nb", "nor": "nb", "nob": "nb", "nno": "nn", "rus": "ru"}


def normalize_lang(code: str) -> str:
    """Lower-case ISO 639-1 code with aliases resolved: `NO` -> `nb`, `ru-RU` -> `ru`."""
    base = code.strip().lower().replace("_", "-").split("-")[0]
    if not base.isalpha() or not 2 <= len(base) <= 3:
        raise ValueError(f"not a language code: {code!r}")
    return _ALIASES.get(base, base)


# Full locales for TMX: Trados and memoQ match the whole code and skip units that differ.
_LOCALES = {"ru": "ru-RU", "nb": "nb-NO", "nn": "nn-NO", "uk": "uk-UA", "be": "be-BY", "en": "en-US",
            "de": "de-DE", "fr": "fr-FR", "sv": "sv-SE", "da": "da-DK", "fi": "fi-FI"}


def normalize_locale(code: str) -> str:
    """A TMX language code: `nb-no` -> `nb-NO`, `no-NO` -> `nb-NO`, `ru` -> `ru-RU`."""
    parts = code.strip().replace("_", "-").split("-")
    base = normalize_lang(parts[0])
    if len(parts) == 1:
        return _LOCALES.get(base, base)
    rest = []
    for part in parts[1:]:
        if not part.isalnum() or not 2 <= len(part) <= 8:
            raise ValueError(f"not a locale: {code!r}")
        rest.append(part.upper() if len(part) == 2 else part.title() if len(part) == 4 else part)
    return "-".join([base, *rest])
