"""Account risks from /etc/passwd and /etc/shadow: no password, weak hashes, weak passwords, UID 0.

Part of the baseline check. The files come from the flattened image and are untrusted: lines
are capped in number, malformed lines are skipped, and the dictionary check only tries hashes
whose cost is at most a distribution default, within a time budget per image.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from moorage.scanner.checks.findings import Category, Finding, SettingFinding, Severity
from moorage.scanner.checks.interface import FlatView
from moorage.scanner.checks.password_hashes import (
    WEAK_SCHEMES,
    CryptLibrary,
    HashScheme,
    affordable,
    hash_scheme,
)

PASSWD = "/etc/passwd"  # noqa: S105 (a path, not a password)
SHADOW = "/etc/shadow"
MAX_ACCOUNTS = 5000
"""Lines read from passwd and shadow; more is not a real image."""
DICTIONARY_BUDGET_SECONDS = 5.0
"""Wall-clock budget of the weak-password dictionary check for one image."""

_NO_LOGIN_SHELLS = ("nologin", "/bin/false", "/usr/bin/false", "/bin/sync")


@dataclass(frozen=True, slots=True)
class Account:
    """One account, passwd and shadow merged."""

    name: str
    """Login name."""
    uid: int
    """User id (-1 when the passwd line has none readable)."""
    shell: str
    """Login shell."""
    password_field: str
    """The shadow password field, or the passwd one when shadow has no entry."""
    password_file: str
    """Which file ``password_field`` came from."""
    layer_digest: str
    """Layer of that file."""


def _text_lines(view: FlatView, path: str) -> list[str] | None:
    """Lines of a text file in the view, or None if absent or not readable as text."""
    item = view.get(path)
    if item is None or item[1] is None:
        return None
    return item[1].decode("utf-8", "replace").splitlines()[:MAX_ACCOUNTS]


def read_accounts(view: FlatView) -> list[Account]:
    """Accounts of the image: /etc/passwd lines, with the hash from /etc/shadow when passwd says ``x``."""
    passwd_lines = _text_lines(view, PASSWD) or []
    shadow_lines = _text_lines(view, SHADOW) or []
    shadow: dict[str, str] = {}
    for line in shadow_lines:
        fields = line.split(":")
        if len(fields) >= 2 and fields[0] and not line.startswith("#"):
            shadow.setdefault(fields[0], fields[1])
    passwd_layer = view[PASSWD][0].layer_digest if PASSWD in view else ""
    shadow_layer = view[SHADOW][0].layer_digest if SHADOW in view else ""
    accounts: list[Account] = []
    for line in passwd_lines:
        fields = line.split(":")
        if len(fields) < 7 or not fields[0] or line.startswith(("#", "+", "-")):
            continue
        name = fields[0]
        uid = int(fields[2]) if fields[2].isdigit() else -1
        in_shadow = name in shadow and fields[1] == "x"
        accounts.append(
            Account(
                name=name,
                uid=uid,
                shell=fields[6],
                password_field=shadow[name] if in_shadow else fields[1],
                password_file=SHADOW if in_shadow else PASSWD,
                layer_digest=shadow_layer if in_shadow else passwd_layer,
            )
        )
    return accounts  # a shadow line without a passwd line is no account: nobody logs in with it


def _setting(rule_id: str, severity: Severity, message: str, account: Account, evidence: str) -> SettingFinding:
    """A baseline finding about one account."""
    return SettingFinding(
        category=Category.BASELINE,
        rule_id=rule_id,
        severity=severity,
        message=message,
        path=account.password_file,
        layer_digest=account.layer_digest,
        evidence=evidence,
    )


def _can_log_in(account: Account) -> bool:
    """Whether the account has a login shell (``nologin``, ``false``, ``sync`` are not; empty is sh)."""
    return not account.shell.endswith(_NO_LOGIN_SHELLS)


def check_accounts(view: FlatView, weak_passwords: Sequence[str], crypt: CryptLibrary | None) -> list[Finding]:
    """Passwordless accounts, weak hash schemes, dictionary passwords and extra UID 0 accounts."""
    findings: list[Finding] = []
    deadline = time.monotonic() + DICTIONARY_BUDGET_SECONDS
    for account in read_accounts(view):
        if account.uid == 0 and account.name != "root":
            findings.append(
                SettingFinding(
                    category=Category.BASELINE,
                    rule_id="baseline.extra-uid0-account",
                    severity=Severity.HIGH,
                    message=f"account {account.name!r} has user id 0 (a second root)",
                    path=PASSWD,
                    layer_digest=view[PASSWD][0].layer_digest if PASSWD in view else "",
                    evidence=f"user {account.name} (uid 0)",
                )
            )
        field = account.password_field
        scheme = hash_scheme(field)
        important = account.uid == 0 or _can_log_in(account)
        if scheme is HashScheme.EMPTY:
            findings.append(
                _setting(
                    "baseline.empty-password",
                    Severity.CRITICAL if important else Severity.HIGH,
                    f"account {account.name!r} has no password: anyone can log in as it",
                    account,
                    f"user {account.name}: empty password field in {account.password_file}",
                )
            )
            continue
        if scheme in (HashScheme.LOCKED, HashScheme.OTHER):
            continue  # OTHER: not a crypt(3) hash, so no password can match it (a locked account)
        if account.password_file == PASSWD:
            findings.append(
                _setting(
                    "baseline.hash-in-passwd",
                    Severity.HIGH,
                    f"account {account.name!r} keeps its password hash in world-readable /etc/passwd",
                    account,
                    f"user {account.name}: {scheme.value} hash in /etc/passwd",
                )
            )
        if scheme in WEAK_SCHEMES:
            findings.append(
                _setting(
                    "baseline.weak-password-hash",
                    Severity.HIGH,
                    f"account {account.name!r} uses the weak {scheme.value.upper()} password hash",
                    account,
                    f"user {account.name}: {scheme.value} hash",
                )
            )
        if crypt is None or not affordable(field) or time.monotonic() > deadline:
            continue
        for guess in (account.name, *weak_passwords):
            if time.monotonic() > deadline:
                break
            if crypt.matches(guess, field):
                findings.append(
                    _setting(
                        "baseline.weak-password",
                        Severity.CRITICAL,
                        f"account {account.name!r} has a password from the weak-password dictionary",
                        account,
                        f"user {account.name}: dictionary password (not shown)",
                    )
                )
                break
    return findings
