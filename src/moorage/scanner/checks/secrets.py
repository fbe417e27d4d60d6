"""Sensitive information: private keys, cloud keys, tokens and passwords in image files.

``SecretCheck`` is a ``FileCheck``: it runs on every regular file of every layer. Speed comes
from refusing cheaply: ``wants`` drops files by kind, size, suffix and directory from the header
alone; ``check`` drops binaries by a NUL-byte sniff of the first 8 KiB, then runs only the rules
whose literal keywords occur in the file (see ``secret_rules``). False positives are kept down
by entropy floors, placeholder filters (``EXAMPLE``, ``${VAR}``, ``<password>``...), validators
(a PEM header must be followed by key material, a JWT header must be JSON) and by not running
generic rules in documentation, example and test paths. A secret never leaves this module
unmasked: findings carry ``redacted_match`` only.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import yara

from moorage.scanner.checks.findings import Finding, SecretFinding, Severity
from moorage.scanner.checks.secret_rules import SECRET_RULES, SecretRule, key_material_after
from moorage.scanner.files import FileEntry, FileKind

DEFAULT_MAX_BYTES = 1024 * 1024
"""Content cap: secrets past the first MiB of a file are not searched."""
LARGEST_FILE = 16 * 1024 * 1024
"""Files larger than this are data or binaries, not configuration: not read at all."""
MAX_FINDINGS_PER_FILE = 20
"""A file with more matches than this is reported up to this many (a dump of keys is one leak)."""
MAX_WINDOWS_PER_RULE = 1024
"""A file holding one rule's keywords more often than this is searched around the first ones only.

Real configuration files hold a keyword a handful of times; a file made of nothing but keywords
(an attempt to slow the scanner) would otherwise make every position a regex start.
"""
_SNIFF_BYTES = 8192
_YARA_TIMEOUT_SECONDS = 10
_MASK = "********"

_SKIPPED_SUFFIXES = (
    ".png", ".jpg", ".jpeg", ".gif", ".ico", ".bmp", ".webp", ".tif", ".tiff", ".svgz", ".woff",
    ".woff2", ".ttf", ".otf", ".eot", ".pcf", ".gz", ".bz2", ".xz", ".lz", ".lzma", ".zst", ".zip",
    ".jar", ".war", ".ear", ".whl", ".egg", ".tar", ".tgz", ".7z", ".rar", ".so", ".a", ".o",
    ".pyc", ".pyo", ".class", ".dll", ".exe", ".mo", ".gmo", ".deb", ".rpm", ".pdf", ".mp3",
    ".mp4", ".wav", ".ogg", ".db", ".sqlite", ".pack", ".idx", ".map", ".md5sums",
)  # fmt: skip
SKIPPED_DIRS = (  # system trees that hold no secrets; HSS lists them as default allowlisted paths
    "/proc/", "/sys/", "/dev/", "/usr/share/zoneinfo/", "/usr/share/locale/", "/usr/lib/locale/",
    "/usr/share/i18n/", "/usr/share/terminfo/", "/usr/lib/terminfo/", "/usr/share/mime/",
    "/usr/share/man/", "/usr/share/info/", "/usr/share/common-licenses/", "/var/lib/dpkg/info/",
    "/var/cache/debconf/", "/var/lib/apt/lists/", "/usr/share/X11/locale/",
)  # fmt: skip
_DOCUMENTATION_PATH = re.compile(
    r"^/usr/share/doc/|^/usr/share/(?:[^/]+/)?examples?/|/(?:docs?|examples?|samples?|tests?|"
    r"testdata|test_data|fixtures?|__tests__|spec)/",
    re.IGNORECASE,
)
_PLACEHOLDER_WORDS = ("example", "dummy", "fake", "redacted")
_FILLER_MARKERS = ("xxxx", "****", "0000000000")
_LONG_FILLERS = ("xxxxxxxx", "XXXXXXXX", "********", "0000000000")  # masked values, whatever surrounds them


_GENERIC_MARKERS = (
    "${", "$(", "{{", "%(", "<", ">", "[", "getenv", "environ", "process.env", "os.", "env(", "...",
)  # fmt: skip
_GENERIC_PLACEHOLDER_WORDS = frozenset({
    "your", "my", "sample", "example", "changeme", "change", "placeholder", "password", "passwd", "secret",
    "token", "insert", "replace", "todo", "tbd", "none", "null", "nil", "true", "false", "undefined",
    "here", "dummy", "fake", "redacted", "xxx", "value", "default",
})  # fmt: skip
_WORD_SPLIT = re.compile(r"[^a-z0-9]+")
# Values a generic ``token = ...`` rule meets that are no secret: identifiers (``NextToken``) and
# versions (``^4.0.0``, ``1.2.3``).
_NOT_A_SECRET = re.compile(r"[A-Z][a-z]{2,}(?:[A-Z][a-z]{2,})+|[\^~>=<v]{0,2}\d+(?:\.[\dx*]+)+(?:[-+.][0-9A-Za-z.]+)?")


def shannon_entropy(value: bytes) -> float:
    """Shannon entropy of ``value`` in bits per byte (0 for an empty value)."""
    if not value:
        return 0.0
    total = len(value)
    return -sum(n / total * math.log2(n / total) for n in Counter(value).values())


def mask_secret(secret: str, keep_prefix: int) -> str:
    """Mask a secret: a short non-secret type prefix at most, then a fixed-width mask.

    The prefix is kept only when it is at most a quarter of the secret, so the mask never hides
    less than three quarters of it, and the mask's width never tells the secret's length.
    """
    keep = min(keep_prefix, len(secret) // 4)
    return secret[:keep] + _MASK


_PATH = re.compile(r"(?:~|\.{1,2})?(?:/[A-Za-z0-9._@-]+)+/?")
_ALNUM_RUN = re.compile(r"[A-Za-z0-9]{6,}")
# A path component people write: lower case words, CamelCase words, or an all-capitals name
# (``postgresql``, ``MyDocuments``, ``README.md``), never random case (``LkrqPqCDO``).
_WORDLIKE = re.compile(r"(?:[A-Z]?[a-z0-9._-]+)+|[A-Z0-9._-]+(?:\.[a-z0-9]+)?")


def looks_like_path(value: str) -> bool:
    """A file path (``/run/secrets/db``), as opposed to a base64 secret that starts with ``/``.

    Paths are slash-separated names; a random base64 value that happens to begin with ``/``
    almost surely has an empty component (``//``), a ``+``, or a run of letters and digits that
    mixes cases like no file name does (``rwqtUVyd4882``).
    """
    if _PATH.fullmatch(value) is None or _looks_random(value):
        return False
    return all(_WORDLIKE.fullmatch(part) for part in value.split("/") if part not in ("", ".", "..", "~"))


def is_placeholder_value(secret: bytes, generic: bool) -> bool:
    """Values that are obviously not real secrets: documentation examples, variables, words.

    Specific rules (a key with a known shape) drop only documentation markers (``EXAMPLE``,
    ``xxxx``); ``generic`` ones (any ``password = ...``) also drop variables, paths, numbers,
    booleans and template words.
    """
    text = secret.decode("latin-1")
    lowered = text.lower()
    if generic and (
        any(marker in lowered for marker in _GENERIC_MARKERS) or lowered.startswith(("$", "%", "@", "&", "*"))
    ):
        return True
    if any(marker in text for marker in _LONG_FILLERS):
        return True
    # A short word inside random-looking text is chance ("...wvFAkEst3..." holds "fake"), not a
    # placeholder; a long one is not (the AWS documentation's "...bPxRfiCYEXAMPLEKEY").
    random = _looks_random(text)
    if any(word in lowered for word in (*_PLACEHOLDER_WORDS, *_FILLER_MARKERS) if not random or len(word) >= 7):
        return True

    if not generic:
        return False
    if not random and any(word in _GENERIC_PLACEHOLDER_WORDS for word in _WORD_SPLIT.split(lowered)):
        return True
    if looks_like_path(text) or lowered.isdigit() or _NOT_A_SECRET.fullmatch(text):
        return True
    return len(set(lowered)) <= 2


def _looks_random(value: str) -> bool:
    """Whether ``value`` holds a run of letters and digits that mixes cases like generated keys do
    and words do not (the same test ``looks_like_path`` uses)."""
    for run in _ALNUM_RUN.findall(value):
        upper, lower = any(c.isupper() for c in run), any(c.islower() for c in run)
        if upper and lower and (len(run) >= 13 or any(c.isdigit() for c in run)):
            return True
    return False


class SecretCheck:
    """Finds secrets in files (a ``FileCheck``); built once, reused for every file of a scan."""

    name = "secret"

    def __init__(
        self,
        rules: Iterable[SecretRule] = SECRET_RULES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        skipped_paths: Iterable[str] = (),
    ) -> None:
        """Use ``rules`` (the shipped table by default); ``skipped_paths`` adds path prefixes to skip."""
        self.rules = tuple(rules)
        self.max_bytes = max_bytes
        self._skipped_dirs = SKIPPED_DIRS + tuple(skipped_paths)
        self._keywords = _KeywordIndex(keyword for rule in self.rules for keyword in rule.keywords)

    def wants(self, entry: FileEntry) -> bool:
        """Regular, non-empty, not huge files outside data directories and binary formats."""
        if entry.kind is not FileKind.REGULAR or entry.size == 0 or entry.size > LARGEST_FILE:
            return False
        path = entry.path
        if path.startswith(self._skipped_dirs):
            return False
        return not path.lower().endswith(_SKIPPED_SUFFIXES)

    def check(self, entry: FileEntry, content: bytes) -> list[Finding]:
        """Secrets in one file's content (masked); nothing for binaries."""
        content = content[: self.max_bytes]
        if b"\x00" in content[:_SNIFF_BYTES]:
            return []
        return [
            SecretFinding(
                rule_id=found.rule.rule_id,
                severity=found.severity,
                message=f"{found.title} in {entry.path}",
                path=entry.path,
                layer_digest=entry.layer_digest,
                line=found.line,
                redacted_match=found.redacted_match,
            )
            for found in self.find(content, path=entry.path)
        ]

    def find(self, text: bytes, *, path: str = "") -> list[SecretMatch]:
        """Secrets in any text (a file, an ENV value, a build command), masked.

        ``path`` drives the path-specific rules (``.env`` files, config files, docker
        ``config.json``) and turns generic rules off in documentation; with no path only the
        rules that need none run. At most ``MAX_FINDINGS_PER_FILE`` matches are returned.
        """
        hits = self._keywords.occurrences(text)
        if not hits:
            return []
        in_docs = _DOCUMENTATION_PATH.search(path) is not None
        found: list[SecretMatch] = []
        taken: list[tuple[int, int]] = []
        for rule in self.rules:
            if rule.generic and in_docs:
                continue
            if rule.path_filter is not None and not rule.path_filter(path):
                continue
            if not any(keyword in hits for keyword in rule.keywords):
                continue
            for match in _matches(rule, text, hits):
                secret_match = _accept(rule, text, match, taken)
                if secret_match is not None:
                    found.append(secret_match)
                    if len(found) >= MAX_FINDINGS_PER_FILE:
                        return found
        return found


@dataclass(frozen=True, slots=True)
class SecretMatch:
    """One secret found in a text, already masked."""

    rule: SecretRule
    """The rule that matched."""
    severity: Severity
    """The rule's severity, lowered for an encrypted private key."""
    title: str
    """What was found (``encrypted private key``, ``AWS access key id``...)."""
    line: int
    """1-based line of the match."""
    redacted_match: str
    """The match with its secret masked."""
    secret_spans: tuple[tuple[int, int], ...]
    """Byte spans of the secret in the text, for masking it elsewhere (a whole key block for keys)."""


def _accept(rule: SecretRule, text: bytes, match: re.Match[bytes], taken: list[tuple[int, int]]) -> SecretMatch | None:
    """A secret for one match, or None if filters reject it or a prior rule took the spot."""
    groups = [g for g in rule.secret_groups if match.group(g) is not None]
    if rule.secret_groups and not groups:
        return None
    span = match.span(groups[0]) if groups else match.span()
    if any(start < span[1] and span[0] < end for start, end in taken):
        return None
    secret = match.group(groups[0]) if groups else b""
    if groups and (is_placeholder_value(secret, rule.generic) or shannon_entropy(secret) < rule.min_entropy):
        return None
    if rule.validate is not None and not rule.validate(text, match):
        return None
    taken.append(span)
    severity, title = rule.severity, rule.title
    if not groups and _looks_encrypted(text, match):
        severity, title = Severity.MEDIUM, f"encrypted {rule.title}"
    return SecretMatch(
        rule=rule,
        severity=severity,
        title=title,
        line=text.count(b"\n", 0, match.start()) + 1,
        redacted_match=_redact(match, groups, rule.keep_prefix),
        secret_spans=tuple(match.span(g) for g in groups) if groups else (_key_span(text, match),),
    )


def _key_span(text: bytes, match: re.Match[bytes]) -> tuple[int, int]:
    """A key block from its header to its ``-----END`` line, or to the end of the text."""
    end = text.find(b"-----END", match.end(), match.end() + 16384)
    if end < 0:
        return match.start(), len(text)
    line_end = text.find(b"-----", end + 8)
    return match.start(), len(text) if line_end < 0 else line_end + 5


def _yara_escape(literal: bytes) -> str:
    """A byte string as the body of a YARA text string, every byte as ``\\xNN``."""
    return "".join(f"\\x{byte:02x}" for byte in literal)


class _KeywordIndex:
    """Every rule keyword compiled into one YARA rule: one Aho-Corasick pass finds them all.

    Searching 60-odd keywords one by one costs 60 passes over each file (about 0.3 s per MB
    in CPython); YARA's automaton finds every occurrence of all of them in one pass,
    case-insensitively, without lower-casing the file.
    """

    def __init__(self, keywords: Iterable[bytes]) -> None:
        """Compile the distinct keywords (lower case ASCII) into one rule."""
        self.keywords = sorted(set(keywords))
        strings = "\n".join(
            f'    $k{index} = "{_yara_escape(keyword)}" nocase' for index, keyword in enumerate(self.keywords)
        )
        source = f"rule secret_keywords {{\n  strings:\n{strings}\n  condition:\n    any of them\n}}\n"
        self._rules = yara.compile(source=source)

    def occurrences(self, content: bytes) -> dict[bytes, list[int]]:
        """Offsets of every keyword occurrence in ``content``, by keyword."""
        found: dict[bytes, list[int]] = {}
        for match in self._rules.match(data=content, timeout=_YARA_TIMEOUT_SECONDS):
            for string in match.strings:
                keyword = self.keywords[int(string.identifier[2:])]
                found[keyword] = [instance.offset for instance in string.instances]
        return found


def _keyword_windows(rule: SecretRule, hits: dict[bytes, list[int]], size: int) -> list[tuple[int, int]]:
    """Merged ``[start, end)`` spans around the first ``MAX_WINDOWS_PER_RULE`` keyword occurrences."""
    occurrences = sorted(at for keyword in rule.keywords for at in hits.get(keyword, ()))
    spans = [(max(0, at - rule.lead), min(size, at + rule.reach)) for at in occurrences[:MAX_WINDOWS_PER_RULE]]
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _matches(rule: SecretRule, content: bytes, hits: dict[bytes, list[int]]) -> Iterator[re.Match[bytes]]:
    """The rule's matches, searched only in the windows around its keywords (the prefilter).

    Every match of a rule contains one of its keywords, at most ``lead`` bytes after the match
    start and ``reach`` bytes before its end, so nothing outside the windows can match. Searching
    with ``pos``/``endpos`` (not slices) keeps look-behinds and ``^`` seeing the real text.
    """
    seen_end = -1
    for start, end in _keyword_windows(rule, hits, len(content)):
        for match in rule.pattern.finditer(content, start, end):
            if match.start() >= seen_end:
                seen_end = match.end()
                yield match


def _looks_encrypted(content: bytes, match: re.Match[bytes]) -> bool:
    """A private key protected by a passphrase (PEM ENCRYPTED, PuTTY cipher, OpenSSH cipher)."""
    header = match.group(0)
    after = content[match.end() : match.end() + 400]
    if b"ENCRYPTED" in header or b"Proc-Type: 4,ENCRYPTED" in after:
        return True
    if header.startswith(b"PuTTY"):
        return b"Encryption: none" not in after
    if b"OPENSSH" in header:
        body = key_material_after(content, match)[:64]
        try:
            decoded = base64.b64decode(body[: len(body) // 4 * 4])
        except (ValueError, binascii.Error):
            return False
        return decoded.startswith(b"openssh-key-v1\x00") and b"none" not in decoded[15:27]
    return False


def _redact(match: re.Match[bytes], groups: list[int], keep_prefix: int) -> str:
    """The matched text on one line, every secret group masked, at most 160 characters."""
    text = match.group(0)
    if not groups:
        redacted = text.decode("utf-8", "replace") + " " + _MASK
    else:
        start = match.start()
        pieces: list[str] = []
        cursor = 0
        for group in sorted(groups, key=match.start):
            g_start, g_end = match.start(group) - start, match.end(group) - start
            pieces.append(text[cursor:g_start].decode("utf-8", "replace"))
            pieces.append(mask_secret(text[g_start:g_end].decode("utf-8", "replace"), keep_prefix))
            cursor = g_end
        pieces.append(text[cursor:].decode("utf-8", "replace"))
        redacted = "".join(pieces)
    redacted = " ".join(redacted.split())
    return redacted if len(redacted) <= 160 else redacted[:157] + "..."
