"""Throwaway PostgreSQL clusters and nginx instances on loopback, for tests and benchmarks.

Both are Debian's own packages (``postgresql``, ``nginx``) started in a temporary folder
on a free port, never the machine's system services. PostgreSQL refuses to run as root,
so as root the cluster belongs to the ``postgres`` user (``runuser``), in a folder that
user owns. The nginx configuration is the shipped site file ``deploy/hub/nginx-site.conf``
with its production paths and ports replaced, so the tests prove the file IT staff install.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from common.netutil import free_port, wait_for_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
NGINX = Path("/usr/sbin/nginx")
SITE_CONF = Path(__file__).resolve().parents[1] / "deploy" / "hub" / "nginx-site.conf"
# The values in the shipped site file that a local instance replaces.
SITE_LISTEN = "listen 80;"
SITE_LISTEN_TLS = "listen 443 ssl http2;"
SITE_CERT = "/etc/yizhan-hub/tls/fullchain.pem"
SITE_KEY = "/etc/yizhan-hub/tls/privkey.pem"
SITE_STATIC = "/opt/yizhan/hub/console/static/"
SITE_ROOT = "/srv/yizhan-www"
SITE_UPSTREAM = "127.0.0.1:8080"
CONSOLE_STATIC = Path(__file__).resolve().parent / "console" / "static"


class LocalServerError(Exception):
    """A local PostgreSQL or nginx could not be started; the message says why."""


def _as_user() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


class LocalPostgres:
    """A PostgreSQL cluster in a temp dir on 127.0.0.1:<free port>, trust auth, superuser ``yizhan``.

    Tuned for tests (fsync off): throwaway data only.
    """

    def __init__(self, *, durable: bool = False, max_connections: int = 200, superuser: str = "yizhan") -> None:
        if not (PG_BIN / "initdb").exists():
            raise LocalServerError(f"{PG_BIN}/initdb not found: install Debian's postgresql package")
        self.dir = Path(tempfile.mkdtemp(prefix="yizhan-pg-"))
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
        self.data = self.dir / "data"
        self.port = free_port()
        self.durable = durable
        self.max_connections = max_connections
        self.process: subprocess.Popen[bytes] | None = None
        self._names = itertools.count(1)
        self.superuser = superuser

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    def url_for(self, database: str) -> str:
        return f"postgresql://{self.superuser}@127.0.0.1:{self.port}/{database}"

    def start(self) -> LocalPostgres:
        init = subprocess.run([*_as_user(), str(PG_BIN / "initdb"), "-D", str(self.data), "-U", self.superuser,
                               "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
                              capture_output=True, text=True)
        if init.returncode != 0:
            raise LocalServerError(f"initdb failed: {init.stderr.strip()[-500:]}")
        settings = ["-c", "listen_addresses=127.0.0.1", "-c", f"max_connections={self.max_connections}",
                    "-c", "shared_buffers=64MB"]
        if not self.durable:
            settings += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        self.process = subprocess.Popen(
            [*_as_user(), str(PG_BIN / "postgres"), "-D", str(self.data), "-p", str(self.port),
             "-k", str(self.dir), *settings],
            stdout=subprocess.DEVNULL, stderr=open(self.dir / "postgres.log", "wb"))  # noqa: SIM115
        try:
            wait_for_port(self.port, timeout=60)
            self._wait_ready()
        except (TimeoutError, LocalServerError):
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        import psycopg

        deadline = time.monotonic() + 60
        while True:
            try:
                with psycopg.connect(f"host=127.0.0.1 port={self.port} user={self.superuser} dbname=postgres"):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline or (self.process and self.process.poll() is not None):
                    log = (self.dir / "postgres.log").read_text(errors="replace")[-500:]
                    raise LocalServerError(f"postgres did not come up: {log}") from None
                time.sleep(0.1)

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its URL."""
        import psycopg

        name = name or f"hub_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={self.superuser} dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            # SIGINT to the postmaster itself (not runuser): "fast shutdown".
            pid = self.postmaster_pid()
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid or self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                if pid:
                    os.kill(pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def render_site(root: str | Path, upstream_port: int, listen_port: int, *, tls_port: int,
                cert: str | Path, key: str | Path) -> str:
    """The shipped nginx site with a local feed root, hub port, listening ports (plain HTTP
    and TLS), certificate and the console's static folder of this checkout."""
    text = SITE_CONF.read_text(encoding="utf-8")
    replacements = {SITE_LISTEN: f"listen 127.0.0.1:{listen_port};",
                    SITE_LISTEN_TLS: f"listen 127.0.0.1:{tls_port} ssl http2;",
                    SITE_CERT: str(cert), SITE_KEY: str(key), SITE_STATIC: f"{CONSOLE_STATIC}/",
                    SITE_ROOT: str(Path(root).resolve()), SITE_UPSTREAM: f"127.0.0.1:{upstream_port}"}
    for needle, value in replacements.items():
        if needle not in text:
            raise LocalServerError(f"{SITE_CONF} no longer contains {needle!r}")
        text = text.replace(needle, value)
    return text


def make_certificates(directory: str | Path, host: str = "127.0.0.1") -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for ``host`` it signed (ECDSA P-256, a day):
    ``(ca.pem, fullchain.pem, privkey.pem)`` in ``directory``."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("yizhan local CA")).issuer_name(name("yizhan local CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(name(host)).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    directory = Path(directory)
    paths = directory / "ca.pem", directory / "fullchain.pem", directory / "privkey.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    paths[2].chmod(0o600)
    return paths


class LocalNginx:
    """nginx serving ``root/feeds/`` and proxying everything else to the hub at ``upstream_port``:
    plain HTTP on ``port`` (feeds; everything else redirects) and TLS on ``tls_port`` with a
    certificate from a CA made here (``ca_file``, for clients' ``verify=``)."""

    def __init__(self, root: str | Path, upstream_port: int, *, workers: int = 1) -> None:
        if not NGINX.exists():
            raise LocalServerError(f"{NGINX} not found: install Debian's nginx package")
        self.dir = Path(tempfile.mkdtemp(prefix="yizhan-nginx-"))
        self.port = free_port()
        self.tls_port = free_port()
        self.ca_file, self.cert_file, self.key_file = make_certificates(self.dir)
        self.root = Path(root)
        self.upstream_port = upstream_port
        self.workers = workers
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.tls_port}/"

    def config(self) -> str:
        d = self.dir
        # As root, workers would run as "nobody" and could not read a private temp folder.
        user = "user root root;\n" if os.geteuid() == 0 else ""
        site = render_site(self.root, self.upstream_port, self.port, tls_port=self.tls_port, cert=self.cert_file,
                           key=self.key_file)
        return (f"{user}worker_processes {self.workers};\nerror_log {d}/error.log warn;\n"
                f"events {{ worker_connections 4096; }}\n"
                f"http {{\n include /etc/nginx/mime.types;\n default_type application/octet-stream;\n"
                f" access_log off;\n client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n"
                f" fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n"
                f" sendfile on;\n keepalive_requests 10000;\n"
                # As Debian's nginx.conf: compression on for every site unless the site says no.
                f" gzip on;\n"
                f"{site}\n}}\n")

    def start(self) -> LocalNginx:
        conf = self.dir / "nginx.conf"
        conf.write_text(self.config(), encoding="utf-8")
        test = subprocess.run([str(NGINX), "-t", "-p", str(self.dir), "-c", str(conf), "-g",
                               f"pid {self.dir}/nginx.pid;"], capture_output=True, text=True)
        if test.returncode != 0:
            raise LocalServerError(f"nginx refused its configuration: {test.stderr.strip()[-800:]}")
        self.process = subprocess.Popen(
            [str(NGINX), "-p", str(self.dir), "-c", str(conf), "-g", f"daemon off; pid {self.dir}/nginx.pid;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_port(self.port, timeout=30)
            wait_for_port(self.tls_port, timeout=30)
        except TimeoutError:
            self.stop()
            raise
        return self

    def error_log(self) -> str:
        path = self.dir / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: finish open requests
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> LocalNginx:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
