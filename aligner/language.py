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
