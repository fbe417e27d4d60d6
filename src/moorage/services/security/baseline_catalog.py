"""Every rule the scanner's setting checks can report, as HSS shows baselines: configuration
checks grouped by baseline (``check_name``) with what each rule checks, how to audit and fix it;
and the build-command risks. A rule an image's scan did not report passed for that image.

The rule ids are the scanner's (``moorage/scanner/checks``); a test keeps this catalogue complete.
"""

from __future__ import annotations

from dataclasses import dataclass

STANDARD = "hw_standard"
"""moorage's rules follow cloud security practice (HSS's ``hw_standard``)."""


@dataclass(frozen=True, slots=True)
class BaselineRule:
    """One configuration check rule."""

    rule_id: str
    check_name: str
    name: str
    severity: str
    """The severity the scanner gives a failure (``low`` ... ``critical``)."""
    description: str
    audit: str
    remediation: str
    suggest_value: str
    reference: str = ""


@dataclass(frozen=True, slots=True)
class Baseline:
    """A group of rules (HSS's ``check_name`` / ``check_type``)."""

    check_name: str
    description: str


@dataclass(frozen=True, slots=True)
class BuildRule:
    """One build-command risk rule."""

    rule_id: str
    name: str
    severity: str
    description: str
    remediation: str


ACCOUNTS = "Accounts and passwords"
FILES = "File permissions"
SSH = "SSH"
SUDO = "sudo"
CONFIG = "Image configuration"

BASELINES = (
    Baseline(
        ACCOUNTS,
        "Local accounts of the image: empty, weak or dictionary passwords, password hashes in "
        "world-readable files, extra accounts with user id 0.",
    ),
    Baseline(
        FILES,
        "File modes of the final filesystem: set-id programs outside the distributions' own, "
        "files and directories anyone may write.",
    ),
    Baseline(SSH, "The OpenSSH server configuration shipped in the image."),
    Baseline(SUDO, "sudo rules shipped in the image."),
    Baseline(CONFIG, "The image configuration: the user processes run as, exposed ports, environment variables."),
)

_OS = "CIS Distribution Independent Linux Benchmark"
RULES = (
    BaselineRule(
        "baseline.empty-password",
        ACCOUNTS,
        "No account without a password",
        "critical",
        "An account whose password field is empty lets anyone log in as it.",
        "Read the password field of every account in /etc/shadow (or /etc/passwd).",
        "Lock the account (passwd -l) or set a strong password.",
        "every account has a password or is locked",
        _OS,
    ),
    BaselineRule(
        "baseline.weak-password-hash",
        ACCOUNTS,
        "Passwords hashed with a strong scheme",
        "high",
        "DES and MD5 password hashes are cracked in minutes.",
        "Look at the hash prefix of every password in /etc/shadow.",
        "Set ENCRYPT_METHOD SHA512 or YESCRYPT in /etc/login.defs and reset the passwords.",
        "sha512crypt, yescrypt or bcrypt hashes",
        _OS,
    ),
    BaselineRule(
        "baseline.weak-password",
        ACCOUNTS,
        "No dictionary password",
        "critical",
        "A password from a weak-password dictionary (the user name, 123456, password...) is guessed first.",
        "Try the dictionary (and the account's custom weak passwords) against every password hash.",
        "Set a strong password or lock the account.",
        "no password from the dictionary",
        _OS,
    ),
    BaselineRule(
        "baseline.hash-in-passwd",
        ACCOUNTS,
        "Password hashes kept in /etc/shadow",
        "high",
        "/etc/passwd is readable by everyone: a hash there can be cracked offline.",
        "Look for password hashes in the second field of /etc/passwd.",
        "Run pwconv to move the hashes into /etc/shadow.",
        "x in the password field of /etc/passwd",
        _OS,
    ),
    BaselineRule(
        "baseline.extra-uid0-account",
        ACCOUNTS,
        "Only root has user id 0",
        "high",
        "Another account with user id 0 is a second root.",
        "List the accounts of /etc/passwd whose user id is 0.",
        "Give the account another user id or remove it.",
        "root is the only account with uid 0",
        _OS,
    ),
    BaselineRule(
        "baseline.suid-file",
        FILES,
        "No unexpected set-user-id program",
        "high",
        "A set-user-id program runs with its owner's rights; an unexpected one is a way to root.",
        "List regular files with mode bit 04000 outside the distributions' own set-id programs.",
        "chmod u-s the program, or remove it.",
        "no set-user-id program besides the distribution's",
        _OS,
    ),
    BaselineRule(
        "baseline.sgid-file",
        FILES,
        "No unexpected set-group-id program",
        "medium",
        "A set-group-id program runs with its group's rights.",
        "List regular files with mode bit 02000 outside the distributions' own set-id programs.",
        "chmod g-s the program, or remove it.",
        "no set-group-id program besides the distribution's",
        _OS,
    ),
    BaselineRule(
        "baseline.world-writable-file",
        FILES,
        "No file writable by everyone",
        "medium",
        "Any process in the container may change a world-writable file.",
        "List regular files with mode bit 0002.",
        "chmod o-w the file.",
        "no world-writable file",
        _OS,
    ),
    BaselineRule(
        "baseline.world-writable-dir",
        FILES,
        "World-writable directories are sticky",
        "medium",
        "Without the sticky bit anyone may delete or replace others' files in a world-writable directory.",
        "List directories with mode bit 0002 and without 01000.",
        "chmod +t (or o-w) the directory.",
        "every world-writable directory has the sticky bit",
        _OS,
    ),
    BaselineRule(
        "baseline.sshd-root-login",
        SSH,
        "SSH refuses root logins",
        "high",
        "PermitRootLogin yes lets anyone who has root's password or key log in directly as root.",
        "Read PermitRootLogin in /etc/ssh/sshd_config and its includes.",
        "Set PermitRootLogin no (or prohibit-password).",
        "PermitRootLogin no",
        "CIS OpenSSH",
    ),
    BaselineRule(
        "baseline.sshd-password-auth",
        SSH,
        "SSH uses keys, not passwords",
        "medium",
        "Password logins over SSH can be guessed.",
        "Read PasswordAuthentication in /etc/ssh/sshd_config and its includes.",
        "Set PasswordAuthentication no.",
        "PasswordAuthentication no",
        "CIS OpenSSH",
    ),
    BaselineRule(
        "baseline.sshd-empty-passwords",
        SSH,
        "SSH refuses empty passwords",
        "critical",
        "PermitEmptyPasswords yes lets accounts without a password log in over SSH.",
        "Read PermitEmptyPasswords in /etc/ssh/sshd_config and its includes.",
        "Set PermitEmptyPasswords no.",
        "PermitEmptyPasswords no",
        "CIS OpenSSH",
    ),
    BaselineRule(
        "baseline.sudo-nopasswd-all",
        SUDO,
        "sudo asks for a password",
        "high",
        "NOPASSWD: ALL (or Defaults !authenticate) gives root to anyone who runs as that user.",
        "Read /etc/sudoers and /etc/sudoers.d/*.",
        "Remove NOPASSWD from rules that allow ALL commands.",
        "no NOPASSWD: ALL rule",
        _OS,
    ),
    BaselineRule(
        "config.runs-as-root",
        CONFIG,
        "Processes do not run as root",
        "medium",
        "Without a User in the image configuration, containers run their processes as root.",
        "Read config.User of the image configuration.",
        "Add USER with a non-root user to the Dockerfile.",
        "a non-root User",
        "CIS Docker Benchmark 4.1",
    ),
    BaselineRule(
        "config.ssh-port-exposed",
        CONFIG,
        "The SSH port is not exposed",
        "medium",
        "A container image that exposes port 22 runs an SSH server beside its application.",
        "Read config.ExposedPorts of the image configuration.",
        "Remove EXPOSE 22 and the SSH server; use the orchestrator's exec instead.",
        "port 22 not exposed",
        "CIS Docker Benchmark 4.8",
    ),
    BaselineRule(
        "config.secret-in-env",
        CONFIG,
        "No secret in environment variables",
        "high",
        "Environment variables of the image configuration are read by whoever pulls the image.",
        "Read config.Env of the image configuration.",
        "Pass secrets at run time (secrets, mounted files), never with ENV.",
        "no secret in Env",
        "CIS Docker Benchmark 4.10",
    ),
)

BUILD_RULES = (
    BuildRule(
        "history.pipe-to-shell",
        "Downloaded script piped into a shell",
        "medium",
        "A build step runs a script downloaded at build time without checking it (curl ... | sh).",
        "Download the script, verify its checksum or signature, then run it; or COPY it into the build.",
    ),
    BuildRule(
        "history.add-from-url",
        "ADD from a URL without a checksum",
        "medium",
        "ADD fetches a remote file at build time and trusts whatever the server sends.",
        "Use ADD --checksum=sha256:... or download and verify in a RUN step.",
    ),
    BuildRule(
        "history.chmod-777",
        "Files made writable by everyone",
        "medium",
        "A build step makes files writable by any user (chmod 777, a+rwx, o+w).",
        "Give files to the user that needs them (chown) and keep modes at 755/644 or stricter.",
    ),
    BuildRule(
        "history.secret-in-build-arg",
        "Secret in a build argument",
        "high",
        "A build argument that holds a secret is kept in the history of every later step.",
        "Use build secrets (RUN --mount=type=secret) instead of ARG for credentials.",
    ),
    BuildRule(
        "history.secret-in-command",
        "Secret in a build command",
        "high",
        "A key, token or password written in a build command stays in the image history.",
        "Use build secrets (RUN --mount=type=secret) and rotate the exposed credential.",
    ),
)

RULES_BY_ID = {rule.rule_id: rule for rule in RULES}
BUILD_RULES_BY_ID = {rule.rule_id: rule for rule in BUILD_RULES}
SETTING_CATEGORIES = ("baseline", "image_config")
BUILD_CATEGORY = "build_command"


def rules_of(check_name: str) -> tuple[BaselineRule, ...]:
    """The rules of one baseline, in catalogue order."""
    return tuple(rule for rule in RULES if rule.check_name == check_name)


def baseline(check_name: str) -> Baseline | None:
    """A baseline by name."""
    return next((b for b in BASELINES if b.check_name == check_name), None)
