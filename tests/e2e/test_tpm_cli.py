"""A device whose key and anti-rollback counter live in a TPM (a software TPM, swtpm, that the
test starts), driven through the `sealm` CLI: keygen --tpm, seal, generate with --tpm; an old
copy of the state file put back after a newer bundle is refused; the key file is useless on
another TPM."""
import os
import shutil
import socket
import subprocess
import time

import pytest

from conftest import SHARED, run

STORIES = SHARED / "models" / "stories260K.gguf"
PROMPT = ["-p", "Once upon a time", "-n", 16, "--temp", 0]


def free_port_pair():
    """Two consecutive free TCP ports (swtpm's server and control sockets)."""
    for _ in range(100):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        if port >= 65535:
            continue
        t = socket.socket()
        try:
            t.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
        finally:
            t.close()
    raise RuntimeError("no free port pair")


class SoftwareTPM:
    def __init__(self, folder):
        self.folder = folder
        folder.mkdir()
        self.port = free_port_pair()
        self.tcti = f"swtpm:host=127.0.0.1,port={self.port}"
        self.proc = None

    def start(self):
        swtpm = shutil.which("swtpm")
        if swtpm is None:
            pytest.fail("swtpm is missing: scripts/setup.sh installs it")
        self.proc = subprocess.Popen(
            [swtpm, "socket", "--tpm2", "--tpmstate", f"dir={self.folder}",
             "--server", f"type=tcp,port={self.port}", "--ctrl", f"type=tcp,port={self.port + 1}",
             "--flags", "not-need-init,startup-clear"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        pytest.fail("swtpm did not start")

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture()
def tpms(tmp_path):
    os.chdir(tmp_path)
    a, b = SoftwareTPM(tmp_path / "tpm-a"), SoftwareTPM(tmp_path / "tpm-b")
    a.start()
    b.start()
    yield a, b
    a.stop()
    b.stop()


def seal(out, version):
    run("seal", "-m", STORIES, "-o", out, "--publisher-key", "pub.key", "--recipient", "dev.pub",
        "--name", "stories", "--version", version)


def test_tpm_device_key_and_counter(tpms):
    a, b = tpms
    run("keygen", "--publisher", "-o", "pub")
    out = run("keygen", "--device", "--tpm", a.tcti, "-o", "dev").stdout
    assert "device key" in out
    assert "secret:" not in open("dev.key").read()          # the secret stays in the TPM
    run("trust", "--store", "trust.txt", "add", "pub.pub")
    seal("v1.sealed", 1)
    seal("v2.sealed", 2)
    device = ["--device-key", "dev.key", "--trust", "trust.txt", "--state", "state.bin", "--tpm", a.tcti]

    plain = run("generate", "-m", STORIES, *PROMPT).stdout
    assert run("generate", "-m", "v1.sealed", *device, *PROMPT).stdout == plain
    shutil.copy("state.bin", "state.v1")
    assert run("generate", "-m", "v2.sealed", *device, *PROMPT).stdout == plain

    p = run("generate", "-m", "v1.sealed", *device, *PROMPT, check=False)
    assert p.returncode == 1 and "SEALM_E_ROLLBACK" in p.stderr

    # Put back the old state file (valid MAC, floor 1): the TPM counter refuses it, so the
    # older bundle stays refused. A MAC alone could not tell.
    shutil.copy("state.v1", "state.bin")
    p = run("generate", "-m", "v1.sealed", *device, *PROMPT, check=False)
    assert p.returncode == 1 and "older copy" in p.stderr
    # Deleting it does not help either.
    os.remove("state.bin")
    p = run("generate", "-m", "v1.sealed", *device, *PROMPT, check=False)
    assert p.returncode == 1 and "missing" in p.stderr

    # The key file on another TPM: refused, with the reason.
    other = ["--device-key", "dev.key", "--trust", "trust.txt", "--state", "other.bin", "--tpm", b.tcti]
    p = run("generate", "-m", "v2.sealed", *other, *PROMPT, check=False)
    assert p.returncode == 1 and "another TPM" in p.stderr

    # TPM unreachable: a clear message naming the TCTI.
    a.stop()
    p = run("generate", "-m", "v2.sealed", *device, *PROMPT, check=False)
    assert p.returncode == 1 and a.tcti in p.stderr and "swtpm" in p.stderr

    p = run("keygen", "--publisher", "--tpm", a.tcti, "-o", "x", check=False)
    assert p.returncode == 2
