"""Real TLS in front of the embedded broker: a test CA made with openssl, and stunnel terminating TLS.

Tansu cannot serve TLS itself, so the broker advertises stunnel's port: every client, whichever
broker address it learns from metadata, reaches it through TLS, and certificate checks are real.
`./dev.sh test` installs Debian's stunnel4 where it is missing and it runs as root; elsewhere the
tests that need it are skipped with that reason.
"""

import shutil
import subprocess
import time
from pathlib import Path

from driftline.embedded import _port_open


def tls_tools_missing() -> str | None:
    """Why the TLS tests cannot run here, or None."""
    if stunnel_binary() is None:
        return "stunnel is not installed (./dev.sh test installs Debian's stunnel4 when run as root)"
    if shutil.which("openssl") is None:
        return "openssl is not installed"
    return None


def stunnel_binary() -> str | None:
    return shutil.which("stunnel4") or shutil.which("stunnel")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(directory: Path, name: str) -> Path:
    """A self-signed CA; returns its certificate (its key lies beside it)."""
    directory.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
             "-keyout", f"{name}.key", "-out", f"{name}.pem", cwd=directory)
    return directory / f"{name}.pem"


def make_server_cert(ca: Path, directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost signed by `ca`: (certificate, key)."""
    ca_key = ca.with_suffix(".key")
    (directory / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "server.key",
             "-out", "server.csr", cwd=directory)
    _openssl("x509", "-req", "-in", "server.csr", "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
             "-days", "2", "-extfile", "san.cnf", "-out", "server.pem", cwd=directory)
    return directory / "server.pem", directory / "server.key"


class Stunnel:
    """stunnel accepting TLS on `port` and relaying plain TCP to `target_port`, both on 127.0.0.1."""

    def __init__(self, port: int, target_port: int, cert: Path, key: Path, directory: Path) -> None:
        self.port = port
        self.config = directory / "stunnel.conf"
        self.log = directory / "stunnel.log"
        self.config.write_text(
            "foreground = yes\npid =\n"
            f"output = {self.log}\n"
            "[kafka]\n"
            f"accept = 127.0.0.1:{port}\nconnect = 127.0.0.1:{target_port}\n"
            f"cert = {cert}\nkey = {key}\n")
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15.0) -> "Stunnel":
        binary = stunnel_binary()
        assert binary is not None, tls_tools_missing()
        self._process = subprocess.Popen([binary, str(self.config)], stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not _port_open("127.0.0.1", self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"stunnel did not listen on {self.port}: {self.log.read_text(errors='replace')}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            process.wait(10)
