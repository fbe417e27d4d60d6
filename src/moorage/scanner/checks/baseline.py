"""Baseline (unsafe setting) checks over the flattened image: accounts, file modes, sshd, sudo.

``BaselineCheck`` is a ``FilesystemCheck``: it asks for the bytes of the few files it parses
(passwd, shadow, sshd_config and its includes, sudoers and sudoers.d) and reads every other
file's mode from its entry. Rules:

* ``baseline.empty-password``, ``baseline.weak-password-hash``, ``baseline.weak-password``,
  ``baseline.hash-in-passwd``, ``baseline.extra-uid0-account`` (see ``accounts``);
* ``baseline.suid-file`` / ``baseline.sgid-file``: set-id programs outside an allowlist;
* ``baseline.world-writable-file`` / ``baseline.world-writable-dir``: writable by anyone
  (directories: without the sticky bit);
* ``baseline.sshd-root-login``, ``baseline.sshd-password-auth``, ``baseline.sshd-empty-passwords``;
* ``baseline.sudo-nopasswd-all``: ``NOPASSWD: ALL`` or ``Defaults !authenticate``.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from moorage.scanner.checks.accounts import PASSWD, SHADOW, check_accounts
from moorage.scanner.checks.errors import CheckIncomplete
from moorage.scanner.checks.findings import Category, Finding, SettingFinding, Severity
from moorage.scanner.checks.interface import FlatView
from moorage.scanner.checks.password_hashes import SHIPPED_WORD_LIST, CryptLibrary, read_word_list
from moorage.scanner.files import FileEntry, FileKind

SSHD_CONFIG = "/etc/ssh/sshd_config"
SUDOERS = "/etc/sudoers"
DEFAULT_MAX_BYTES = 1024 * 1024
"""Content cap for the parsed files (a real sudoers or shadow is far smaller)."""
MAX_FINDINGS_PER_RULE = 100
"""File-mode rules stop reporting after this many files (one summary line says how many more)."""
MAX_INCLUDE_DEPTH = 8
"""sshd_config and sudoers include nesting followed at most this deep."""

SUID_ALLOWLIST: tuple[str, ...] = (
    "/bin/su", "/bin/mount", "/bin/umount", "/bin/passwd", "/bin/chsh", "/bin/chfn", "/bin/gpasswd",
    "/bin/newgrp", "/bin/sudo", "/bin/pkexec", "/bin/fusermount", "/bin/fusermount3",
    "/bin/newuidmap", "/bin/newgidmap", "/bin/crontab", "/bin/at", "/bin/expiry", "/bin/chage",
    "/bin/wall", "/bin/write", "/bin/write.ul", "/bin/bsd-write", "/bin/ssh-agent",
    "/bin/dotlockfile", "/bin/locate", "/bin/mlocate", "/bin/plocate", "/bin/ping", "/bin/ping6",
    "/bin/traceroute6.iputils", "/bin/doas", "/bin/bbsuid", "/bin/ksu", "/bin/staprun",
    "/sbin/unix_chkpwd", "/sbin/unix2_chkpwd", "/sbin/pam_extrausers_chkpwd",
    "/sbin/pam_timestamp_check", "/sbin/userhelper", "/sbin/mount.nfs", "/sbin/mount.cifs",
    "/sbin/usernetctl", "/sbin/postdrop", "/sbin/postqueue", "/sbin/exim4", "/sbin/grub2-set-bootflag",
    "/lib/openssh/ssh-keysign", "/libexec/openssh/ssh-keysign", "/lib/dbus-1.0/dbus-daemon-launch-helper",
    "/libexec/dbus-1/dbus-daemon-launch-helper", "/lib/*/utempter/utempter",
    "/libexec/utempter/utempter", "/lib/polkit-1/polkit-agent-helper-1",
    "/libexec/polkit-1/polkit-agent-helper-1", "/lib/eject/dmcrypt-get-device",
    "/lib/xorg/Xorg.wrap", "/libexec/Xorg.wrap", "/lib/snapd/snap-confine",
)  # fmt: skip
"""Set-id programs that distributions ship on purpose, with ``/usr`` folded away (globs allowed)."""

_USR_MERGED = ("/usr/bin/", "/usr/sbin/", "/usr/lib/", "/usr/libexec/", "/usr/lib64/")
_SKIPPED_TREES = ("/proc/", "/sys/", "/dev/")
_SUDO_ALIAS = re.compile(r"^(User_Alias|Runas_Alias|Host_Alias|Cmnd_Alias|Cmd_Alias)\b")
_SUDO_TAG = re.compile(r"^[A-Z_]+:\s*")
_SUDO_NOPASSWD = re.compile(r"\bNOPASSWD\s*:")
_SUDO_NO_AUTH = re.compile(r"^Defaults(?:[:@!>][^\s]+)?\s+(?:.*,\s*)?!authenticate\b")


def _fold_usr(path: str) -> str:
    """``/usr/bin/su`` -> ``/bin/su``: merged-/usr and classic layouts compare equal."""
    if path.startswith(_USR_MERGED):
        return path[4:]
    if path.startswith("/lib64/"):
        return "/lib/" + path[7:]
    return path


class BaselineCheck:
    """Unsafe settings of the final filesystem (a ``FilesystemCheck``)."""

    name = "baseline"

    def __init__(
        self,
        *,
        extra_suid_allowlist: Iterable[str] = (),
        weak_password_files: Sequence[Path] = (),
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        """Load the weak-password dictionary (shipped plus extra files) and libcrypt."""
        self.max_bytes = max_bytes
        self._suid_allowlist = tuple(_fold_usr(p) for p in (*SUID_ALLOWLIST, *extra_suid_allowlist))
        words: dict[str, None] = {}
        for path in (SHIPPED_WORD_LIST, *weak_password_files):
            words.update(dict.fromkeys(read_word_list(path)))
        self._weak_passwords = tuple(words)
        self._crypt = CryptLibrary.load()

    @property
    def dictionary_available(self) -> bool:
        """False when the system has no libcrypt: weak passwords are then not tried."""
        return self._crypt is not None

    def wants_content(self, entry: FileEntry) -> bool:
        """The account, sshd and sudo files."""
        if entry.kind is not FileKind.REGULAR:
            return False
        path = entry.path
        return path in (PASSWD, SHADOW, SSHD_CONFIG, SUDOERS) or path.startswith(
            ("/etc/ssh/sshd_config.d/", "/etc/sudoers.d/")
        )

    def check_filesystem(self, view: FlatView) -> list[Finding]:
        """Every baseline finding of the image."""
        findings: list[Finding] = []
        findings.extend(check_accounts(view, self._weak_passwords, self._crypt))
        findings.extend(self._file_modes(view))
        skipped: list[str] = []
        findings.extend(_check_sshd(view, skipped))
        findings.extend(_check_sudoers(view, skipped))
        if skipped:  # an include chain deeper than sshd or sudo would follow: say what was not read
            raise CheckIncomplete(findings, "; ".join(skipped))
        return findings

    def _file_modes(self, view: FlatView) -> list[Finding]:
        """Set-id programs outside the allowlist and world-writable files and directories."""
        found: dict[str, list[SettingFinding]] = {}

        def add(rule_id: str, severity: Severity, message: str, entry: FileEntry) -> None:
            found.setdefault(rule_id, []).append(
                SettingFinding(
                    category=Category.BASELINE,
                    rule_id=rule_id,
                    severity=severity,
                    message=message,
                    path=entry.path,
                    layer_digest=entry.layer_digest,
                    evidence=f"mode {entry.mode & 0o7777:04o}, owner {entry.uid}:{entry.gid}",
                )
            )

        for path, (entry, _) in sorted(view.items()):
            if path.startswith(_SKIPPED_TREES):
                continue
            if entry.kind is FileKind.REGULAR:
                if entry.mode & 0o6000 and not self._allowed_setid(path):
                    if entry.mode & 0o4000:
                        owner = "root" if entry.uid == 0 else f"uid {entry.uid}"
                        add(
                            "baseline.suid-file",
                            Severity.HIGH if entry.uid == 0 else Severity.MEDIUM,
                            f"set-user-id program runs as {owner}: {path}",
                            entry,
                        )
                    else:
                        add("baseline.sgid-file", Severity.MEDIUM, f"set-group-id program: {path}", entry)
                if entry.mode & 0o002:
                    add(
                        "baseline.world-writable-file",
                        Severity.MEDIUM,
                        f"file writable by anyone: {path}",
                        entry,
                    )
            elif entry.kind is FileKind.DIRECTORY and entry.mode & 0o002 and not entry.mode & 0o1000:
                add(
                    "baseline.world-writable-dir",
                    Severity.MEDIUM,
                    f"directory writable by anyone, without the sticky bit: {path}",
                    entry,
                )
        findings: list[Finding] = []
        for rule_findings in found.values():
            findings.extend(rule_findings[:MAX_FINDINGS_PER_RULE])
            if len(rule_findings) > MAX_FINDINGS_PER_RULE:
                first = rule_findings[0]
                extra = len(rule_findings) - MAX_FINDINGS_PER_RULE
                findings.append(
                    SettingFinding(
                        category=Category.BASELINE,
                        rule_id=first.rule_id,
                        severity=first.severity,
                        message=f"... and {extra} more files of this kind (not listed)",
                    )
                )
        return findings

    def _allowed_setid(self, path: str) -> bool:
        """Whether a set-id program is one the distributions ship on purpose."""
        folded = _fold_usr(path)
        return any(fnmatch.fnmatchcase(folded, pattern) for pattern in self._suid_allowlist)


# -- sshd ------------------------------------------------------------------------------------


def _text(view: FlatView, path: str) -> str | None:
    """A text file of the view, or None if it is absent or was not read."""
    item = view.get(path)
    if item is None or item[1] is None:
        return None
    return item[1].decode("utf-8", "replace")


def _not_read(view: FlatView, path: str, including: str) -> str | None:
    """Why an included file the image has was not read (its content is only collected under
    ``/etc/ssh/sshd_config.d/`` and ``/etc/sudoers.d/``, decided before includes are known); None
    when it was read or is not in the image (sshd and sudo skip a missing include too)."""
    item = view.get(path)
    if item is None or item[1] is not None or item[0].kind is not FileKind.REGULAR:
        return None
    return f"{path}, included by {including}, is outside the directories the baseline check reads: not read"


def _glob_view(view: FlatView, pattern: str) -> list[str]:
    """Paths of the view matching a shell glob (sshd ``Include``, sorted as glob(3) does)."""
    return sorted(p for p in view if fnmatch.fnmatchcase(p, pattern) and view[p][1] is not None)


def _too_deep(path: str) -> str:
    return f"{path} is included more than {MAX_INCLUDE_DEPTH} files deep: not read"


def _sshd_settings(
    view: FlatView, path: str, settings: dict[str, tuple[str, str]], depth: int, skipped: list[str]
) -> bool:
    """Read sshd options in order, first value wins as in sshd; False once a ``Match`` starts."""
    text = _text(view, path)
    if text is not None and depth > MAX_INCLUDE_DEPTH:
        skipped.append(_too_deep(path))
    if text is None or depth > MAX_INCLUDE_DEPTH:
        return True
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, value = line.replace("=", " ", 1).partition(" ")
        keyword, value = keyword.lower(), value.strip().strip('"')
        if keyword == "match":
            return False
        if keyword == "include":
            for pattern in value.split():
                pattern = pattern if pattern.startswith("/") else posixpath.join("/etc/ssh", pattern)
                for unread in sorted(p for p in view if fnmatch.fnmatchcase(p, pattern)):
                    reason = _not_read(view, unread, path)
                    if reason:
                        skipped.append(reason)
                for included in _glob_view(view, pattern):
                    if not _sshd_settings(view, included, settings, depth + 1, skipped):
                        return False
            continue
        settings.setdefault(keyword, (value.lower(), path))
    return True


def _check_sshd(view: FlatView, skipped: list[str]) -> list[Finding]:
    """sshd allowing root login with a password, password logins, or empty passwords."""
    if SSHD_CONFIG not in view:
        return []
    settings: dict[str, tuple[str, str]] = {}
    _sshd_settings(view, SSHD_CONFIG, settings, 0, skipped)
    findings: list[Finding] = []

    def add(rule_id: str, severity: Severity, message: str, keyword: str, value: str, path: str) -> None:
        findings.append(
            SettingFinding(
                category=Category.BASELINE,
                rule_id=rule_id,
                severity=severity,
                message=message,
                path=path,
                layer_digest=view[path][0].layer_digest if path in view else "",
                evidence=f"{keyword} {value}",
            )
        )

    root_login, root_path = settings.get("permitrootlogin", ("prohibit-password", SSHD_CONFIG))
    if root_login == "yes":
        add(
            "baseline.sshd-root-login",
            Severity.HIGH,
            "sshd lets root log in with a password",
            "PermitRootLogin",
            root_login,
            root_path,
        )
    password_auth, password_path = settings.get("passwordauthentication", ("", SSHD_CONFIG))
    if password_auth == "yes":  # noqa: S105 (an sshd option value)
        add(
            "baseline.sshd-password-auth",
            Severity.MEDIUM,
            "sshd accepts password logins",
            "PasswordAuthentication",
            password_auth,
            password_path,
        )
    elif password_auth == "":
        add(
            "baseline.sshd-password-auth",
            Severity.LOW,
            "sshd accepts password logins (PasswordAuthentication not set; the default is yes)",
            "PasswordAuthentication",
            "(default yes)",
            password_path,
        )
    empty, empty_path = settings.get("permitemptypasswords", ("no", SSHD_CONFIG))
    if empty == "yes":
        add(
            "baseline.sshd-empty-passwords",
            Severity.HIGH,
            "sshd accepts accounts with empty passwords",
            "PermitEmptyPasswords",
            empty,
            empty_path,
        )
    return findings


# -- sudo ------------------------------------------------------------------------------------


def _sudoers_files(view: FlatView, path: str, depth: int, seen: set[str], skipped: list[str]) -> list[str]:
    """The sudoers file and everything it includes (``@include``, ``@includedir``, ``#`` forms); an
    include loop ends where it started, an include chain past ``MAX_INCLUDE_DEPTH`` is reported."""
    text = _text(view, path)
    if text is not None and depth > MAX_INCLUDE_DEPTH and path not in seen:
        skipped.append(_too_deep(path))
    if text is None or depth > MAX_INCLUDE_DEPTH or path in seen:
        return []
    seen.add(path)
    files = [path]
    for raw in text.splitlines():
        line = raw.strip()
        directive, _, target = line.partition(" ")
        target = target.strip().strip('"')
        if directive in ("@includedir", "#includedir"):
            prefix = target.rstrip("/") + "/"
            for included in sorted(p for p in view if p.startswith(prefix) and "/" not in p[len(prefix) :]):
                name = included[len(prefix) :]
                if "." not in name and not name.endswith("~"):
                    files.extend(_sudoers_files(view, included, depth + 1, seen, skipped))
        elif directive in ("@include", "#include"):
            target = target if target.startswith("/") else posixpath.join("/etc", target)
            reason = _not_read(view, target, path)
            if reason:
                skipped.append(reason)
            files.extend(_sudoers_files(view, target, depth + 1, seen, skipped))
    return files


def _sudoers_lines(text: str) -> Iterable[str]:
    """Logical lines of a sudoers file: continuations joined, comments dropped."""
    pending = ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "@include")):
            continue
        yield stripped.split("#", 1)[0].strip() if " #" in stripped else stripped


def _nopasswd_all(line: str) -> bool:
    """A user specification whose NOPASSWD command list includes ``ALL``."""
    if _SUDO_ALIAS.match(line) or line.startswith("Defaults"):
        return False
    for part in _SUDO_NOPASSWD.split(line)[1:]:
        for command in part.split(","):
            command = command.strip()
            while _SUDO_TAG.match(command):
                command = _SUDO_TAG.sub("", command, count=1)
            if command == "ALL":
                return True
    return False


def _check_sudoers(view: FlatView, skipped: list[str]) -> list[Finding]:
    """sudo rules that grant everything without a password."""
    findings: list[Finding] = []
    for path in _sudoers_files(view, SUDOERS, 0, set(), skipped):
        for line in _sudoers_lines(_text(view, path) or ""):
            if _nopasswd_all(line) or _SUDO_NO_AUTH.match(line):
                findings.append(
                    SettingFinding(
                        category=Category.BASELINE,
                        rule_id="baseline.sudo-nopasswd-all",
                        severity=Severity.HIGH,
                        message=f"sudo grants every command without a password ({path})",
                        path=path,
                        layer_digest=view[path][0].layer_digest,
                        evidence=line[:160],
                    )
                )
    return findings
