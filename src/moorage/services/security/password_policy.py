"""The password policy of an image and its account hashes, kept in the layer cache by a layer
plug-in the registry adds to its scans (the scanner's checks read neither the complexity settings
nor keep what the registry needs to try an account's custom weak passwords later).

``PasswordPolicyPlugin`` reads, in the same single pass over each layer as the scanner's own
plug-ins: ``/etc/login.defs`` (``PASS_MIN_LEN``), ``/etc/security/pwquality.conf`` and its ``.d``
directory, the PAM password stacks (``pam_pwquality`` / ``pam_cracklib`` arguments) and
``/etc/shadow`` (account names, hash fields and the day of the last change). Its per-path results
are small JSON documents cached by layer digest like every plug-in's. After flattening,
``evaluate`` says which of HSS's complexity rules the final filesystem enforces.

Everything read comes from the image and is untrusted: file sizes, line counts and values are
capped, and unparsable numbers are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from moorage.scanner.files import FileEntry, FileKind
from moorage.scanner.flatten import FlatView
from moorage.scanner.interface import JsonValue, LayerPlugin

LOGIN_DEFS = "/etc/login.defs"
PWQUALITY = "/etc/security/pwquality.conf"
PWQUALITY_DIR = "/etc/security/pwquality.conf.d/"
PAM_STACKS = ("/etc/pam.d/common-password", "/etc/pam.d/system-auth", "/etc/pam.d/password-auth", "/etc/pam.d/passwd")
SHADOW = "/etc/shadow"
MAX_LINES = 5000
MIN_LENGTH = 8
"""The shortest minimum password length HSS's complexity check accepts."""
_SETTING = re.compile(r"^\s*([a-z_]+)\s*=\s*(-?\d{1,6})\s*$")
_PAM_ARG = re.compile(r"\b(minlen|ucredit|lcredit|dcredit|ocredit|minclass)=(-?\d{1,6})\b")
_PAM_QUALITY = re.compile(r"^\s*password\s+\S+\s+\S*pam_(?:pwquality|cracklib)\.so\b(.*)$")
_KEYS = ("minlen", "ucredit", "lcredit", "dcredit", "ocredit", "minclass")


def _lines(content: bytes) -> list[str]:
    return content.decode("utf-8", "replace").splitlines()[:MAX_LINES]


def _quality_settings(lines: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for line in lines:
        match = _SETTING.match(line)
        if match and match.group(1) in _KEYS:
            found[match.group(1)] = int(match.group(2))
    return found


def _pam_settings(lines: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for line in lines:
        match = _PAM_QUALITY.match(line)
        if match:
            found["enabled"] = 1
            found.update((key, int(value)) for key, value in _PAM_ARG.findall(match.group(1)))
    return found


def _shadow(lines: list[str]) -> list[list[str | int]]:
    accounts: list[list[str | int]] = []
    for line in lines:
        parts = line.split(":")
        if len(parts) < 3 or not parts[0] or len(parts[0]) > 64 or len(parts[1]) > 512:
            continue
        try:
            changed = int(parts[2]) if parts[2] else 0
        except ValueError:
            changed = 0
        accounts.append([parts[0], parts[1], changed])
    return accounts


class PasswordPolicyPlugin(LayerPlugin):
    """Keeps the password settings and account hashes of each layer (see the module docstring)."""

    name = "moorage-password-policy"
    version = "1"
    max_content_bytes = 256 << 10

    def wants(self, entry: FileEntry) -> bool:
        """The policy files and /etc/shadow."""
        if entry.kind is not FileKind.REGULAR:
            return False
        path = entry.path
        return (
            path in (LOGIN_DEFS, PWQUALITY, SHADOW)
            or path in PAM_STACKS
            or (path.startswith(PWQUALITY_DIR) and path.endswith(".conf"))
        )

    def extract(self, entry: FileEntry, content: bytes) -> JsonValue:
        """The settings (or accounts) the file holds."""
        lines = _lines(content)
        if entry.path == SHADOW:
            return {"accounts": _shadow(lines)}  # type: ignore[dict-item]
        if entry.path == LOGIN_DEFS:
            found: dict[str, int] = {}
            for line in lines:
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "PASS_MIN_LEN" and parts[1].isdigit() and len(parts[1]) < 6:
                    found["pass_min_len"] = int(parts[1])
            return dict(found)
        if entry.path in PAM_STACKS:
            return dict(_pam_settings(lines))
        return dict(_quality_settings(lines))


@dataclass(frozen=True, slots=True)
class PasswordComplexity:
    """Which complexity rules the image's final filesystem enforces."""

    min_length: bool
    uppercase_letter: bool
    lowercase_letter: bool
    number: bool
    special_character: bool

    @property
    def suggestion(self) -> str:
        """What to change, in one line (empty when every rule holds)."""
        missing = [
            label
            for ok, label in (
                (self.min_length, f"a minimum length of at least {MIN_LENGTH}"),
                (self.uppercase_letter, "an upper-case letter"),
                (self.lowercase_letter, "a lower-case letter"),
                (self.number, "a digit"),
                (self.special_character, "a special character"),
            )
            if not ok
        ]
        if not missing:
            return ""
        return (
            "Require " + ", ".join(missing) + " in passwords: set minlen, ucredit=-1, lcredit=-1, dcredit=-1 "
            "and ocredit=-1 (or minclass=4) in /etc/security/pwquality.conf and enable pam_pwquality."
        )

    @property
    def compliant(self) -> bool:
        """Whether every rule holds."""
        return all((self.min_length, self.uppercase_letter, self.lowercase_letter, self.number, self.special_character))


def _number(values: Mapping[str, JsonValue], key: str) -> int | None:
    value = values.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def evaluate(view: FlatView) -> PasswordComplexity:
    """The complexity rules the final filesystem enforces: pwquality settings (the ``.d`` files
    after the main file, PAM arguments last, as PAM applies them), else login.defs' minimum length."""
    plugin = PasswordPolicyPlugin.name
    settings: dict[str, int] = {}
    sources = [PWQUALITY, *sorted(p for p in view.files if p.startswith(PWQUALITY_DIR))]
    pam_enabled = False
    for path in sources:
        found = view.result(plugin, path)
        if found is not None and isinstance(found[0], dict):
            settings.update((k, v) for k in _KEYS if (v := _number(found[0], k)) is not None)
    for path in PAM_STACKS:
        found = view.result(plugin, path)
        if found is not None and isinstance(found[0], dict) and found[0].get("enabled"):
            pam_enabled = True
            settings.update((k, v) for k in _KEYS if (v := _number(found[0], k)) is not None)
    defs = view.result(plugin, LOGIN_DEFS)
    min_len = _number(defs[0], "pass_min_len") if defs is not None and isinstance(defs[0], dict) else None
    if pam_enabled:
        min_len = max(settings.get("minlen", 8), min_len or 0)
    minclass = settings.get("minclass", 0) if pam_enabled else 0

    def required(key: str) -> bool:
        return pam_enabled and (settings.get(key, 0) < 0 or minclass >= 4)

    return PasswordComplexity(
        min_length=(min_len or 0) >= MIN_LENGTH,
        uppercase_letter=required("ucredit"),
        lowercase_letter=required("lcredit"),
        number=required("dcredit"),
        special_character=required("ocredit"),
    )


@dataclass(frozen=True, slots=True)
class ShadowAccount:
    """An account's password hash and the day (since 1970) it was last changed (0: unknown)."""

    name: str
    password_field: str
    changed_day: int


def shadow_accounts(view: FlatView) -> list[ShadowAccount]:
    """The accounts of the final /etc/shadow."""
    found = view.result(PasswordPolicyPlugin.name, SHADOW)
    if found is None or not isinstance(found[0], dict):
        return []
    accounts = found[0].get("accounts")
    if not isinstance(accounts, list):
        return []
    return [
        ShadowAccount(str(a[0]), str(a[1]), a[2] if isinstance(a[2], int) else 0)
        for a in accounts
        if isinstance(a, list) and len(a) == 3
    ]
