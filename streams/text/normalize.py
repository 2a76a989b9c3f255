"""Text normalisation shared by the classifiers and the content-hash dedupe.

`normalize` is deterministic and cheap (a handful of compiled regex passes): lowercase, HTML
entities decoded, retweet prefixes dropped, mentions and URLs replaced by the placeholders `@user`
and `http`, runs of one character capped at two, Arabic letter forms unified and diacritics /
tatweel removed, whitespace collapsed.
"""

from __future__ import annotations

import html
import re
import unicodedata

__all__ = ["URL", "USER", "normalize"]

USER = "@user"
URL = "http"

_URL_RE = re.compile(r"(?:https?://|www\.)\S+|\b[a-z0-9.-]+\.(?:com|net|org|ly|co)/\S*", re.I)
_MENTION_RE = re.compile(r"(?<![\w@])@\w+(?:\.\w+)*|<user>", re.I)
_URL_TOKEN_RE = re.compile(r"<url>", re.I)
_RT_RE = re.compile(r"(?:^|(?<=\s))rt\s+(?=@user\b)|\brt\s*:", re.I)
_REPEAT_RE = re.compile(r"(.)\1{2,}", re.S)
_SPACE_RE = re.compile(r"\s+")
# Arabic: harakat, tanween, shadda, sukun, superscript alef, Quranic marks; and the tatweel.
_AR_DROP_RE = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_AR_MAP = str.maketrans(
    {
        "\u0623": "\u0627",  # أ -> ا
        "\u0625": "\u0627",  # إ -> ا
        "\u0622": "\u0627",  # آ -> ا
        "\u0671": "\u0627",  # ٱ -> ا
        "\u0649": "\u064a",  # ى -> ي
        "\u0629": "\u0647",  # ة -> ه
        "\u06cc": "\u064a",  # Persian ye -> ي
        "\u06a9": "\u0643",  # keheh -> ك
        "\u0624": "\u0621",  # ؤ -> ء
        "\u0626": "\u0621",  # ئ -> ء
        "\u200c": " ",  # zero-width non-joiner
        "\u200d": "",  # zero-width joiner
        "\u200f": "",  # right-to-left mark
        "\u200e": "",  # left-to-right mark
        "\ufeff": "",
    }
)


_ARABIC_RE = re.compile("[\u0600-\u06ff]")


def normalize(text: str) -> str:
    """Canonical form of `text` for model input and for content hashing."""
    if not text:
        return ""
    if "&" in text:
        text = html.unescape(text)
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    text = text.lower()
    text = _URL_RE.sub(f" {URL} ", text)
    text = _URL_TOKEN_RE.sub(f" {URL} ", text)
    text = _MENTION_RE.sub(f" {USER} ", text)
    text = _RT_RE.sub(" ", text)
    if _ARABIC_RE.search(text):
        text = _AR_DROP_RE.sub("", text).translate(_AR_MAP)
    text = _REPEAT_RE.sub(r"\1\1", text)
    return _SPACE_RE.sub(" ", text).strip()
