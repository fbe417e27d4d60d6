"""The secret rule table: what a leaked key, token or password looks like.

Each rule is a precompiled bytes regex behind a literal prefilter: the scanner runs a rule's
regex over a file only when one of its lower-case ``keywords`` occurs in the lower-cased file,
so a file pays one ``bytes.lower()`` plus a few ``memmem`` searches, and regexes run on the
few files that can match. Regexes avoid unbounded nested repetition (every quantifier that can
backtrack is bounded), so a hostile file cannot make them run for long.

Rules come in table order; the first rule whose secret span covers a spot wins, so specific
rules (AWS, GitHub...) come before generic ones (passwords in config files). ``generic`` rules
are noisy by nature and skipped in documentation, example and test paths.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass

from moorage.domain.bounded_json import DEFAULT_MAX_DEPTH, loads
from moorage.scanner.checks.findings import Severity
from moorage.scanner.checks.secret_places import is_config_file, is_env_file, is_json_file

Validator = Callable[[bytes, "re.Match[bytes]"], bool]
"""Extra test of a match, given the whole (capped) content and the match."""


@dataclass(frozen=True, slots=True)
class SecretRule:
    """One kind of secret and how to find it."""

    rule_id: str
    """Stable id, ``secret.<name>``."""
    title: str
    """What was found, for the finding's message."""
    severity: Severity
    """Severity of a finding."""
    keywords: tuple[bytes, ...]
    """Lower-case literals; the regex runs only if one occurs in the lower-cased content."""
    pattern: re.Pattern[bytes]
    """Where the secret is; ``secret_groups`` name the groups that hold secret bytes."""
    secret_groups: tuple[int, ...] = (1,)
    """Groups masked in the redacted match; empty: the key material after the match is secret."""
    keep_prefix: int = 0
    """Leading characters of a secret shown in the redacted match (a type marker like ``AKIA``)."""
    min_entropy: float = 0.0
    """Minimum Shannon entropy (bits per character) of the first secret group."""
    generic: bool = False
    """Noisy rule: skipped in documentation, example and test paths; placeholder values dropped."""
    path_filter: Callable[[str], bool] | None = None
    """Run only on paths this accepts (cheap string tests)."""
    validate: Validator | None = None
    """Extra test of a match (decoding base64, checking JSON...)."""
    lead: int = 0
    """How far before a keyword occurrence a match may start (0: the keyword starts it)."""
    reach: int = 2048
    """How far after a keyword occurrence a match may end; above the longest possible match."""


# -- validators ------------------------------------------------------------------------------

_LINE_BREAK = re.compile(rb"\\r|\\n|[\r\n\t ]")
_PEM_HEADER_LINE = re.compile(rb"^[A-Za-z][A-Za-z0-9-]*: ?[^\r\n]*(?:\r?\n|\\n)", re.MULTILINE)
_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/=]{64,}")


def key_material_after(content: bytes, match: re.Match[bytes]) -> bytes:
    """The base64 body that follows a PEM or PuTTY header (header lines skipped), compacted."""
    tail = content[match.end() : match.end() + 800]
    tail = tail.lstrip(b"\r\n\\n ")
    while True:
        header = _PEM_HEADER_LINE.match(tail)
        if header is None:
            break
        tail = tail[header.end() :]
    end = tail.find(b"-----END")
    if end >= 0:
        tail = tail[:end]
    return _LINE_BREAK.sub(b"", tail)


def _has_key_material(content: bytes, match: re.Match[bytes]) -> bool:
    """A private-key header followed by at least 64 characters of base64 (not documentation)."""
    return _BASE64_RUN.match(key_material_after(content, match)) is not None


def _is_putty_key(content: bytes, match: re.Match[bytes]) -> bool:
    """A PuTTY key file header with a Private-Lines section after it."""
    return b"Private-Lines:" in content[match.end() : match.end() + 4096]


def _is_jwt(content: bytes, match: re.Match[bytes]) -> bool:
    """The first JWT segment is base64url JSON with an ``alg`` member."""
    header = match.group(1).split(b".", 1)[0]
    try:
        # Image content: a header of ``[[[[...`` must not reach the parser's recursion limit.
        decoded = loads(base64.urlsafe_b64decode(header + b"=" * (-len(header) % 4)), max_depth=DEFAULT_MAX_DEPTH)
    except (ValueError, binascii.Error):
        return False
    return isinstance(decoded, dict) and "alg" in decoded


def _is_docker_auth(content: bytes, match: re.Match[bytes]) -> bool:
    """A docker ``auths`` entry: base64 of ``user:password`` with a non-empty password."""
    try:
        decoded = base64.b64decode(match.group(1), validate=True)
    except (ValueError, binascii.Error):
        return False
    user, sep, password = decoded.partition(b":")
    return bool(sep and user and password)


def _is_kubeconfig(content: bytes, match: re.Match[bytes]) -> bool:
    """The file is a kubeconfig (``kind: Config`` with ``users:``)."""
    return b"kind: Config" in content and b"users:" in content


# -- the table --------------------------------------------------------------------------------

_VALUE_END = rb"(?![A-Za-z0-9/+=_-])"
_ASSIGN = rb"[\"']?[ \t]*(?::=|=>|=|:)[ \t]*[\"']?"

SECRET_RULES: tuple[SecretRule, ...] = (
    SecretRule(
        rule_id="secret.private-key",
        title="private key",
        severity=Severity.HIGH,
        keywords=(b"private key",),
        pattern=re.compile(rb"-----BEGIN ((?:[A-Z0-9]{1,12} ){0,3})PRIVATE KEY(?: BLOCK)?-----"),
        secret_groups=(),
        validate=_has_key_material,
        lead=64,
    ),
    SecretRule(
        rule_id="secret.putty-private-key",
        title="PuTTY private key",
        severity=Severity.HIGH,
        keywords=(b"putty-user-key-file-",),
        pattern=re.compile(rb"PuTTY-User-Key-File-[23]: [^\r\n]{1,64}"),
        secret_groups=(),
        validate=_is_putty_key,
    ),
    SecretRule(
        rule_id="secret.cloud-credentials-csv",
        title="cloud access key pair (credentials CSV)",
        severity=Severity.CRITICAL,
        keywords=(b"secret access key",),
        pattern=re.compile(
            rb"(?i:access key id,secret access key)[^\r\n]{0,200}\r?\n(?:[^,\r\n]{0,128},)?"
            rb"([A-Z0-9]{20}),([A-Za-z0-9/+=]{40})" + _VALUE_END
        ),
        secret_groups=(1, 2),
        keep_prefix=4,
        lead=64,
        reach=4096,
    ),
    SecretRule(
        rule_id="secret.aws-access-key-id",
        title="AWS access key id",
        severity=Severity.HIGH,
        keywords=(b"akia", b"asia", b"abia", b"acca", b"a3t"),
        pattern=re.compile(rb"(?<![A-Za-z0-9])((?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16})(?![A-Za-z0-9])"),
        keep_prefix=4,
        min_entropy=3.0,
    ),
    SecretRule(
        rule_id="secret.aws-secret-access-key",
        title="AWS secret access key",
        severity=Severity.CRITICAL,
        keywords=(b"aws",),
        pattern=re.compile(
            rb"(?i:aws)[A-Za-z0-9_.-]{0,20}(?i:secret)[A-Za-z0-9_.-]{0,20}"
            + _ASSIGN
            + rb"([A-Za-z0-9/+=]{40})"
            + _VALUE_END
        ),
        min_entropy=3.5,
    ),
    SecretRule(
        rule_id="secret.huaweicloud-access-key-id",
        title="Huawei Cloud access key id (AK)",
        severity=Severity.HIGH,
        keywords=(b"huawei", b"hw", b"obs", b"cloud_sdk"),
        pattern=re.compile(
            rb"(?i:huaweicloud_sdk_ak|cloud_sdk_ak|(?:huawei|huaweicloud|hwcloud|hw|obs)[_.-]?"
            rb"(?:access[_.-]?key(?:[_.-]?id)?|ak))" + _ASSIGN + rb"([A-Z0-9]{20})" + _VALUE_END
        ),
        keep_prefix=4,
        min_entropy=3.0,
    ),
    SecretRule(
        rule_id="secret.huaweicloud-secret-access-key",
        title="Huawei Cloud secret access key (SK)",
        severity=Severity.CRITICAL,
        keywords=(b"huawei", b"hw", b"obs", b"cloud_sdk"),
        pattern=re.compile(
            rb"(?i:huaweicloud_sdk_sk|cloud_sdk_sk|(?:huawei|huaweicloud|hwcloud|hw|obs)[_.-]?"
            rb"(?:secret[_.-]?(?:access[_.-]?)?key|sk))" + _ASSIGN + rb"([A-Za-z0-9]{40})" + _VALUE_END
        ),
        min_entropy=3.5,
    ),
    SecretRule(
        rule_id="secret.alibaba-access-key-id",
        title="Alibaba Cloud access key id",
        severity=Severity.HIGH,
        keywords=(b"ltai",),
        pattern=re.compile(rb"(?<![A-Za-z0-9])(LTAI[A-Za-z0-9]{12,20})(?![A-Za-z0-9])"),
        keep_prefix=4,
        min_entropy=3.0,
    ),
    SecretRule(
        rule_id="secret.tencent-secret-id",
        title="Tencent Cloud secret id",
        severity=Severity.HIGH,
        keywords=(b"akid",),
        pattern=re.compile(rb"(?<![A-Za-z0-9])(AKID[A-Za-z0-9]{32})(?![A-Za-z0-9])"),
        keep_prefix=4,
        min_entropy=3.5,
    ),
    SecretRule(
        rule_id="secret.google-api-key",
        title="Google API key",
        severity=Severity.MEDIUM,
        keywords=(b"aiza",),
        pattern=re.compile(rb"(?<![A-Za-z0-9_-])(AIza[0-9A-Za-z_-]{35})(?![A-Za-z0-9_-])"),
        keep_prefix=4,
        min_entropy=3.5,
    ),
    SecretRule(
        rule_id="secret.github-token",
        title="GitHub token",
        severity=Severity.HIGH,
        keywords=(b"ghp_", b"gho_", b"ghu_", b"ghs_", b"ghr_", b"github_pat_"),
        pattern=re.compile(
            rb"(?<![A-Za-z0-9_])((?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82}))(?![A-Za-z0-9_])"
        ),
        keep_prefix=4,
        min_entropy=3.0,
    ),
    SecretRule(
        rule_id="secret.gitlab-token",
        title="GitLab token",
        severity=Severity.HIGH,
        keywords=(b"glpat-", b"glrt-", b"gldt-", b"glptt-"),
        pattern=re.compile(rb"(?<![A-Za-z0-9_-])((?:glpat|glrt|gldt|glptt)-[A-Za-z0-9_-]{20,40})(?![A-Za-z0-9_-])"),
        keep_prefix=6,
        min_entropy=3.0,
    ),
    SecretRule(
        rule_id="secret.slack-token",
        title="Slack token",
        severity=Severity.HIGH,
        keywords=(b"xoxb-", b"xoxa-", b"xoxp-", b"xoxr-", b"xoxs-", b"xoxe-"),
        pattern=re.compile(rb"(?<![A-Za-z0-9])(xox[abeprs]-[0-9A-Za-z]{8,}-[0-9A-Za-z-]{8,200})"),
        keep_prefix=5,
        min_entropy=3.0,
    ),
    SecretRule(
        rule_id="secret.slack-webhook",
        title="Slack incoming webhook URL",
        severity=Severity.MEDIUM,
        keywords=(b"hooks.slack.com",),
        pattern=re.compile(rb"https://hooks\.slack\.com/services/(T[A-Z0-9]{8,12}/B[A-Z0-9]{8,12}/[A-Za-z0-9]{24})"),
        min_entropy=3.0,
        lead=16,
    ),
    SecretRule(
        rule_id="secret.stripe-key",
        title="Stripe live secret key",
        severity=Severity.HIGH,
        keywords=(b"_live_",),
        pattern=re.compile(rb"(?<![A-Za-z0-9_])((?:sk|rk)_live_[0-9a-zA-Z]{24,99})(?![A-Za-z0-9])"),
        keep_prefix=8,
        min_entropy=3.0,
        lead=8,
    ),
    SecretRule(
        rule_id="secret.npm-token",
        title="npm access token",
        severity=Severity.HIGH,
        keywords=(b"npm_", b"_authtoken"),
        pattern=re.compile(
            rb"(?<![A-Za-z0-9_])(npm_[A-Za-z0-9]{36})(?![A-Za-z0-9])"
            rb"|_authToken[ \t]*=[ \t]*[\"']?([A-Za-z0-9_.~+/-]{20,200}=*)"
        ),
        secret_groups=(1, 2),
        keep_prefix=4,
        min_entropy=3.0,
    ),
    SecretRule(
        rule_id="secret.pypi-token",
        title="PyPI upload token",
        severity=Severity.HIGH,
        keywords=(b"pypi-ageichlwas5vcmc",),
        pattern=re.compile(rb"(pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,400})"),
        keep_prefix=5,
    ),
    SecretRule(
        rule_id="secret.openai-api-key",
        title="OpenAI API key",
        severity=Severity.HIGH,
        keywords=(b"t3blbkfj",),
        pattern=re.compile(rb"(?<![A-Za-z0-9_-])(sk-[A-Za-z0-9_-]{20,80}T3BlbkFJ[A-Za-z0-9_-]{20,80})"),
        keep_prefix=3,
        lead=96,
    ),
    SecretRule(
        rule_id="secret.sendgrid-api-key",
        title="SendGrid API key",
        severity=Severity.HIGH,
        keywords=(b"sg.",),
        pattern=re.compile(rb"(?<![A-Za-z0-9_-])(SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])"),
        keep_prefix=3,
        min_entropy=3.5,
    ),
    SecretRule(
        rule_id="secret.docker-registry-auth",
        title="container registry credentials (docker config auths)",
        severity=Severity.HIGH,
        keywords=(b'"auth"',),
        pattern=re.compile(rb"\"auth\"[ \t]*:[ \t]*\"([A-Za-z0-9+/]{6,1024}={0,2})\""),
        path_filter=is_json_file,
        validate=_is_docker_auth,
    ),
    SecretRule(
        rule_id="secret.kubeconfig-client-key",
        title="Kubernetes client private key (kubeconfig)",
        severity=Severity.HIGH,
        keywords=(b"client-key-data",),
        pattern=re.compile(rb"client-key-data:[ \t]*[\"']?([A-Za-z0-9+/]{40,}={0,2})"),
        keep_prefix=0,
    ),
    SecretRule(
        rule_id="secret.kubeconfig-token",
        title="Kubernetes bearer token (kubeconfig)",
        severity=Severity.HIGH,
        keywords=(b"token:",),
        pattern=re.compile(rb"(?m)^[ \t]{0,40}(?:-[ \t]{1,8})?token:[ \t]*[\"']?([A-Za-z0-9._~+/-]{20,2048}=*)"),
        validate=_is_kubeconfig,
        min_entropy=3.0,
        lead=64,
        reach=4096,
    ),
    SecretRule(
        rule_id="secret.jwt",
        title="JSON Web Token",
        severity=Severity.MEDIUM,
        keywords=(b"eyj",),
        pattern=re.compile(
            rb"(?<![A-Za-z0-9_-])(eyJ[A-Za-z0-9_-]{8,2048}\.eyJ[A-Za-z0-9_-]{8,8192}\.[A-Za-z0-9_-]{16,1024})"
        ),
        keep_prefix=3,
        validate=_is_jwt,
        reach=12288,
    ),
    SecretRule(
        rule_id="secret.database-url-password",
        title="database URL with a password",
        severity=Severity.HIGH,
        keywords=(
            b"postgres",
            b"mysql",
            b"mariadb",
            b"mongodb",
            b"redis",
            b"amqp",
            b"mssql",
            b"sqlserver",
            b"oracle",
        ),
        pattern=re.compile(
            rb"(?<![A-Za-z0-9+])(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?|mssql|"
            rb"sqlserver|oracle)://[^:@/\s\"'<>]{1,64}:([^@/\s\"'<>]{1,128})@[A-Za-z0-9._\[\]-]"
        ),
        generic=True,
    ),
    SecretRule(
        rule_id="secret.env-file",
        title="secret in a .env file",
        severity=Severity.HIGH,
        keywords=(b"pass", b"pwd", b"secret", b"token", b"key", b"credential", b"auth"),
        pattern=re.compile(
            rb"(?m)^[ \t]{0,16}(?:export[ \t]+)?[A-Za-z0-9_]{0,60}"
            rb"(?i:pass|pwd|secret|token|key|credential|auth)[A-Za-z0-9_]{0,60}"
            rb"[ \t]*=[ \t]*[\"']?([^\s\"'#]{4,512})"
        ),
        generic=True,
        path_filter=is_env_file,
        lead=160,
    ),
    SecretRule(
        rule_id="secret.config-password",
        title="password or secret in a configuration file",
        severity=Severity.MEDIUM,
        keywords=(b"pass", b"pwd", b"secret", b"token", b"api_key", b"apikey", b"api-key"),
        pattern=re.compile(
            # The key ends with the secret word (``db_password``, ``auth_token``, ``secret_key_base``),
            # so ``js-tokens``, ``max_tokens`` or ``tokenizer`` are not taken for secrets.
            rb"(?im)^[ \t]{0,40}[\"']?(?:[A-Za-z0-9_.-]{0,40}[_.-])?(?:password|passwd|passphrase|pwd|secret|token|"
            rb"api[_-]?key|secret[_-]?key|access[_-]?key)(?:[_.-](?:key|base|value))?[\"']?[ \t]*(?::=|=>|=|:)"
            rb"[ \t]*[\"']?([^\s\"'#;,<>]{6,256})"
            rb"|<(?:password|passwd|secret|token)>([^<\s]{6,256})</"
        ),
        secret_groups=(1, 2),
        generic=True,
        path_filter=is_config_file,
        lead=160,
    ),
)
"""Every secret rule, most specific first."""
