"""Debian's nginx in front of moorage nodes, configured with the shipped site file
(``deploy/nginx/moorage.conf``): the test fills in its placeholders with loopback addresses, wraps it
in a main configuration of its own (pid, logs and temporary files in a directory of the test's), runs
nginx in the foreground on 127.0.0.1 and stops it by process id."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.support.tools import require_tool

NGINX_BIN = "/usr/sbin/nginx"
OPENSSL = "openssl"
ROOT = Path(__file__).resolve().parents[2]
SITE_TEMPLATE = ROOT / "deploy" / "nginx" / "moorage.conf"
_NODE_LINE = re.compile(r"^(\s*server\s+)@NODE_\d+@(.*)$", re.MULTILINE)
_PLACEHOLDER = re.compile(r"@[A-Z0-9_]+@")


@dataclass(frozen=True)
class TlsFiles:
    """A self-signed certificate for 127.0.0.1 and its key; ``ca_dir`` holds it as ``ca.crt`` for
    container tools (``--dest-cert-dir``)."""

    certificate: Path
    key: Path
    ca_dir: Path


def self_signed(directory: Path, host: str = "127.0.0.1") -> TlsFiles:
    """Make a P-256 certificate valid for ``host`` (an IP address) for two days."""
    require_tool(OPENSSL)
    directory.mkdir(parents=True, exist_ok=True)
    certificate, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            OPENSSL,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={host}",
            "-addext",
            f"subjectAltName=IP:{host}",
            "-keyout",
            str(key),
            "-out",
            str(certificate),
        ],
        check=True,
        capture_output=True,
    )
    ca_dir = directory / "ca"
    ca_dir.mkdir(exist_ok=True)
    (ca_dir / "ca.crt").write_bytes(certificate.read_bytes())
    return TlsFiles(certificate, key, ca_dir)


def render_site(
    template: str,
    *,
    listen: str,
    upstreams: Sequence[str],
    server_name: str,
    tls: TlsFiles | None,
    log_dir: Path,
    blobs_root: Path | None = None,
) -> str:
    """The shipped site file with its placeholders filled in: one ``server`` line per upstream (with the
    template's options), the listen address, the TLS files (without ``tls``, plain HTTP: the ``ssl``
    parameter and the ``ssl_*`` lines go) and the filesystem driver's blobs directory (without
    ``blobs_root``, an empty one under ``log_dir``: the nodes use S3 or send blobs themselves). Logs
    go to ``log_dir``."""
    node_lines = list(_NODE_LINE.finditer(template))
    if not node_lines:
        raise ValueError("the site template has no `server @NODE_n@` line")
    first = node_lines[0]
    servers = "\n".join(f"{first.group(1)}{upstream}{first.group(2)}" for upstream in upstreams)
    text = template[: first.start()] + servers + _NODE_LINE.sub("", template[first.end() :]).replace("\n\n\n", "\n\n")
    text = text.replace("@LISTEN@", listen).replace("@SERVER_NAME@", server_name)
    text = text.replace("@BLOBS_ROOT@", str(blobs_root if blobs_root is not None else log_dir / "no-blobs"))
    if tls is not None:
        text = text.replace("@TLS_CERTIFICATE@", str(tls.certificate)).replace("@TLS_CERTIFICATE_KEY@", str(tls.key))
    else:
        text = re.sub(r"^(\s*listen\s+\S+)\s+ssl;", r"\1;", text, flags=re.MULTILINE)
        text = "\n".join(line for line in text.splitlines() if not line.strip().startswith("ssl_")) + "\n"
    text = text.replace("/var/log/nginx/", f"{log_dir}/")
    directives = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    leftover = sorted(set(_PLACEHOLDER.findall(directives)))
    if leftover:
        raise ValueError(f"placeholders left in the site file: {leftover}")
    return text


def main_config(directory: Path, site: Path) -> str:
    """A main configuration that keeps everything of nginx's in ``directory`` and includes ``site``."""
    user = "user root;\n" if os.geteuid() == 0 else ""  # root's workers would otherwise run as nobody
    temp = "\n".join(
        f"    {kind}_temp_path {directory / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"{user}daemon off;\nworker_processes 1;\npid {directory / 'nginx.pid'};\n"
        f"error_log {directory / 'error.log'} warn;\nevents {{ worker_connections 1024; }}\n"
        f"http {{\n{temp}\n    access_log off;\n    include {site};\n}}\n"
    )


@dataclass
class Nginx:
    """A running nginx: its process, port and files."""

    process: subprocess.Popen[bytes]
    port: int
    directory: Path
    scheme: str

    @property
    def base_url(self) -> str:
        """``https://127.0.0.1:PORT`` (or ``http``)."""
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``, for image references."""
        return f"127.0.0.1:{self.port}"

    def access_log(self) -> str:
        """The site's access log so far (``log_format moorage_upstream``)."""
        path = self.directory / "moorage-access.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def error_log(self) -> str:
        """nginx's error log so far."""
        path = self.directory / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """SIGQUIT (finish the requests in flight), SIGKILL if it lingers."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def write_config(
    directory: Path, *, port: int, upstreams: Sequence[str], tls: TlsFiles | None, blobs_root: Path | None = None
) -> Path:
    """Write the site (from the shipped template) and the main configuration; return the latter."""
    directory.mkdir(parents=True, exist_ok=True)
    site = directory / "moorage.conf"
    site.write_text(
        render_site(
            SITE_TEMPLATE.read_text(),
            listen=f"127.0.0.1:{port}",
            upstreams=upstreams,
            server_name="127.0.0.1",
            tls=tls,
            log_dir=directory,
            blobs_root=blobs_root,
        )
    )
    main = directory / "nginx.conf"
    main.write_text(main_config(directory, site))
    return main


def check_config(main: Path) -> subprocess.CompletedProcess[str]:
    """``nginx -t`` on ``main``."""
    require_tool(NGINX_BIN)
    return subprocess.run(
        [NGINX_BIN, "-t", "-q", "-p", str(main.parent), "-e", str(main.parent / "error.log"), "-c", str(main)],
        capture_output=True,
        text=True,
        check=False,
    )


def start(
    directory: Path, *, port: int, upstreams: Sequence[str], tls: TlsFiles | None, blobs_root: Path | None = None
) -> Nginx:
    """Run nginx in the foreground on ``127.0.0.1:port`` in front of ``upstreams`` (``blobs_root``: the
    filesystem driver's blobs directory, for the internal location); return once it listens."""
    require_tool(NGINX_BIN)
    main = write_config(directory, port=port, upstreams=upstreams, tls=tls, blobs_root=blobs_root)
    with (directory / "stderr.log").open("wb") as out:
        process = subprocess.Popen(
            [NGINX_BIN, "-p", str(directory), "-e", str(directory / "error.log"), "-c", str(main)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    nginx = Nginx(process, port, directory, "https" if tls is not None else "http")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited with {process.returncode}:\n{nginx.error_log()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return nginx
        except OSError:
            time.sleep(0.05)
    nginx.stop()
    raise RuntimeError(f"nginx did not listen on {port}:\n{nginx.error_log()}")
