"""Image configuration risks: running as root, secrets in ENV, SSH port exposed.

``ImageConfigCheck`` is a ``ConfigCheck`` over the parsed image config blob (OCI or docker
schema 2; the runtime settings live under ``config``). The config is untrusted: wrong types are
ignored, never raised on. Rules:

* ``config.runs-as-root``: no ``User``, or user ``root`` / ``0``;
* ``config.secret-in-env``: an ``Env`` entry whose name says secret (``DB_PASSWORD``) with a real
  value, or whose value matches a secret rule (an AWS key in any variable); value masked;
* ``config.ssh-port-exposed``: ``ExposedPorts`` has 22.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from moorage.scanner.checks.findings import Category, Finding, SettingFinding, Severity
from moorage.scanner.checks.secret_places import is_secret_name
from moorage.scanner.checks.secrets import SecretCheck, looks_like_path, mask_secret

MAX_ENV_ENTRIES = 1000
"""Env entries looked at; a real image has tens."""


def runtime_config(config: Mapping[str, Any]) -> Mapping[str, Any]:
    """The runtime section (``config``, or docker's legacy ``container_config``), or empty."""
    for key in ("config", "Config", "container_config"):
        section = config.get(key)
        if isinstance(section, Mapping):
            return section
    return {}


def env_pairs(runtime: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``Env`` as (name, value) pairs, skipping anything that is not ``NAME=value`` text."""
    env = runtime.get("Env")
    if not isinstance(env, list):
        return []
    pairs: list[tuple[str, str]] = []
    for item in env[:MAX_ENV_ENTRIES]:
        if isinstance(item, str) and "=" in item:
            name, _, value = item.partition("=")
            pairs.append((name, value))
    return pairs


_NOT_SECRET_VALUES = frozenset({"true", "false", "yes", "no", "on", "off", "none", "null", "nil", "empty"})


def looks_like_secret_value(value: str) -> bool:
    """A variable value that can be a real secret: not empty, a reference, a path, a flag or a number.

    Unlike file contents, an ENV value is what the container really uses, so words like
    ``changeme`` or ``mysecretpassword`` count: they are weak secrets, not placeholders.
    """
    stripped = value.strip().strip("\"'")
    if len(stripped) < 4 or stripped.lower() in _NOT_SECRET_VALUES or stripped.isdigit():
        return False
    return not (looks_like_path(stripped) or stripped.startswith(("$", "%", "{{", "<")))


def runs_as_root(user: str) -> bool:
    """Whether a config ``User`` value means root: empty, ``root`` or uid 0 (any group)."""
    name = user.strip().split(":", 1)[0]
    return name in ("", "root", "0")


class ImageConfigCheck:
    """Risks in the image's runtime configuration (a ``ConfigCheck``)."""

    name = "image_config"

    def __init__(self, secret_check: SecretCheck | None = None) -> None:
        """Use ``secret_check``'s rules on ENV values (a new default one if not given)."""
        self._secrets = secret_check or SecretCheck()

    def check_config(self, config: Mapping[str, Any], layer_digests: Sequence[str] = ()) -> list[Finding]:
        """Findings of the runtime configuration; ``layer_digests`` is unused (image-level rules)."""
        runtime = runtime_config(config)
        findings: list[Finding] = []
        user = runtime.get("User")
        user = user if isinstance(user, str) else ""
        if runs_as_root(user):
            evidence = f"User {user!r}" if user.strip() else "no User set (containers run as root)"
            findings.append(
                SettingFinding(
                    category=Category.IMAGE_CONFIG,
                    rule_id="config.runs-as-root",
                    severity=Severity.MEDIUM,
                    message="the image runs its processes as root",
                    evidence=evidence,
                )
            )
        findings.extend(self._env_secrets(runtime))
        ports = runtime.get("ExposedPorts")
        if isinstance(ports, Mapping):
            for port in ports:
                if isinstance(port, str) and port.split("/", 1)[0].strip() == "22":
                    findings.append(
                        SettingFinding(
                            category=Category.IMAGE_CONFIG,
                            rule_id="config.ssh-port-exposed",
                            severity=Severity.MEDIUM,
                            message="the image exposes the SSH port",
                            evidence=f"ExposedPorts {port}",
                        )
                    )
        return findings

    def _env_secrets(self, runtime: Mapping[str, Any]) -> list[Finding]:
        """ENV entries that hold a secret, by name or by value."""
        findings: list[Finding] = []
        for name, value in env_pairs(runtime):
            matched = self._secrets.find(f"{name}={value}".encode("utf-8", "replace"))
            if matched:
                title, evidence = matched[0].title, matched[0].redacted_match
            elif is_secret_name(name) and looks_like_secret_value(value):
                title, evidence = "secret", f"{name}={mask_secret(value, 0)}"
            else:
                continue
            findings.append(
                SettingFinding(
                    category=Category.IMAGE_CONFIG,
                    rule_id="config.secret-in-env",
                    severity=Severity.HIGH,
                    message=f"{title} in the environment variable {name}: whoever pulls the image reads it",
                    evidence=evidence,
                )
            )
        return findings
