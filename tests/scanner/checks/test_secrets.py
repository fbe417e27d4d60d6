"""Sensitive information: every rule finds its secret, masks it, and leaves benign files alone."""

from __future__ import annotations

import base64
import datetime
import json
import os
import re
import string
import struct
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from moorage.scanner.checks import SecretFinding, finding_to_json
from moorage.scanner.checks.secret_places import is_secret_name
from moorage.scanner.checks.secret_rules import SECRET_RULES
from moorage.scanner.checks.secrets import (
    SecretCheck,
    _matches,
    looks_like_path,
    mask_secret,
    shannon_entropy,
)
from moorage.scanner.files import FileEntry, FileKind

from .conftest import ALNUM, BASE64, UPPER_DIGITS, aws_key_pair, file_entry, random_string


def run(check: SecretCheck, path: str, content: bytes | str) -> list[SecretFinding]:
    """Findings of the secret check on one file."""
    data = content.encode() if isinstance(content, str) else content
    found = check.check(file_entry(path, data), data)
    assert all(isinstance(f, SecretFinding) for f in found)
    return [f for f in found if isinstance(f, SecretFinding)]


def rsa_pem(encrypted: bool = False) -> str:
    """A fresh RSA private key in traditional PEM (optionally passphrase-protected)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    encryption = serialization.BestAvailableEncryption(b"hunter22") if encrypted else serialization.NoEncryption()
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, encryption
    ).decode()


def openssh_key(encrypted: bool = False) -> str:
    """A fresh ed25519 key in OpenSSH's own private key format.

    The encrypted form is assembled by hand (``cryptography`` needs the bcrypt package to write
    it): the ``openssh-key-v1`` header names cipher ``aes256-ctr`` and KDF ``bcrypt``, the rest
    is random, which is all a scanner can see of an encrypted key anyway.
    """
    if not encrypted:
        key = ed25519.Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
        )
        return pem.decode()

    def string_field(data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + data

    blob = (
        b"openssh-key-v1\x00"
        + string_field(b"aes256-ctr")
        + string_field(b"bcrypt")
        + string_field(os.urandom(24))
        + struct.pack(">I", 1)
        + string_field(os.urandom(51))
        + string_field(os.urandom(160))
    )
    body = base64.b64encode(blob).decode()
    lines = [body[i : i + 70] for i in range(0, len(body), 70)]
    return "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END OPENSSH PRIVATE KEY-----\n"


def key_body(pem: str) -> str:
    """The base64 lines of a PEM block (what must never be shown)."""
    return "".join(line for line in pem.splitlines() if line and not line.startswith("-----") and ":" not in line)


def jwt() -> str:
    """A JWT with a random signature."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64(json.dumps({"sub": random_string(ALNUM, 12), "iat": 1700000000}).encode())
    return f"{header}.{payload}.{random_string(ALNUM + '-_', 43)}"


def cases() -> list[tuple[str, str, str, str, int]]:
    """(path, content, rule id, the secret that must not leak, line) for every rule."""
    key_id, secret_key = aws_key_pair()
    hw_ak, hw_sk = random_string(UPPER_DIGITS, 20), random_string(ALNUM, 40)
    pem, ssh = rsa_pem(), openssh_key()
    github = "ghp_" + random_string(ALNUM, 36)
    gitlab = "glpat-" + random_string(ALNUM, 20)
    digits = random_string(string.digits, 12)
    slack = f"xoxb-{digits}-{digits[::-1]}-{random_string(ALNUM, 24)}"
    token = jwt()
    db_password = random_string(ALNUM, 16)
    docker_password = random_string(ALNUM, 18)
    docker_auth = base64.b64encode(f"deploy:{docker_password}".encode()).decode()
    client_key = base64.b64encode(rsa_pem().encode()).decode()
    kube_token = random_string(ALNUM, 48)
    config_password = random_string(ALNUM, 14)
    env_secret = random_string(ALNUM, 24)
    putty_private = random_string(BASE64, 64)
    gcp = json.dumps({"type": "service_account", "private_key": rsa_pem()})
    alibaba, tencent = "LTAI" + random_string(ALNUM, 20), "AKID" + random_string(ALNUM, 32)
    google = "AIza" + random_string(ALNUM + "-_", 35)
    stripe = "sk_live_" + random_string(ALNUM, 32)
    npm, npm_auth = "npm_" + random_string(ALNUM, 36), random_string(ALNUM, 40)
    pypi = "pypi-AgEIcHlwaS5vcmc" + random_string(ALNUM + "-_", 120)
    openai = "sk-proj-" + random_string(ALNUM, 30) + "T3BlbkFJ" + random_string(ALNUM, 30)
    sendgrid = f"SG.{random_string(ALNUM, 22)}.{random_string(ALNUM, 43)}"
    webhook = f"T{random_string(UPPER_DIGITS, 10)}/B{random_string(UPPER_DIGITS, 10)}/{random_string(ALNUM, 24)}"
    return [
        (
            "/app/oss.py",
            f"client = oss.Auth('{alibaba}', secret)\n",
            "secret.alibaba-access-key-id",
            alibaba,
            1,
        ),
        ("/app/cos.go", f'cred := NewCredential("{tencent}", key)\n', "secret.tencent-secret-id", tencent, 1),
        ("/app/maps.js", f'const key = "{google}";\n', "secret.google-api-key", google, 1),
        ("/app/pay.rb", f"Stripe.api_key = '{stripe}'\n", "secret.stripe-key", stripe, 1),
        ("/app/publish.sh", f"NPM_TOKEN={npm} npm publish\n", "secret.npm-token", npm, 1),
        ("/root/.npmrc", f"//registry.npmjs.org/:_authToken={npm_auth}\n", "secret.npm-token", npm_auth, 1),
        ("/root/.pypirc", f"[pypi]\nusername = __token__\npassword = {pypi}\n", "secret.pypi-token", pypi, 3),
        ("/app/ai.py", f'openai.api_key = "{openai}"\n', "secret.openai-api-key", openai, 1),
        ("/app/mail.py", f'sg = SendGridAPIClient("{sendgrid}")\n', "secret.sendgrid-api-key", sendgrid, 1),
        (
            "/app/hook.sh",
            f"curl -X POST https://hooks.slack.com/services/{webhook}\n",
            "secret.slack-webhook",
            webhook,
            1,
        ),
        ("/root/.ssh/id_rsa", pem, "secret.private-key", key_body(pem)[:60], 1),
        ("/home/app/.ssh/id_ed25519", ssh, "secret.private-key", key_body(ssh)[:60], 1),
        ("/app/gcp.json", gcp, "secret.private-key", "MII", 1),
        (
            "/home/app/key.ppk",
            "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: k\nPublic-Lines: 1\n"
            f"{random_string(BASE64, 60)}\nPrivate-Lines: 1\n{putty_private}\n"
            f"Private-MAC: {random_string('0123456789abcdef', 64)}\n",
            "secret.putty-private-key",
            putty_private,
            1,
        ),
        ("/app/config.py", f"# settings\nKEY = '{key_id}'\n", "secret.aws-access-key-id", key_id, 2),
        (
            "/root/.aws/credentials",
            f"[default]\naws_secret_access_key = {secret_key}\n",
            "secret.aws-secret-access-key",
            secret_key,
            2,
        ),
        (
            "/srv/credentials.csv",
            f"User Name,Access Key Id,Secret Access Key\nci,{hw_ak},{hw_sk}\n",
            "secret.cloud-credentials-csv",
            hw_sk,
            1,
        ),
        (
            "/app/settings.sh",
            f"export HUAWEICLOUD_SDK_AK={hw_ak}\n",
            "secret.huaweicloud-access-key-id",
            hw_ak,
            1,
        ),
        (
            "/app/settings.sh",
            f"export HUAWEICLOUD_SDK_SK={hw_sk}\n",
            "secret.huaweicloud-secret-access-key",
            hw_sk,
            1,
        ),
        (
            "/app/deploy.sh",
            f"git clone https://{github}@github.com/acme/app\n",
            "secret.github-token",
            github,
            1,
        ),
        ("/app/ci.sh", f"TOKEN={gitlab} make release\n", "secret.gitlab-token", gitlab, 1),
        ("/app/notify.rb", f'client = Slack.new("{slack}")\n', "secret.slack-token", slack, 1),
        ("/app/session.txt", f"Authorization: Bearer {token}\n", "secret.jwt", token, 1),
        (
            "/app/db.py",
            f'DSN = "postgresql://app:{db_password}@db.internal:5432/app"\n',
            "secret.database-url-password",
            db_password,
            1,
        ),
        (
            "/root/.docker/config.json",
            json.dumps({"auths": {"registry.example.com": {"auth": docker_auth}}}, indent=1),
            "secret.docker-registry-auth",
            docker_auth,
            4,
        ),
        (
            "/root/.kube/config",
            f"apiVersion: v1\nkind: Config\nusers:\n- name: a\n  user:\n    client-key-data: {client_key}\n",
            "secret.kubeconfig-client-key",
            client_key[:40],
            6,
        ),
        (
            "/root/.kube/config",
            f"apiVersion: v1\nkind: Config\nusers:\n- name: a\n  user:\n    token: {kube_token}\n",
            "secret.kubeconfig-token",
            kube_token,
            6,
        ),
        (
            "/etc/app/app.ini",
            f"[db]\nhost = db\npassword = {config_password}\n",
            "secret.config-password",
            config_password,
            3,
        ),
        ("/app/.env", f"DEBUG=1\nSESSION_SECRET={env_secret}\n", "secret.env-file", env_secret, 2),
    ]


CASES = cases()


@pytest.mark.parametrize(("path", "content", "rule_id", "secret", "line"), CASES, ids=[f"{c[2]}:{c[0]}" for c in CASES])
def test_each_rule_finds_its_secret_and_masks_it(
    secret_check: SecretCheck, path: str, content: str, rule_id: str, secret: str, line: int
) -> None:
    found = run(secret_check, path, content)
    assert [(f.rule_id, f.path, f.line) for f in found] == [(rule_id, path, line)]
    finding = found[0]
    assert finding.layer_digest == "sha256:layer"
    assert secret not in json.dumps(finding_to_json(finding))
    assert "********" in finding.redacted_match


def test_every_shipped_rule_has_a_positive_case() -> None:
    assert {rule.rule_id for rule in SECRET_RULES} == {case[2] for case in CASES}


def test_aws_key_pair_in_dotenv_gives_both_keys(secret_check: SecretCheck) -> None:
    key_id, secret_key = aws_key_pair()
    content = f"AWS_ACCESS_KEY_ID={key_id}\nAWS_SECRET_ACCESS_KEY={secret_key}\nAWS_REGION=eu-west-1\n"
    found = run(secret_check, "/srv/app/.env", content)
    assert sorted((f.rule_id, f.line) for f in found) == [
        ("secret.aws-access-key-id", 1),
        ("secret.aws-secret-access-key", 2),
    ]
    assert found[0].redacted_match.startswith("AWS_") or "AKIA" in found[0].redacted_match
    assert secret_key not in repr(found) and key_id not in repr(found)


def test_encrypted_private_keys_are_reported_at_lower_severity(secret_check: SecretCheck) -> None:
    for pem in (rsa_pem(encrypted=True), openssh_key(encrypted=True)):
        (finding,) = run(secret_check, "/root/key", pem)
        assert finding.severity == "medium" and "encrypted" in finding.message
    (plain,) = run(secret_check, "/root/key", openssh_key())
    assert plain.severity == "high"


def certificate_pem() -> str:
    """A self-signed certificate (public material only)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "moorage.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def public_openssh() -> str:
    """An OpenSSH public key line."""
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


BENIGN = [
    ("/etc/ssl/certs/moorage.pem", certificate_pem()),
    ("/root/.ssh/id_ed25519.pub", public_openssh() + " user@host\n"),
    ("/root/.ssh/authorized_keys", public_openssh() + "\n"),
    (
        "/usr/lib/python3/dist-packages/ssl_doc.py",
        '"""Pass a key starting with -----BEGIN RSA PRIVATE KEY----- here."""\n',
    ),
    (
        "/app/README.md",
        "Use AKIAIOSFODNN7EXAMPLE and wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY as in the AWS docs.\n",
    ),
    ("/root/.aws/credentials", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"),
    (
        "/etc/app/app.ini",
        "[db]\npassword = ${DB_PASSWORD}\ntoken = <your-token-here>\napi_key = %(API_KEY)s\n",
    ),
    (
        "/etc/app/app.yaml",
        "database:\n  password: null\n  password_file: /run/secrets/db\n  token_ttl: 3600\n",
    ),
    ("/etc/app/settings.json", '{"password": "", "secret": "changeme", "token": "{{ vault_token }}"}\n'),
    ("/app/.env.example", "DB_PASSWORD=s3cr3tPassw0rd\nAPI_TOKEN=abcdefghijklmnop\n"),
    ("/app/.env", "DB_PASSWORD=${DB_PASSWORD}\nAPI_KEY=\nSECRET_FILE=/run/secrets/x\n"),
    ("/app/config.py", 'password = os.environ["DB_PASSWORD"]\ntoken = get_token()\n'),
    ("/usr/share/doc/libpq/README", "connect with postgresql://alice:Sup3rS3cretPw@db/app\n"),
    ("/usr/lib/node_modules/pg/docs/usage.md", "postgres://user:hunter2pass@localhost/db\n"),
    (
        "/app/README.md",
        "Example: postgresql://user:password@localhost:5432/mydb and mysql://root:@localhost\n",
    ),
    (
        "/etc/ssh/sshd_config",
        "#PermitRootLogin prohibit-password\n#PasswordAuthentication yes\nPubkeyAuthentication yes\n",
    ),
    ("/app/page.html", "<script>var t = 'eyJhbGciOi.notatoken.reallynotatokenatall';</script>\n"),
    ("/app/data.json", '{"auth": "bm90IGEgcGFpcg=="}\n'),
    ("/etc/kubernetes/pod.yaml", "kind: Pod\nspec:\n  automountServiceAccountToken: false\n  token: ''\n"),
    (
        "/root/.kube/config",
        "apiVersion: v1\nkind: Config\nusers:\n- name: a\n  user:\n    tokenFile: /var/run/token\n",
    ),
]


@pytest.mark.parametrize(("path", "content"), BENIGN, ids=[f"{i}:{p}" for i, (p, _) in enumerate(BENIGN)])
def test_benign_files_do_not_trigger(secret_check: SecretCheck, path: str, content: str) -> None:
    assert run(secret_check, path, content) == []


def test_binaries_are_skipped_by_the_sniff(secret_check: SecretCheck) -> None:
    key_id, _ = aws_key_pair()
    assert run(secret_check, "/usr/bin/tool", b"\x7fELF\x00\x00" + key_id.encode()) == []
    assert run(secret_check, "/usr/bin/tool.sh", key_id.encode())[0].rule_id == "secret.aws-access-key-id"


def test_wants_decides_from_the_header_alone(secret_check: SecretCheck) -> None:
    def entry(path: str, size: int = 100, kind: FileKind = FileKind.REGULAR) -> FileEntry:
        return FileEntry(path=path, kind=kind, size=size, mode=0o644)

    assert secret_check.wants(entry("/app/.env"))
    assert secret_check.wants(entry("/etc/ssl/private/server.key"))
    assert not secret_check.wants(entry("/app/.env", size=0))
    assert not secret_check.wants(entry("/app", kind=FileKind.DIRECTORY))
    assert not secret_check.wants(entry("/app/link", kind=FileKind.SYMLINK))
    assert not secret_check.wants(entry("/usr/share/zoneinfo/Asia/Tokyo"))
    assert not secret_check.wants(entry("/usr/lib/libfoo.so"))
    assert not secret_check.wants(entry("/app/logo.PNG"))
    assert not secret_check.wants(entry("/data/blob.bin", size=64 * 1024 * 1024))


def test_content_past_the_cap_is_not_searched() -> None:
    check = SecretCheck(max_bytes=1024)
    key_id, _ = aws_key_pair()
    assert run(check, "/app/a.txt", "x" * 2000 + "\n" + key_id) == []
    assert len(run(check, "/app/a.txt", "x" * 100 + "\n" + key_id)) == 1


def test_findings_per_file_are_capped(secret_check: SecretCheck) -> None:
    content = "\n".join(aws_key_pair()[0] for _ in range(100))
    assert len(run(secret_check, "/app/keys.txt", content)) == 20


def test_masking_keeps_at_most_a_quarter_and_hides_the_length() -> None:
    assert mask_secret("AKIAABCDEFGHIJKLMNOP", 4) == "AKIA********"
    assert mask_secret("short", 4) == "s********"
    assert mask_secret("", 4) == "********"
    assert mask_secret("x" * 100, 0) == "********"


def test_entropy() -> None:
    assert shannon_entropy(b"") == 0.0
    assert shannon_entropy(b"aaaa") == 0.0
    assert shannon_entropy(b"abcd") == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("DB_PASSWORD", True), ("API_KEY", True), ("GITHUB_TOKEN", True), ("AWS_SECRET_ACCESS_KEY", True),
        ("HUAWEICLOUD_SDK_SK", True), ("client-secret", True), ("PGPASSWORD", False), ("PWD", False),
        ("GPG_KEY", False), ("TOKENIZERS_PARALLELISM", False), ("DB_PASSWORD_FILE", False), ("PATH", False),
        ("PYTHON_SHA256", False), ("KEYRING_BACKEND", False),
    ],
)  # fmt: skip
def test_secret_names(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


# -- the keyword prefilter never changes what a rule finds -----------------------------------

FRAGMENTS = [
    "AKIA", "ASIA", "aws_secret_access_key = ", "password: ", "token: ", "-----BEGIN RSA PRIVATE KEY-----\n",
    "postgres://", "u:", "@h", "ghp_", "glpat-", "xoxb-", "eyJ", ".", "=", " ", "\n", "\t", "'", '"',
    "kind: Config\nusers:\n", "client-key-data: ", "_authToken=", "npm_", "SG.", "sk_live_", "AIza", "LTAI",
    "HUAWEICLOUD_SDK_AK=", "hooks.slack.com/services/", "T3BlbkFJ", "Access Key Id,Secret Access Key\n",
]  # fmt: skip
texts = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(alphabet=ALNUM + "+/-_", min_size=1, max_size=50)),
    max_size=40,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(texts)
def test_windowed_search_finds_what_a_full_scan_finds(text: str) -> None:
    """Oracle: each rule's regex run over the whole text, as if there were no prefilter."""
    check = SecretCheck()
    data = text.encode()
    hits = check._keywords.occurrences(data)
    for rule in check.rules:
        expected = [m.span() for m in rule.pattern.finditer(data)]
        assert [m.span() for m in _matches(rule, data, hits)] == expected, rule.rule_id


@settings(max_examples=100, deadline=None)
@given(
    secret=st.text(alphabet=ALNUM, min_size=40, max_size=40).filter(lambda s: shannon_entropy(s.encode()) >= 3.5),
    template=st.sampled_from(["aws_secret_access_key={}", "AWS_SECRET = '{}'", "HUAWEICLOUD_SDK_SK: {}"]),
)
def test_no_output_ever_contains_the_secret(secret_check: SecretCheck, secret: str, template: str) -> None:
    found = run(secret_check, "/app/settings.conf", "# app\n" + template.format(secret) + "\n")
    assert found, template
    rendered = json.dumps([finding_to_json(f) for f in found])
    assert secret not in rendered
    assert not re.search(re.escape(secret[8:]), rendered)


@pytest.mark.parametrize(
    "unit", [b"password=", b"hw:", b"eyJ.", b"token: ", b"postgres://a:", b"-----BEGIN PRIVATE KEY-----"]
)
def test_files_made_of_keywords_do_not_slow_the_scan(secret_check: SecretCheck, unit: bytes) -> None:
    """A hostile file where every position is a keyword costs about what a normal file costs."""
    data = (unit * (1024 * 1024 // len(unit) + 1))[: 1024 * 1024]
    started = time.perf_counter()
    secret_check.check(file_entry("/app/.env", data), data)
    secret_check.check(file_entry("/etc/app.conf", data), data)
    assert time.perf_counter() - started < 5  # about 0.1 s each when the machine is idle


@settings(max_examples=300, deadline=None)
@given(
    # Uniformly random, as key generators make them: hypothesis' own text strategy seeks out
    # structured strings (``AaaBabAbbAcc``, all lower-case paths) that the placeholder rules are
    # meant to drop, which is not what this property is about.
    value=st.builds(
        lambda rnd, n: "".join(rnd.choice(BASE64) for _ in range(n)),
        st.randoms(use_true_random=False),
        st.integers(min_value=20, max_value=40),
    ).filter(lambda v: shannon_entropy(v.encode()) >= 3.5),
    case=st.sampled_from(
        [
            ("/app/.env", "SESSION_TOKEN={}\n", "secret.env-file"),
            ("/etc/app.yaml", "db:\n  password: {}\n", "secret.config-password"),
        ]
    ),
)
def test_random_secrets_are_never_taken_for_placeholders(
    secret_check: SecretCheck, value: str, case: tuple[str, str, str]
) -> None:
    """Random base64 may start with ``/`` or spell ``null`` or ``todo``: still a secret."""
    path, template, rule_id = case
    assert [f.rule_id for f in run(secret_check, path, template.format(value))] == [rule_id], repr(value)


@pytest.mark.parametrize(
    ("value", "path"),
    [("/run/secrets/db", True), ("./conf/key.pem", True), ("~/.ssh/id_rsa", True),
     ("/var/lib/postgresql/data", True), ("/mWkikLjt+ZqM/F1UDJCSyNV", False),
     ("/C/oN6lv0MAzaHJF1//LilP97k", False), ("/rwqtUVyd4882/m3MHkF", False), ("relative", False)],
)  # fmt: skip
def test_looks_like_path(value: str, path: bool) -> None:
    assert looks_like_path(value) is path


@pytest.mark.parametrize(
    ("path", "content"),
    [
        ("/app/node_modules/loose-envify/package.json", '{\n  "dependencies": {\n    "js-tokens": "^4.0.0"\n  }\n}\n'),
        ("/app/package.json", '{\n  "js-tokens": "^4.0.0",\n  "max_tokens": "4096abc"\n}\n'),
        (
            "/usr/lib/python3/dist-packages/botocore/data/s3/2006-03-01/paginators-1.json",
            '{\n  "input_token": "ContinuationToken",\n  "output_token": "NextContinuationToken"\n}\n',
        ),
        ("/etc/app/settings.yaml", "pagination:\n  token: NextToken\n  version: 1.2.3-rc1\n"),
        ("/etc/app/model.yaml", "tokenizer: sentencepiece-v2\nmax_tokens: 4096-tokens\n"),
    ],
)
def test_library_data_and_identifiers_are_not_secrets(secret_check: SecretCheck, path: str, content: str) -> None:
    """The false positives a scan of an image with npm and botocore trees showed by the thousand."""
    assert run(secret_check, path, content) == []


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("db_password: Xk29!pQz7Lw\n", "secret.config-password"),
        ("secret_key_base: 9f8e7d6c5b4a39281706f5e4d3c2b1a0ffeeddcc\n", "secret.config-password"),
        ("AUTH_TOKEN = 'ghx8Kq2LmZ0pT7vW'\n", "secret.config-password"),
    ],
)
def test_real_settings_are_still_found(secret_check: SecretCheck, content: str, expected: str) -> None:
    assert [f.rule_id for f in run(secret_check, "/etc/app/app.conf", content)] == [expected]
