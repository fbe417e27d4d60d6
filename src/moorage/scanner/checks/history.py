"""Build-command risks read from the image config's ``history``.

``HistoryCheck`` is a ``ConfigCheck``. Each history entry's ``created_by`` is the Dockerfile
instruction (BuildKit: ``RUN |2 A=1 B=2 /bin/sh -c ...``; the classic builder:
``/bin/sh -c #(nop) ADD ...``). Rules:

* ``history.pipe-to-shell``: a download piped into a shell or interpreter (``curl ... | sh``,
  ``wget -O- ... | bash``, ``sh -c "$(curl ...)"``, ``bash <(curl ...)``);
* ``history.add-from-url``: ``ADD https://...`` without ``--checksum``;
* ``history.chmod-777``: ``chmod 777`` / ``a+rwx`` / ``o+w``;
* ``history.secret-in-build-arg``: a build argument whose name says secret, with a value
  (BuildKit keeps build arguments in the history of every RUN that follows them);
* ``history.secret-in-command``: a key, token or URL password written in the command itself.

Evidence is the command, shortened, with every secret found in it masked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from moorage.scanner.checks.findings import Category, Finding, SettingFinding, Severity
from moorage.scanner.checks.image_config import env_pairs, looks_like_secret_value, runtime_config
from moorage.scanner.checks.secret_places import is_secret_name
from moorage.scanner.checks.secrets import SecretCheck, mask_secret

MAX_HISTORY_ENTRIES = 2000
"""History entries looked at (docker caps an image at 127 layers; history is a little longer)."""
MAX_COMMAND_CHARS = 65536
"""Characters of one ``created_by`` examined."""
EVIDENCE_CHARS = 200
"""Characters of the (masked) command kept as evidence."""

_SHELL = (
    r"(?:sudo\s+(?:-\S+\s+)*)?(?:(?:/usr)?(?:/bin/)?env\s+(?:-\S+\s+)*(?:\S+=\S*\s+)*)?"
    r"(?:/usr)?(?:/local)?(?:/bin/)?"
)
_INTERPRETER = r"(?:ba|da|z|k|fi|a)?sh|python[0-9.]*|perl|ruby|node|php"
_PIPE_TO_SHELL = re.compile(
    r"\b(?:curl|wget|fetch)\b[^|;&\n]{0,2000}\|\s*" + _SHELL + r"(?:" + _INTERPRETER + r")\b"
    r"|\b(?:ba|da|z|k)?sh\s+(?:-[a-z]+\s+)*[\"']?\$\(\s*(?:curl|wget)\b"
    r"|\b(?:ba|z)?sh\s+<\(\s*(?:curl|wget)\b"
)
_ADD_URL = re.compile(r"\bADD\s+((?:--\S+\s+){0,8})(?:https?|ftp)://\S+")
_CHMOD_WORLD = re.compile(
    r"\bchmod\s+(?:-[A-Za-z]+\s+){0,4}(?:0?[0-7][0-7][2367]|[ugoa]*[oa][ugoa]*\+[rwxXst]*w[rwxXst]*)(?=\s|$|;|&)"
)
_BUILD_ARGS = re.compile(r"^(?:RUN\s+)?\|([0-9]{1,3})\s+")
_URL_PASSWORD = re.compile(r"\b[a-z][a-z0-9+.-]{1,20}://[^\s:@/\"']{1,128}:([^\s@/\"']{1,256})@[A-Za-z0-9.\[\]-]")
_NOP = re.compile(r"^/bin/sh -c #\(nop\)\s*")
_ENV_INSTRUCTION = re.compile(r"^ENV\s+")


def _instruction(created_by: str) -> str:
    """The instruction without the classic builder's ``/bin/sh -c #(nop)`` wrapping."""
    return _NOP.sub("", created_by.strip())


def build_args(instruction: str) -> list[tuple[str, str, tuple[int, int]]]:
    """BuildKit build arguments of a ``RUN |N A=1 B=2 ...`` entry: (name, value, value span)."""
    head = _BUILD_ARGS.match(instruction)
    if head is None:
        return []
    count = int(head.group(1))
    found: list[tuple[str, str, tuple[int, int]]] = []
    for match in re.finditer(r"(\S+?)=(\S*)", instruction[head.end() :]):
        if len(found) == count:
            break
        name = match.group(1)
        offset = head.end()
        found.append((name, match.group(2), (offset + match.start(2), offset + match.end(2))))
    return found


def _masked(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with every span masked, shortened to ``EVIDENCE_CHARS`` on one line."""
    pieces: list[str] = []
    cursor = 0
    for start, end in sorted(spans):
        if start < cursor:
            start = cursor
        if end <= start:
            continue
        pieces.append(text[cursor:start])
        pieces.append(mask_secret(text[start:end], 0))
        cursor = end
    pieces.append(text[cursor:])
    flat = " ".join("".join(pieces).split())
    return flat if len(flat) <= EVIDENCE_CHARS else flat[: EVIDENCE_CHARS - 3] + "..."


class HistoryCheck:
    """Risky build commands in the image history (a ``ConfigCheck``)."""

    name = "history"

    def __init__(self, secret_check: SecretCheck | None = None) -> None:
        """Use ``secret_check``'s rules to find secrets in commands (a new default one if not given)."""
        self._secrets = secret_check or SecretCheck()

    def check_config(self, config: Mapping[str, Any], layer_digests: Sequence[str] = ()) -> list[Finding]:
        """Findings for every history entry; ``layer_digests`` (manifest order) name the layers."""
        history = config.get("history")
        if not isinstance(history, list):
            return []
        layers = _layer_names(config, layer_digests)
        final_env = {f"{name}={value}" for name, value in env_pairs(runtime_config(config))}
        findings: list[Finding] = []
        layer_index = 0
        for index, item in enumerate(history[:MAX_HISTORY_ENTRIES]):
            if not isinstance(item, Mapping):
                continue
            empty = item.get("empty_layer") is True
            layer = "" if empty or layer_index >= len(layers) else layers[layer_index]
            if not empty:
                layer_index += 1
            created_by = item.get("created_by")
            if isinstance(created_by, str) and created_by.strip():
                findings.extend(self._entry(index, _instruction(created_by[:MAX_COMMAND_CHARS]), layer, final_env))
        return findings

    def _entry(self, index: int, instruction: str, layer: str, final_env: set[str]) -> list[Finding]:
        """Findings of one history entry."""
        secret_spans: list[tuple[int, int]] = []
        secret_findings: list[tuple[str, Severity, str]] = []
        for name, value, span in build_args(instruction):
            if is_secret_name(name) and looks_like_secret_value(value):
                secret_spans.append(span)
                secret_findings.append(
                    (
                        "history.secret-in-build-arg",
                        Severity.HIGH,
                        f"build argument {name} holds a secret, kept in the image history",
                    )
                )
        for match in _URL_PASSWORD.finditer(instruction):
            if looks_like_secret_value(match.group(1)):
                secret_spans.append(match.span(1))
                secret_findings.append(
                    ("history.secret-in-command", Severity.HIGH, "URL with a password in a build command")
                )
        is_env = _ENV_INSTRUCTION.match(instruction) is not None
        encoded = instruction.encode("utf-8", "surrogateescape")
        for found in self._secrets.find(encoded):
            spans = [
                (
                    len(encoded[:a].decode("utf-8", "surrogateescape")),
                    len(encoded[:b].decode("utf-8", "surrogateescape")),
                )
                for a, b in found.secret_spans
            ]
            secret_spans.extend(spans)
            if is_env and any(entry in instruction for entry in final_env):
                continue  # the same ENV is in the final config: config.secret-in-env reports it
            secret_findings.append(("history.secret-in-command", Severity.HIGH, f"{found.title} in a build command"))
        evidence = _masked(instruction, secret_spans)
        findings: list[Finding] = []

        def add(rule_id: str, severity: Severity, message: str) -> None:
            findings.append(
                SettingFinding(
                    category=Category.BUILD_COMMAND,
                    rule_id=rule_id,
                    severity=severity,
                    message=message,
                    layer_digest=layer,
                    evidence=evidence,
                    history_index=index,
                )
            )

        for rule_id, severity, message in dict.fromkeys(secret_findings):
            add(rule_id, severity, message)
        if _PIPE_TO_SHELL.search(instruction):
            add(
                "history.pipe-to-shell",
                Severity.MEDIUM,
                "a downloaded script is piped into a shell at build time",
            )
        add_url = _ADD_URL.search(instruction)
        if add_url is not None and "--checksum" not in add_url.group(1):
            add("history.add-from-url", Severity.MEDIUM, "ADD downloads a URL without a checksum")
        if _CHMOD_WORLD.search(instruction):
            add("history.chmod-777", Severity.MEDIUM, "chmod makes files writable by anyone")
        return findings


def _layer_names(config: Mapping[str, Any], layer_digests: Sequence[str]) -> list[str]:
    """Layer digests in order: the manifest's if given, else the config's ``rootfs.diff_ids``."""
    if layer_digests:
        return list(layer_digests)
    rootfs = config.get("rootfs")
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, Mapping) else None
    return [d for d in diff_ids if isinstance(d, str)] if isinstance(diff_ids, list) else []
