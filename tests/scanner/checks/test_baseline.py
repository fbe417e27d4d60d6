"""Baseline settings: accounts and passwords, set-id programs, world-writable paths, sshd, sudo."""

from __future__ import annotations

import ctypes
import ctypes.util
import subprocess
import time

import pytest

from moorage.scanner.checks import BaselineCheck, FlatView, SettingFinding
from moorage.scanner.checks.password_hashes import HashScheme, affordable, hash_scheme
from moorage.scanner.files import FileEntry, FileKind

ROOT_ONLY_PASSWD = "root:x:0:0:root:/root:/bin/bash\n"
LOCKED_SHADOW = "root:*:19000:0:99999:7:::\n"


def view(files: dict[str, str | bytes], modes: dict[str, tuple[FileKind, int, int]] | None = None) -> FlatView:
    """A flattened filesystem: text files (with content) plus entries with given kind, mode, uid."""
    flat: dict[str, tuple[FileEntry, bytes | None]] = {}
    for path, content in files.items():
        data = content.encode() if isinstance(content, str) else content
        flat[path] = (FileEntry(path, FileKind.REGULAR, len(data), 0o644, layer_digest="sha256:L1"), data)
    for path, (kind, mode, uid) in (modes or {}).items():
        flat[path] = (FileEntry(path, kind, 0, mode, uid=uid, layer_digest="sha256:L2"), None)
    return flat


def rules(found: list[object]) -> list[tuple[str, str]]:
    """(rule id, path) of baseline findings, sorted."""
    return sorted((f.rule_id, f.path) for f in found if isinstance(f, SettingFinding))


def crypt_hash(password: str, setting: str) -> str:
    """Hash with the system's libcrypt (an independent path from the check's own ctypes code)."""
    library = ctypes.CDLL(ctypes.util.find_library("crypt") or "libcrypt.so.1")
    library.crypt.restype = ctypes.c_char_p
    library.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    result = library.crypt(password.encode(), setting.encode())
    assert result is not None
    return bytes(result).decode()


def test_clean_accounts_have_no_findings(baseline_check: BaselineCheck) -> None:
    passwd = ROOT_ONLY_PASSWD + "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\napp:x:1000:1000::/app:/bin/sh\n"
    strong = crypt_hash("a-long and unusual phrase 9183", "$6$Zq8v1YbW0xC4$")
    shadow = LOCKED_SHADOW + "daemon:*:19000::::::\napp:" + strong + ":19000::::::\n"
    assert baseline_check.check_filesystem(view({"/etc/passwd": passwd, "/etc/shadow": shadow})) == []


def test_passwordless_account(baseline_check: BaselineCheck) -> None:
    passwd = ROOT_ONLY_PASSWD + "guest:x:1001:1001::/home/guest:/bin/bash\nsvc:x:1002:1002::/:/usr/sbin/nologin\n"
    shadow = LOCKED_SHADOW + "guest::19000:0:99999:7:::\nsvc::19000::::::\n"
    found = baseline_check.check_filesystem(view({"/etc/passwd": passwd, "/etc/shadow": shadow}))
    assert rules(found) == [("baseline.empty-password", "/etc/shadow")] * 2
    severities = {f.evidence.split(":")[0]: f.severity for f in found if isinstance(f, SettingFinding)}
    assert severities == {"user guest": "critical", "user svc": "high"}
    assert all(f.layer_digest == "sha256:L1" for f in found)


def test_empty_password_field_in_passwd_without_shadow(baseline_check: BaselineCheck) -> None:
    found = baseline_check.check_filesystem(view({"/etc/passwd": "root::0:0:root:/root:/bin/sh\n"}))
    assert rules(found) == [("baseline.empty-password", "/etc/passwd")]


@pytest.mark.parametrize(
    ("setting", "scheme"),
    [("$1$abcdefgh$", HashScheme.MD5), ("ab", HashScheme.DES)],
)
def test_weak_hash_schemes_and_dictionary_passwords(
    baseline_check: BaselineCheck, setting: str, scheme: HashScheme
) -> None:
    weak = crypt_hash("letmein", setting)
    strong_words = crypt_hash("Zx9!long-unguessable", setting)
    assert hash_scheme(weak) is scheme
    shadow = f"root:{weak}:19000::::::\nops:{strong_words}:19000::::::\n"
    passwd = ROOT_ONLY_PASSWD + "ops:x:1000:1000::/home/ops:/bin/bash\n"
    found = baseline_check.check_filesystem(view({"/etc/passwd": passwd, "/etc/shadow": shadow}))
    assert sorted((f.rule_id, f.evidence.split(":")[0]) for f in found if isinstance(f, SettingFinding)) == [
        ("baseline.weak-password", "user root"),
        ("baseline.weak-password-hash", "user ops"),
        ("baseline.weak-password-hash", "user root"),
    ]
    assert all(
        "letmein" not in f.evidence and "letmein" not in f.message for f in found if isinstance(f, SettingFinding)
    )


def test_dictionary_check_on_modern_hashes_and_the_account_name(baseline_check: BaselineCheck) -> None:
    openssl_sha512 = subprocess.run(
        ["openssl", "passwd", "-6", "-salt", "q1w2e3r4t5", "changeme"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    yescrypt = crypt_hash("deploy", "$y$j9T$F5Jx5fExrKuPp53xLKQ..1")
    shadow = f"root:{openssl_sha512}:19000::::::\ndeploy:{yescrypt}:19000::::::\n"
    passwd = ROOT_ONLY_PASSWD + "deploy:x:1000:1000::/home/deploy:/bin/bash\n"
    found = baseline_check.check_filesystem(view({"/etc/passwd": passwd, "/etc/shadow": shadow}))
    assert rules(found) == [("baseline.weak-password", "/etc/shadow")] * 2


def test_costly_hashes_are_not_tried(baseline_check: BaselineCheck) -> None:
    """An untrusted shadow cannot make the scan hash for minutes or allocate gigabytes."""
    costly = "$6$rounds=999999999$abcdefgh$" + "A" * 86
    assert not affordable(costly)
    assert not affordable("$y$jFT$rRuRuMzRBsZ2428P2Oxzo/$b/JN92HIYuS5N/zOye1QpASiSOR16mAOqSr.mONuARD")
    assert not affordable("$2b$14$" + "a" * 53)
    assert affordable("$2b$10$" + "a" * 53) and affordable("$6$rounds=5000$abc$x") and affordable("$y$j9T$a$b")
    started = time.monotonic()
    found = baseline_check.check_filesystem(
        view({"/etc/passwd": ROOT_ONLY_PASSWD, "/etc/shadow": f"root:{costly}:1::::::\n"})
    )
    assert time.monotonic() - started < 2 and found == []


def test_extra_uid0_and_hash_in_passwd(baseline_check: BaselineCheck) -> None:
    md5 = crypt_hash("Zx9!long-unguessable", "$1$saltsalt$")
    passwd = ROOT_ONLY_PASSWD + f"toor:{md5}:0:0::/root:/bin/bash\n"
    found = baseline_check.check_filesystem(view({"/etc/passwd": passwd, "/etc/shadow": LOCKED_SHADOW}))
    assert rules(found) == [
        ("baseline.extra-uid0-account", "/etc/passwd"),
        ("baseline.hash-in-passwd", "/etc/passwd"),
        ("baseline.weak-password-hash", "/etc/passwd"),
    ]


def test_garbage_account_files_are_skipped_not_raised(baseline_check: BaselineCheck) -> None:
    garbage = b"\xff\xfe\x00binary:::\n::::\nroot\nx:y:notanumber:z:::\n" * 100
    assert baseline_check.check_filesystem(view({"/etc/passwd": garbage, "/etc/shadow": garbage})) == []


def test_set_id_programs_outside_the_allowlist(baseline_check: BaselineCheck) -> None:
    modes = {
        "/usr/bin/su": (FileKind.REGULAR, 0o4755, 0),
        "/bin/mount": (FileKind.REGULAR, 0o4755, 0),
        "/usr/lib/x86_64-linux-gnu/utempter/utempter": (FileKind.REGULAR, 0o2755, 0),
        "/usr/sbin/unix_chkpwd": (FileKind.REGULAR, 0o2755, 0),
        "/usr/local/bin/rootme": (FileKind.REGULAR, 0o4755, 0),
        "/opt/app/tool": (FileKind.REGULAR, 0o2711, 0),
        "/usr/bin/plain": (FileKind.REGULAR, 0o755, 0),
        "/var/mail": (FileKind.DIRECTORY, 0o2775, 0),
    }
    found = baseline_check.check_filesystem(view({}, modes))
    assert rules(found) == [
        ("baseline.sgid-file", "/opt/app/tool"),
        ("baseline.suid-file", "/usr/local/bin/rootme"),
    ]
    suid = next(f for f in found if isinstance(f, SettingFinding) and f.rule_id == "baseline.suid-file")
    assert (suid.severity, suid.evidence, suid.layer_digest) == ("high", "mode 4755, owner 0:0", "sha256:L2")
    allowing = BaselineCheck(extra_suid_allowlist=["/usr/local/bin/rootme", "/opt/app/*"])
    assert allowing.check_filesystem(view({}, modes)) == []


def test_world_writable_paths(baseline_check: BaselineCheck) -> None:
    modes = {
        "/tmp": (FileKind.DIRECTORY, 0o1777, 0),
        "/var/tmp": (FileKind.DIRECTORY, 0o1777, 0),
        "/app/uploads": (FileKind.DIRECTORY, 0o777, 0),
        "/app/run.sh": (FileKind.REGULAR, 0o777, 0),
        "/app/data": (FileKind.DIRECTORY, 0o775, 0),
        "/usr/bin/python": (FileKind.SYMLINK, 0o777, 0),
        "/dev/null": (FileKind.CHAR_DEVICE, 0o666, 0),
    }
    found = baseline_check.check_filesystem(view({}, modes))
    assert rules(found) == [
        ("baseline.world-writable-dir", "/app/uploads"),
        ("baseline.world-writable-file", "/app/run.sh"),
    ]


def test_many_world_writable_files_are_summarised(baseline_check: BaselineCheck) -> None:
    modes = {f"/data/f{i:03}": (FileKind.REGULAR, 0o666, 0) for i in range(150)}
    found = baseline_check.check_filesystem(view({}, modes))
    assert len(found) == 101 and "50 more" in found[-1].message


SSHD_DEFAULT = "\n".join(
    [
        "Include /etc/ssh/sshd_config.d/*.conf",
        "#PermitRootLogin prohibit-password",
        "KbdInteractiveAuthentication no",
        "",
    ]
)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"/etc/ssh/sshd_config": "PasswordAuthentication no\n"}, []),
        ({"/etc/ssh/sshd_config": SSHD_DEFAULT}, [("baseline.sshd-password-auth", "low")]),
        (
            {"/etc/ssh/sshd_config": "PermitRootLogin yes\nPasswordAuthentication yes\n"
                                     "PermitEmptyPasswords yes\n"},
            [("baseline.sshd-empty-passwords", "high"), ("baseline.sshd-password-auth", "medium"),
             ("baseline.sshd-root-login", "high")],
        ),
        (
            {"/etc/ssh/sshd_config": SSHD_DEFAULT,
             "/etc/ssh/sshd_config.d/10-root.conf": "PermitRootLogin=yes\npasswordauthentication no\n"},
            [("baseline.sshd-root-login", "high")],
        ),
        # first value wins, as in sshd
        ({"/etc/ssh/sshd_config": "PasswordAuthentication no\nPasswordAuthentication yes\n"}, []),
        # settings inside Match blocks are conditional: not the global policy
        ({"/etc/ssh/sshd_config": "PasswordAuthentication no\nMatch User backup\n  PermitRootLogin yes\n"},
         []),
        ({"/etc/ssh/sshd_config": "PasswordAuthentication no\nPermitRootLogin prohibit-password\n"}, []),
    ],
)  # fmt: skip
def test_sshd(baseline_check: BaselineCheck, files: dict[str, str], expected: list[tuple[str, str]]) -> None:
    found = baseline_check.check_filesystem(view(files))
    assert sorted((f.rule_id, f.severity) for f in found if isinstance(f, SettingFinding)) == expected


def test_sshd_rules_name_the_file_that_sets_the_option(baseline_check: BaselineCheck) -> None:
    files = {"/etc/ssh/sshd_config": SSHD_DEFAULT + "PasswordAuthentication no\n",
             "/etc/ssh/sshd_config.d/50-cloud.conf": "PermitRootLogin yes\n"}  # fmt: skip
    (found,) = baseline_check.check_filesystem(view(files))
    assert isinstance(found, SettingFinding)
    assert (found.path, found.evidence) == ("/etc/ssh/sshd_config.d/50-cloud.conf", "PermitRootLogin yes")


def test_no_sshd_config_means_no_sshd_findings(baseline_check: BaselineCheck) -> None:
    assert baseline_check.check_filesystem(view({"/etc/ssh/ssh_config": "PasswordAuthentication yes\n"})) == []


SUDOERS = "Defaults env_reset\nroot ALL=(ALL:ALL) ALL\n%sudo ALL=(ALL:ALL) ALL\n@includedir /etc/sudoers.d\n"


@pytest.mark.parametrize(
    ("extra", "flagged"),
    [
        ("app ALL=(ALL) NOPASSWD: ALL\n", True),
        ("%wheel ALL=(ALL:ALL) NOPASSWD:ALL\n", True),
        ("deploy ALL=(root) NOPASSWD: SETENV: ALL\n", True),
        ("ci ALL=(ALL) NOPASSWD: /usr/bin/apt-get, \\\n    ALL\n", True),
        ("Defaults:ci !authenticate\n", True),
        ("app ALL=(ALL) NOPASSWD: /usr/bin/systemctl restart app\n", False),
        ("app ALL=(ALL) ALL\n", False),
        ("# app ALL=(ALL) NOPASSWD: ALL\n", False),
        ("Cmnd_Alias ALLCMDS = NOPASSWD: ALL\n", False),
    ],
)
def test_sudoers_nopasswd_all(baseline_check: BaselineCheck, extra: str, flagged: bool) -> None:
    files = {
        "/etc/sudoers": SUDOERS,
        "/etc/sudoers.d/app": extra,
        "/etc/sudoers.d/app.disabled": "x ALL=(ALL) NOPASSWD: ALL\n",
        "/etc/sudoers.d/app~": "y ALL=(ALL) NOPASSWD: ALL\n",
    }
    found = baseline_check.check_filesystem(view(files))
    assert rules(found) == ([("baseline.sudo-nopasswd-all", "/etc/sudoers.d/app")] if flagged else [])


def test_sudoers_include_loops_end(baseline_check: BaselineCheck) -> None:
    files = {"/etc/sudoers": "@include /etc/sudoers\n#include sudoers\nx ALL=(ALL) NOPASSWD: ALL\n"}
    assert rules(baseline_check.check_filesystem(view(files))) == [("baseline.sudo-nopasswd-all", "/etc/sudoers")]


def test_wants_content_only_for_parsed_files(baseline_check: BaselineCheck) -> None:
    def entry(path: str, kind: FileKind = FileKind.REGULAR) -> FileEntry:
        return FileEntry(path, kind, 10, 0o644)

    for path in ("/etc/passwd", "/etc/shadow", "/etc/ssh/sshd_config", "/etc/ssh/sshd_config.d/a.conf",
                 "/etc/sudoers", "/etc/sudoers.d/app"):  # fmt: skip
        assert baseline_check.wants_content(entry(path)), path
    assert not baseline_check.wants_content(entry("/etc/passwd-"))
    assert not baseline_check.wants_content(entry("/etc/hosts"))
    assert not baseline_check.wants_content(entry("/etc/sudoers.d", FileKind.DIRECTORY))


def test_include_chains_past_the_depth_are_reported(baseline_check: BaselineCheck) -> None:
    """sshd and sudo files included more than 8 deep are not read, and the check says so (it
    used to drop them silently), keeping what it found."""
    from moorage.scanner.checks.errors import CheckIncomplete

    files = {"/etc/ssh/sshd_config": "Include /etc/ssh/c1\n", "/etc/sudoers": "@include /etc/s1\n"}
    for level in range(1, 11):
        files[f"/etc/ssh/c{level}"] = f"Include /etc/ssh/c{level + 1}\n"
        files[f"/etc/s{level}"] = f"@include /etc/s{level + 1}\n"
    files["/etc/ssh/c11"] = "PermitRootLogin yes\n"
    files["/etc/s3"] = "@include /etc/s4\nx ALL=(ALL) NOPASSWD: ALL\n"
    with pytest.raises(CheckIncomplete) as incomplete:
        baseline_check.check_filesystem(view(files))
    found = rules(incomplete.value.findings)
    assert ("baseline.sudo-nopasswd-all", "/etc/s3") in found
    assert all(path != "/etc/ssh/c11" for _, path in found)  # past the depth: not read
    assert incomplete.value.reason == (
        "/etc/ssh/c9 is included more than 8 files deep: not read; /etc/s9 is included more than 8 files deep: not read"
    )
