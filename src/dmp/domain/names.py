"""How names are compared when someone looks a person or an establishment up: accents, case,
hyphens and apostrophes do not count. A patient types « lefevre » or « LEFÈVRE » for Lefèvre,
« saint etienne » for Saint-Étienne, « oeuvre » for Œuvre. Pure: no I/O."""

from __future__ import annotations

import re
import unicodedata

# Letters NFKD does not decompose, written as French writes them out.
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ø": "o", "ł": "l", "đ": "d", "ð": "d"})
_NOT_A_WORD = re.compile(r"[\W_]+")


def words(text: str) -> list[str]:
    """The words of ``text``, folded: lower case, without accents, split on anything that is
    not a letter or a digit (spaces, hyphens, apostrophes, dots)."""
    # Decomposed before and after the case is folded: "ᴬ" becomes "A" only once decomposed,
    # and folding a case may give a letter that decomposes.
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return [word for word in _NOT_A_WORD.split(bare.translate(_LIGATURES)) if word]


def search_key(text: str) -> str:
    """What the directory keeps of a name to find it by: its folded words, each with a space
    before it (and one at the end), so that « word starts with » is « key contains ' ' + word »."""
    return "".join(f" {word}" for word in words(text)) + " "
