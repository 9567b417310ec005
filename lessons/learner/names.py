"""When two display names are one name in a room: what the instructor's console would show alike.

"Anna" and "Anna" spelled with a Cyrillic capital A are different strings that look the same, so
one learner could pass for another. A name's skeleton folds those differences away: compatibility
forms (NFKC: full-width letters, ligatures), letter case (casefold), and the Cyrillic and Greek
letters drawn like a Latin one (the table below: the common ones, not Unicode's whole list of
confusables). Two names with one skeleton are one name."""

from __future__ import annotations

import hashlib
import unicodedata

# Each Cyrillic or Greek letter drawn like a Latin letter, by its Unicode name (the letters
# themselves would look like the Latin ones here too), and that Latin letter. Both cases are
# listed because a capital and its small letter can look like different Latin letters (Greek
# capital eta is an H, its small letter an n); the table applies before letter case is folded.
_LOOKALIKES = {
    "CYRILLIC CAPITAL LETTER A": "A",
    "CYRILLIC CAPITAL LETTER VE": "B",
    "CYRILLIC CAPITAL LETTER ES": "C",
    "CYRILLIC CAPITAL LETTER IE": "E",
    "CYRILLIC CAPITAL LETTER EN": "H",
    "CYRILLIC CAPITAL LETTER BYELORUSSIAN-UKRAINIAN I": "I",
    "CYRILLIC CAPITAL LETTER JE": "J",
    "CYRILLIC CAPITAL LETTER KA": "K",
    "CYRILLIC CAPITAL LETTER EM": "M",
    "CYRILLIC CAPITAL LETTER O": "O",
    "CYRILLIC CAPITAL LETTER ER": "P",
    "CYRILLIC CAPITAL LETTER DZE": "S",
    "CYRILLIC CAPITAL LETTER TE": "T",
    "CYRILLIC CAPITAL LETTER HA": "X",
    "CYRILLIC CAPITAL LETTER U": "Y",
    "CYRILLIC CAPITAL LETTER STRAIGHT U": "Y",
    "CYRILLIC CAPITAL LETTER KOMI DE": "D",
    "CYRILLIC CAPITAL LETTER QA": "Q",
    "CYRILLIC CAPITAL LETTER WE": "W",
    "CYRILLIC LETTER PALOCHKA": "I",
    "CYRILLIC SMALL LETTER A": "a",
    "CYRILLIC SMALL LETTER VE": "b",
    "CYRILLIC SMALL LETTER ES": "c",
    "CYRILLIC SMALL LETTER IE": "e",
    "CYRILLIC SMALL LETTER SHHA": "h",
    "CYRILLIC SMALL LETTER EN": "h",
    "CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I": "i",
    "CYRILLIC SMALL LETTER JE": "j",
    "CYRILLIC SMALL LETTER KA": "k",
    "CYRILLIC SMALL LETTER EM": "m",
    "CYRILLIC SMALL LETTER O": "o",
    "CYRILLIC SMALL LETTER ER": "p",
    "CYRILLIC SMALL LETTER DZE": "s",
    "CYRILLIC SMALL LETTER TE": "t",
    "CYRILLIC SMALL LETTER HA": "x",
    "CYRILLIC SMALL LETTER U": "y",
    "CYRILLIC SMALL LETTER STRAIGHT U": "y",
    "CYRILLIC SMALL LETTER KOMI DE": "d",
    "CYRILLIC SMALL LETTER QA": "q",
    "CYRILLIC SMALL LETTER WE": "w",
    "CYRILLIC SMALL LETTER PALOCHKA": "l",
    "GREEK CAPITAL LETTER ALPHA": "A",
    "GREEK CAPITAL LETTER BETA": "B",
    "GREEK CAPITAL LETTER EPSILON": "E",
    "GREEK CAPITAL LETTER ZETA": "Z",
    "GREEK CAPITAL LETTER ETA": "H",
    "GREEK CAPITAL LETTER IOTA": "I",
    "GREEK CAPITAL LETTER KAPPA": "K",
    "GREEK CAPITAL LETTER MU": "M",
    "GREEK CAPITAL LETTER NU": "N",
    "GREEK CAPITAL LETTER OMICRON": "O",
    "GREEK CAPITAL LETTER RHO": "P",
    "GREEK CAPITAL LETTER TAU": "T",
    "GREEK CAPITAL LETTER UPSILON": "Y",
    "GREEK CAPITAL LETTER CHI": "X",
    "GREEK SMALL LETTER ALPHA": "a",
    "GREEK SMALL LETTER IOTA": "i",
    "GREEK SMALL LETTER KAPPA": "k",
    "GREEK SMALL LETTER NU": "v",
    "GREEK SMALL LETTER OMICRON": "o",
    "GREEK SMALL LETTER RHO": "p",
    "GREEK SMALL LETTER UPSILON": "u",
    "GREEK SMALL LETTER CHI": "x",
    "GREEK SMALL LETTER GAMMA": "y",
}
_TABLE = str.maketrans({unicodedata.lookup(name): latin for name, latin in _LOOKALIKES.items()})


def skeleton(name: str) -> str:
    """The form two names share when they look alike: equal skeletons, one name."""
    folded = unicodedata.normalize("NFKC", name).translate(_TABLE).casefold()
    return unicodedata.normalize("NFKC", folded)


def name_key(name: str) -> str:
    """What the room's uniqueness constraint compares: a digest of the skeleton, so a name that
    NFKC lengthens (one character can become eighteen) still fits its column."""
    return hashlib.sha256(skeleton(name).encode()).hexdigest()
