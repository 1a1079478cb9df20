"""How job text is indexed and how a resident's query is read.

Two kinds of query come from the kiosk keyboard:

* **hanzi** (or digits, or hanzi with letters): an exact substring of the title, employer,
  category or requirements. Most job words are two hanzi (保洁, 普工, 电工), which SQLite's
  FTS5 ``trigram`` tokenizer cannot find, so each field goes into FTS5 as its own token
  stream: overlapping character **bigrams** (a query of n >= 2 characters is the phrase of
  its n-1 bigrams, found exactly where the text contains it) followed by the field's
  distinct single characters (a 1-character query is one token). Runs of letters, digits
  and hanzi are indexed apart, so a phrase never spans punctuation: the answer is the same
  as ``LIKE '%query%'`` (a query with punctuation in it is answered by that scan).
* **pinyin** (letters only): the title, employer and category. Every character may be typed
  as its whole syllable (baojie), its initial (bj), or a mix (baojy, bjie); the last one may
  be any prefix of its syllable, so results follow each key press (b, bj, baoj).
  Polyphonic characters count with every reading pypinyin knows (行 hang/xing, 长 chang/zhang,
  单 dan/shan). A query that reads as whole syllables is taken as such, as a pinyin keyboard
  would ("zhang" is not z + hang); mixed readings are tried when it does not. Latin letters in
  a title stand for themselves (CAD制图员: cad). The legal form ending an employer's name
  (有限公司 ...) is left out: nobody types it, and its polyphones would double the index.

Pinyin is indexed once per distinct title, employer and category (a "term"), by two key
indexes: the **initials** from each character on (bjy), and the **syllables** from each
character on, apart (bao'jie'yuan). A query is split into the ways it can be read
(:func:`segmentations`); each reading looked up (:func:`readings_to_look_up`: those of whole
syllables and of initials are found directly, the rest only counted unless mixed readings are
wanted) is one range lookup. Polyphones multiply keys; when a
key would pass a set number of combinations it is cut short and marked, and lookups check
such candidates against the stored readings. One- and two-letter prefixes of a syllable
(b, zh) match most texts, so each job row also carries a bit per such prefix.

This module holds the pure text functions; :mod:`content.store_schema` holds the tables and
:mod:`content.search_plan` the SQL.
"""

from __future__ import annotations

import bisect
import importlib.util
import itertools
import re
import unicodedata
from array import array
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

BREAK = "brk"  # between runs of word characters; 3 letters, so no query bigram can equal it
KEY_CHARS = 4  # initials per key of the initials index
KEY_VARIANTS = 16  # polyphone combinations per initials key before it is cut short
FULL_LETTERS = 14  # characters per key of the full-pinyin index (letters and separators)
FULL_VARIANTS = 16  # polyphone combinations per full-pinyin key before it is cut short
SYLLABLE_SEP = "'"  # between syllables in full-pinyin keys (as in xi'an); sorts before letters
TRUNCATED = "~"  # marks a key cut short by polyphones (sorts after every letter)
_SEG_LIMIT = 256  # pinyin segmentations tried per query
_LONGEST_SYLLABLE = 6  # zhuang, shuang: no piece of a query is longer
_WS = re.compile(r"\s+")
_PINYIN_QUERY = re.compile(r"[a-z]+")


def is_word_char(ch: str) -> bool:
    """Characters FTS5's unicode61 tokenizer keeps in tokens (letters, digits, private use)."""
    cat = unicodedata.category(ch)
    return cat[0] in "LN" or cat == "Co"


def normalize_query(query: str) -> str:
    """What the resident typed -> the string searched: NFKC (full-width letters to ASCII), lower case,
    no white space (a query is one word; the kiosk keyboard has no use for spaces).

    Pinyin typed on a full keyboard (lǜhuà, bǎojié, lü) is read as a pinyin keyboard types it: tone
    marks dropped, ü as v. Only a query that is then all letters is changed, so hanzi stay as typed.
    """
    text = _WS.sub("", unicodedata.normalize("NFKC", query or "").lower())
    if text and not text.isascii():
        plain = _toneless(text)
        if _PINYIN_QUERY.fullmatch(plain) and len(plain) == len(_base_letters(text)):
            return plain
    return text


def _base_letters(text: str) -> str:
    """``text`` without combining marks (one base letter per typed letter)."""
    return "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))


def without_spaces(query: str) -> str:
    """The query as typed, less white space (what a LIKE scan looks for)."""
    return _WS.sub("", query or "")


def _runs(text: str) -> list[str]:
    """Maximal runs of word characters, normalized like queries (NFKC, lower case)."""
    runs: list[str] = []
    current: list[str] = []
    for ch in unicodedata.normalize("NFKC", text).lower():
        if is_word_char(ch):
            current.append(ch)
        elif current:
            runs.append("".join(current))
            current = []
    if current:
        runs.append("".join(current))
    return runs


def index_text(text: str) -> str:
    """The FTS5 document for one field: bigram runs separated by :data:`BREAK`, then distinct characters."""
    runs = _runs(text)
    parts: list[str] = []
    singles: dict[str, None] = {}
    for run in runs:
        if parts:
            parts.append(BREAK)
        if len(run) == 1:
            parts.append(run)  # a lone character is its own token; no bigram query can match it
        else:
            parts.extend(run[i:i + 2] for i in range(len(run) - 1))
        singles.update(dict.fromkeys(run))
    if singles:
        parts.append(BREAK)
        parts.extend(singles)
    return " ".join(parts)


def query_tokens(query: str) -> list[str]:
    """The index tokens a normalized word-character query is made of: itself, or its bigrams."""
    if len(query) == 1:
        return [query]
    return [query[i:i + 2] for i in range(len(query) - 1)]


def text_match(query: str) -> str | None:
    """The FTS5 phrase for a normalized query, or None when it has characters the index skips."""
    if not query or not all(is_word_char(ch) for ch in query):
        return None
    return '"' + " ".join(query_tokens(query)) + '"'


def is_pinyin_query(query: str) -> bool:
    return bool(_PINYIN_QUERY.fullmatch(query))


# ---------------------------------------------------------------------------------------------
# pinyin


class _PinyinTable(NamedTuple):
    """Every character's typed readings in three flat objects, not a dict of 40 000 entries:
    the sorted code points, and where in ``text`` each one's readings (``hang,xing``) end."""

    codes: array[int]
    ends: array[int]
    text: str
    syllables: frozenset[str]


_ENTRY = re.compile(r'"(\d+)"\s*:\s*"([^"]*)"')


def _character_entries() -> Iterator[tuple[int, str]]:
    """Each character's toned readings as pypinyin lists them (``19968, "yī,yí,yì"``).

    Read from pypinyin's own data file, without importing pypinyin: the package loads its
    phrase tables on import (about 50 MB and a quarter of a second), which search never needs.
    """
    spec = importlib.util.find_spec("pypinyin")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    data = next((Path(f) / "pinyin_dict.json" for f in folders if (Path(f) / "pinyin_dict.json").is_file()), None)
    if data is None:  # a pypinyin that keeps its table elsewhere: ask the package itself
        from pypinyin.pinyin_dict import pinyin_dict

        yield from pinyin_dict.items()
        return
    for match in _ENTRY.finditer(data.read_text(encoding="utf-8")):
        yield int(match[1]), match[2]


_TONE_MARKS = frozenset("\u0300\u0301\u0304\u030c")  # grave, acute, macron, caron


def _typed(reading: str) -> str:
    """A toned reading as it is typed (``lǜ`` -> ``lv``), as pypinyin's Style.NORMAL writes it;
    "" for one that cannot be typed on letter keys (ê)."""
    text = unicodedata.normalize("NFD", reading.lower()).replace("u" + _DIAERESIS, "v")
    text = unicodedata.normalize("NFC", "".join(ch for ch in text if ch not in _TONE_MARKS))
    return text if text.isascii() and text.isalpha() else ""


@lru_cache(maxsize=1)
def _pinyin_table() -> _PinyinTable:
    found: set[str] = set()
    codes: array[int] = array("I")
    parts: list[str] = []
    seen: dict[str, list[str]] = {}  # a toned reading -> how it is typed (some 1 500 of them)
    for code, value in _character_entries():
        typed: list[str] = []
        for reading in value.split(","):
            if reading not in seen:
                plain = _toneless(reading)
                found.add(plain)
                if "v" in plain:  # 绿 lv is often typed lu (char_readings indexes both)
                    found.add(plain.replace("v", "u"))
                one = _typed(reading)
                seen[reading] = ([one, one.replace("v", "u")] if "v" in one else [one]) if one else []
            typed += seen[reading]
        codes.append(code)
        parts.append(",".join(dict.fromkeys(typed)))
    found.discard("")
    order = range(len(codes))
    if any(codes[i] >= codes[i + 1] for i in range(len(codes) - 1)):  # pypinyin writes it in order
        order = sorted(order, key=codes.__getitem__)  # type: ignore[assignment]
    ends: array[int] = array("I")
    at = 0
    for i in order:
        at += len(parts[i])
        ends.append(at)
    return _PinyinTable(array("I", (codes[i] for i in order)), ends, "".join(parts[i] for i in order),
                        frozenset(found))


def syllables() -> frozenset[str]:
    """Every toneless pinyin syllable pypinyin knows (ü written v, as on a keyboard)."""
    return _pinyin_table().syllables


_DIAERESIS = "\u0308"


def _toneless(reading: str) -> str:
    """``lǜ`` -> ``lv``, ``bǎo`` -> ``bao``: tone marks dropped, ü written v (as on a keyboard).

    Decomposed first: ǜ (U+01DC) carries its tone mark and its diaeresis in one code point.
    """
    text = unicodedata.normalize("NFD", reading.lower()).replace("u" + _DIAERESIS, "v")
    return "".join(ch for ch in text if "a" <= ch <= "z")


@lru_cache(maxsize=1)
def _syllable_prefixes() -> frozenset[str]:
    return frozenset(s[:i] for s in syllables() for i in range(1, len(s) + 1))


@lru_cache(maxsize=65536)
def char_readings(ch: str) -> tuple[str, ...]:
    """The toneless readings a character can be typed as; a letter or digit is itself; () for others.

    Every reading pypinyin knows (``pinyin(ch, style=Style.NORMAL, heteronym=True)``), ü also as u
    (绿 lv, lu); looked up in :func:`_pinyin_table`.
    """
    if not is_word_char(ch):
        return ()
    if ch.isascii():
        return (ch.lower(),)
    table = _pinyin_table()
    code = ord(ch)
    i = bisect.bisect_left(table.codes, code)
    readings: tuple[str, ...] = ()
    if i < len(table.codes) and table.codes[i] == code:
        start = table.ends[i - 1] if i else 0
        joined = table.text[start:table.ends[i]]
        readings = tuple(joined.split(",")) if joined else ()
    if not readings:
        return (unicodedata.normalize("NFKC", ch).lower(),) if ch.isalnum() else ()
    return readings


# The legal form at the end of an employer's name is the same for most of them, nobody types it,
# and its characters are polyphones (有 you/wei, 限 xian/wen, 司 si/ci, 任 ren/lin): indexing it
# would double the pinyin index and slow every lookup for nothing.
_LEGAL_FORMS = re.compile(r"(股份有限公司|有限责任公司|集团有限公司|有限公司|分公司|公司)$")


def pinyin_text(text: str) -> str:
    """The part of a title, employer or category that pinyin search covers (no legal-form suffix)."""
    stripped = _LEGAL_FORMS.sub("", text.strip())
    return stripped or text


def term_readings(text: str) -> list[tuple[str, ...]]:
    """Readings of each character of ``text`` that can be typed (punctuation and spaces are skipped)."""
    out = []
    for ch in pinyin_text(text):
        readings = char_readings(ch)
        if readings:
            out.append(readings)
    return out


def encode_readings(readings: list[tuple[str, ...]]) -> str:
    """``[('bao',), ('jie', 'ji')]`` -> ``"bao|jie,ji"`` (stored beside each indexed text)."""
    return "|".join(",".join(r) for r in readings)


def decode_readings(encoded: str) -> list[tuple[str, ...]]:
    return [tuple(part.split(",")) for part in encoded.split("|")] if encoded else []


def _initials(readings: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(r[0] for r in readings))


def _keys(options: list[tuple[str, ...]], sep: str, max_len: int, max_variants: int
          ) -> Iterator[tuple[str, int]]:
    """(key, position): from each character on, the options of the next characters joined by ``sep``.

    A key is cut to ``max_len`` characters (a lookup for a longer string checks its candidates).
    If one more character would make more than ``max_variants`` combinations (polyphones), the
    key stops before it and ends in :data:`TRUNCATED`, so that a lookup knows more follows.
    """
    for pos in range(len(options)):
        combos, end, length = 1, pos, -len(sep)
        while end < len(options) and length < max_len:
            if combos * len(options[end]) > max_variants and end > pos:
                break
            combos *= len(options[end])
            length += len(sep) + min(len(o) for o in options[end])
            end += 1
        cut = end < len(options) and length < max_len
        for combo in itertools.product(*options[pos:end]):
            key = sep.join(combo)
            yield (key + TRUNCATED if cut else key[:max_len]), pos


def initial_keys(readings: list[tuple[str, ...]]) -> Iterator[tuple[str, int]]:
    """Keys of the initials index: the initials from each character on (bjy), up to :data:`KEY_CHARS`."""
    return _keys([_initials(r) for r in readings], "", KEY_CHARS, KEY_VARIANTS)


def full_keys(readings: list[tuple[str, ...]]) -> Iterator[tuple[str, int]]:
    """Keys of the full-pinyin index: the syllables from each character on, apart (bao'jie'yuan)."""
    return _keys(readings, SYLLABLE_SEP, FULL_LETTERS, FULL_VARIANTS)


# One-letter and two-letter syllable prefixes: the shortest queries, which match most texts, are
# answered by a bit per prefix stored with each job instead of a list of texts.
MASK_PREFIXES: tuple[str, ...] = tuple("abcdefghijklmnopqrstuvwxyz") + (
    "ai", "an", "ao", "ba", "be", "bi", "bo", "bu", "ca", "ce", "ch", "ci", "co", "cu", "da", "de", "di",
    "do", "du", "ei", "en", "er", "fa", "fe", "fi", "fo", "fu", "ga", "ge", "go", "gu", "ha", "he", "ho",
    "hu", "ji", "ju", "ka", "ke", "ko", "ku", "la", "le", "li", "lo", "lu", "lv", "ma", "me", "mi", "mo",
    "mu", "na", "ne", "ng", "ni", "no", "nu", "nv", "ou", "pa", "pe", "pi", "po", "pu", "qi", "qu", "ra",
    "re", "ri", "ro", "ru", "sa", "se", "sh", "si", "so", "su", "ta", "te", "ti", "to", "tu", "wa", "we",
    "wo", "wu", "xi", "xu", "ya", "ye", "yi", "yo", "yu", "za", "ze", "zh", "zi", "zo", "zu")
MASK_BITS = 63  # bits per SQLite integer column used (the sign bit is left alone)
_MASK_INDEX = {prefix: i for i, prefix in enumerate(MASK_PREFIXES)}


def mask_slot(prefix: str) -> tuple[int, int] | None:
    """(column, bit value) of a one- or two-letter prefix, or None if it has no bit."""
    i = _MASK_INDEX.get(prefix)
    return None if i is None else (i // MASK_BITS, 1 << (i % MASK_BITS))


def prefix_masks(readings: list[tuple[str, ...]]) -> tuple[int, int]:
    """The two mask columns of a text: which one- and two-letter prefixes some character starts with."""
    masks = [0, 0]
    for options in readings:
        for reading in options:
            for prefix in (reading[:1], reading[:2]):
                slot = mask_slot(prefix)
                if slot is not None:
                    masks[slot[0]] |= slot[1]
    return masks[0], masks[1]


class Segmentation(NamedTuple):
    """One way to read a pinyin query: the syllable (prefix) each character was typed as.

    (A named tuple: a long query has hundreds of readings, and a tuple is the cheapest record.)
    """

    parts: tuple[str, ...]

    @property
    def initials(self) -> str:
        return "".join(p[0] for p in self.parts)

    @property
    def all_initials(self) -> bool:
        return all(len(p) == 1 for p in self.parts)

    @property
    def all_full(self) -> bool:
        """Every character before the last typed in full: the full-pinyin index answers it."""
        full = syllables()
        return all(p in full for p in self.parts[:-1])

    @property
    def full_key(self) -> str:
        return SYLLABLE_SEP.join(self.parts)

    def matches_at(self, readings: list[tuple[str, ...]], pos: int) -> bool:
        """Whether the characters from ``pos`` on can be typed as this segmentation."""
        n = len(self.parts)
        if pos + n > len(readings):
            return False
        last = n - 1
        for i, part in enumerate(self.parts):
            options = readings[pos + i]
            if i == last:
                if not any(r.startswith(part) for r in options):
                    return False
            elif not any(_typed_as(r, part) for r in options):
                return False
        return True


def _typed_as(reading: str, part: str) -> bool:
    """A character before the last one is typed as its whole syllable or its initial (b, zh, ch, sh)."""
    if reading == part:
        return True
    if len(part) == 1:
        return reading[0] == part
    return part in ("zh", "ch", "sh") and reading.startswith(part)


def segmentations(query: str, limit: int = _SEG_LIMIT) -> list[Segmentation]:
    """The ways ``query`` (lower-case letters) splits into syllables, initials and a final prefix.

    Longer syllables are tried first, so the reading a person most likely meant comes first.
    Characters before the last are a whole syllable or one letter (or zh/ch/sh); the last part
    is any prefix of a syllable, or one letter (an ASCII letter in a title is its own reading).
    """
    return list(itertools.islice(iter_segmentations(query), limit))


def _piece_ends(query: str) -> list[list[tuple[int, bool]]]:
    """For each start in ``query``: where a part before the last may end (longest first, as
    :func:`segmentations` tries them) and whether that part is a whole syllable (else one letter or
    zh/ch/sh)."""
    full = syllables()
    n = len(query)
    table = []
    for start in range(n):
        ends = []
        for end in range(min(n - 1, start + _LONGEST_SYLLABLE), start, -1):
            piece = query[start:end]
            if piece in full:
                ends.append((end, True))
            elif end == start + 1 or piece in ("zh", "ch", "sh"):
                ends.append((end, False))
        table.append(ends)
    return table


def _last_parts(query: str) -> list[bool]:
    """For each start in ``query``: whether the rest can be the last part (a syllable prefix, or one letter)."""
    prefixes = _syllable_prefixes()
    n = len(query)
    return [start == n - 1 or query[start:] in prefixes for start in range(n)]


def iter_segmentations(query: str) -> Iterator[Segmentation]:
    """:func:`segmentations` one at a time, in the same order, without a limit."""
    if query:
        yield from _walk(query, _piece_ends(query), _last_parts(query))


def _walk(query: str, ends: list[list[tuple[int, bool]]], last: list[bool]) -> Iterator[Segmentation]:
    stack: list[tuple[int, tuple[str, ...]]] = [(0, ())]
    while stack:
        start, parts = stack.pop()
        if last[start]:
            yield Segmentation((*parts, query[start:]))
        stack.extend((end, (*parts, query[start:end])) for end, _ in reversed(ends[start]))


def readings_to_look_up(query: str, *, single: bool = True) -> list[tuple[Segmentation, str]]:
    """The readings of ``query`` that are looked up, each with its key index: "initials" (every
    part one letter), "full" (every part before the last a whole syllable) or "mixed" (the
    initials index, each candidate checked). Mixed readings (bjie: an initial, then a syllable) only
    when the query does not read as whole syllables ("zhang" is 张/长, not z+hang, as a pinyin
    keyboard would take it), and at most :data:`MIXED_LIMIT`, the first as :func:`segmentations`
    orders them; of a query with more readings than :data:`_SEG_LIMIT`, only the first that many.
    With ``single`` False, readings of the whole query as one part are left out.

    The readings of whole syllables are found directly (a long query has hundreds of readings
    with single letters in them, which are not looked up), so only the counts walk the rest.
    """
    if not query:
        return []
    n = len(query)
    ends, last = _piece_ends(query), _last_parts(query)
    # how many readings each rest of the query has
    ways = [0] * (n + 1)
    for start in range(n - 1, -1, -1):
        ways[start] = last[start] + sum(ways[end] for end, _ in ends[start])
    if ways[0] > _SEG_LIMIT:
        segs = segmentations(query)
        whole = [seg for seg in segs if seg.all_initials or seg.all_full]
        mixed: Iterator[Segmentation] = (seg for seg in segs if not (seg.all_initials or seg.all_full))
        allow_mixed = not any(seg.all_full for seg in segs)
    else:
        whole = []
        stack: list[tuple[int, tuple[str, ...]]] = [(0, ())]
        while stack:  # only whole syllables before the last part
            start, parts = stack.pop()
            if last[start]:
                whole.append(Segmentation((*parts, query[start:])))
            stack.extend((end, (*parts, query[start:end])) for end, syllable in ends[start] if syllable)
        allow_mixed = not whole
        if n > 1 and not any(len(seg.parts) == n for seg in whole):
            whole.append(Segmentation(tuple(query)))  # every letter an initial: always a reading
        mixed = (seg for seg in _walk(query, ends, last) if not (seg.all_initials or seg.all_full))
    # a reading with as many parts as letters is all initials; the others here, whole syllables
    out = [(seg, "initials" if len(seg.parts) == n else "full") for seg in whole if single or len(seg.parts) > 1]
    if allow_mixed:
        out += [(seg, "mixed") for seg in itertools.islice(mixed, MIXED_LIMIT) if single or len(seg.parts) > 1]
    return out


MIXED_LIMIT = 16  # mixed readings (initials and syllables) looked up per query


class KeyLookup(NamedTuple):
    """How to find candidates for a typed string in one key index.

    Keys in ``[lo, hi)`` start with the string (``exact``: no check needed when the whole string
    fitted in the key); keys in ``cut`` were cut short and are proper prefixes of it (check those).
    """

    lo: str
    hi: str
    exact: bool
    cut: tuple[str, ...]


def key_lookup(typed: str, max_len: int, sep: str = "") -> KeyLookup:
    """Lookups for ``typed`` in an index whose keys hold up to ``max_len`` characters; with a
    separator, keys are only ever cut short between syllables."""
    head = typed[:max_len]
    last = min(len(typed), max_len + 1)
    if sep:
        cut = tuple(typed[:i] + TRUNCATED for i in range(1, last) if typed[i] == sep)
    else:
        cut = tuple(typed[:i] + TRUNCATED for i in range(1, last))
    return KeyLookup(head, head + "\x7f", len(typed) <= max_len, cut)
