"""Registries for the client tests, built on demand by tests/clients/conftest.py: a docker-registry
with htpasswd (bcrypt), and one with token auth backed by a tiny Starlette token server (Bearer) that
runs in a thread of the test process. Imported by the fixtures only, so the client's pure parser
tests collect without uvicorn, starlette or the X.509 machinery."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import subprocess
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

with warnings.catch_warnings():  # bcrypt through the system's libxcrypt; the bcrypt package is not a dependency
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.scanner.imagebuild import skopeo_copy
from tests.support.servers import REFERENCE_REGISTRY_BIN, ServerProcess, free_port

USER, PASSWORD = "alice", "s3cret-pass"
SERVICE, ISSUER = "moorage-test-registry", "moorage-test-issuer"


def bcrypt_htpasswd(path: Path) -> None:
    """An htpasswd file with USER's bcrypt hash (few rounds: it is a test)."""
    path.write_text(f"{USER}:{crypt.crypt(PASSWORD, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 5))}\n")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def libtrust_key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    """The key id docker-registry computes for a trusted key (libtrust format)."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


class TokenIssuer:
    """Signs ES256 registry tokens and counts the requests it answered."""

    def __init__(self, work: Path) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "moorage test token issuer")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(self.key, hashes.SHA256())
        )
        self.cert_path = work / "token-cert.pem"
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.kid = libtrust_key_id(self.key.public_key())
        self.requests: list[dict[str, str]] = []

    def token(self, scope: str) -> str:
        access = []
        for item in scope.split(" ") if scope else []:
            kind, _, rest = item.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": USER,
            "aud": SERVICE,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": hashlib.sha256(f"{now}{scope}{len(self.requests)}".encode()).hexdigest()[:16],
            "access": access,
        }
        header = {"typ": "JWT", "alg": "ES256", "kid": self.kid}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        r, s = decode_dss_signature(self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        return f"{signing_input}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def app(self) -> Starlette:
        async def token_endpoint(request: Request) -> Response:
            expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            if request.headers.get("Authorization") != expected:
                return JSONResponse({"details": "bad credentials"}, status_code=401)
            scope = " ".join(request.query_params.getlist("scope"))
            self.requests.append({"scope": scope, "service": request.query_params.get("service", "")})
            return JSONResponse({"token": self.token(scope), "expires_in": 300})

        return Starlette(routes=[Route("/token", token_endpoint)])


@contextmanager
def bearer_registry(work: Path, image_layout: Path) -> Iterator[tuple[ServerProcess, TokenIssuer]]:
    """docker-registry with token auth holding secure/img:1; the token server runs in a thread."""
    issuer = TokenIssuer(work)
    token_port = free_port()
    server = uvicorn.Server(uvicorn.Config(issuer.app(), host="127.0.0.1", port=token_port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    port = free_port()
    config = work / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {work / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
        f"auth:\n  token:\n    realm: http://127.0.0.1:{token_port}/token\n    service: {SERVICE}\n"
        f"    issuer: {ISSUER}\n    rootcertbundle: {issuer.cert_path}\n"
    )
    log = work / "registry.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [REFERENCE_REGISTRY_BIN, "serve", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    registry = ServerProcess(process, "127.0.0.1", port, log, work / "data")
    try:
        while not server.started:
            time.sleep(0.02)
        registry.wait_ready()
        skopeo_copy(
            f"oci:{image_layout}:latest",
            f"docker://{registry.address}/secure/img:1",
            "--all",
            "--dest-tls-verify=false",
            "--dest-creds",
            f"{USER}:{PASSWORD}",
        )
        issuer.requests.clear()
        yield registry, issuer
    finally:
        registry.stop()
        server.should_exit = True
        thread.join(10)
