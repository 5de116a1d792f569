"""sealmd with the device key and the anti-rollback counter in a TPM (models[].tpm), against
software TPMs (swtpm) the test starts: the worker unseals the key and binds the state to the
TPM's NV counter before its sandbox goes on, answers a completion, keeps no TPM connection open;
a newer bundle moves the counter, an older one or an old state file is refused at startup, the
key does not load on another TPM, and an unreachable TPM stops the start with its TCTI named."""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import SHARED, run, sealmd_bin
from test_tpm_cli import SoftwareTPM, free_port_pair

STORIES = SHARED / "models" / "stories260K.gguf"
NV_INDEX = "0x013F5EA1"   # SEALM_TPM_NV_ROLLBACK_INDEX (include/sealm/keys.h)
API_KEY = "tpm-key-0123456789abcdef0123456789"


def nv_counter(tpm):
    """The rollback counter's value, read with tpm2-tools (not with sealm: an independent view)."""
    if shutil.which("tpm2_nvread") is None:
        pytest.fail("tpm2_nvread is missing: scripts/setup.sh installs tpm2-tools")
    p = subprocess.run(["tpm2_nvread", "-T", tpm.tcti, "-C", "o", "-s", "8", NV_INDEX], capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    assert len(p.stdout) == 8
    return int.from_bytes(p.stdout, "big")   # TPM counters are big-endian UINT64


class Sealmd:
    """One sealmd run on a Unix socket, its log kept in world/NAME.log."""

    def __init__(self, world, model, name, env=None):
        self.sock = str(world / (name + ".sock"))
        cfg = {"listen": {"unix": {"path": self.sock, "mode": "0666"}}, "user": "nobody",
               "startup_timeout_seconds": 60, "models": [model],
               "keys": [{"id": "t", "hash": hash_key(API_KEY), "models": ["*"]}]}
        path = world / (name + ".json")
        path.write_text(json.dumps(cfg))
        path.chmod(0o644)
        self.log_path = world / (name + ".log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([sealmd_bin(), str(path)], stdout=self.log, stderr=self.log,
                                     env=dict(os.environ, **(env or {})))

    def logs(self):
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text()

    def curl(self, *args):
        if shutil.which("curl") is None:
            pytest.fail("curl is missing")
        return subprocess.run(["curl", "-sS", "--unix-socket", self.sock, "-H", f"Authorization: Bearer {API_KEY}",
                               *args], capture_output=True, text=True, timeout=120)

    def wait_ready(self, timeout=60):
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                pytest.fail(f"sealmd exited {self.proc.returncode}:\n{self.logs()}")
            if os.path.exists(self.sock):
                r = self.curl("-o", "/dev/null", "-w", "%{http_code}", "http://sealmd/health")
                if r.stdout == "200":
                    return
            time.sleep(0.2)
        pytest.fail(f"sealmd not ready in {timeout} s:\n{self.logs()}")

    def wait_failed(self, timeout=60):
        """For a start that must fail: sealmd exits non-zero and /health never answered 200."""
        end = time.time() + timeout
        while self.proc.poll() is None and time.time() < end:
            if os.path.exists(self.sock):
                r = self.curl("-o", "/dev/null", "-w", "%{http_code}", "http://sealmd/health")
                assert r.stdout != "200", "a model that cannot load must never make sealmd ready"
            time.sleep(0.2)
        if self.proc.poll() is None:
            self.stop()
            pytest.fail(f"sealmd still running after {timeout} s although its model cannot load:\n{self.logs()}")
        assert self.proc.returncode != 0
        self.log.close()
        return self.log_path.read_text()

    def worker_pid(self):
        """The worker: the one child of the sealmd process (forked first, before any thread)."""
        kids = []
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    stat = Path(f"/proc/{d}/stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                    kids.append(int(d))
        assert len(kids) == 1, kids
        return kids[0]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


_hashes = {}


def hash_key(secret):
    if secret not in _hashes:
        p = subprocess.run([sealmd_bin(), "--hash-key"], input=secret + "\n", capture_output=True, text=True,
                           check=True)
        _hashes[secret] = p.stdout.strip()
    return _hashes[secret]


def open_fds(pid):
    """(links, tcp_socket_inodes) of a process: what each fd points to, and which of its sockets
    are TCP sockets (looked up in its network namespace's tables)."""
    links, inodes = [], set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            continue
        links.append(link)
        if link.startswith("socket:["):
            inodes.add(link[len("socket:["):-1])
    tcp = set()
    for table in ("tcp", "tcp6"):
        with open(f"/proc/{pid}/net/{table}") as f:
            next(f)
            for line in f:
                inode = line.split()[9]
                if inode in inodes:
                    tcp.add(inode)
    return links, tcp


@pytest.fixture(scope="module")
def world():
    # World-searchable, like test_sealmd_api: the front (as nobody) reaches the socket; model,
    # key and state files stay 0600 root.
    d = Path(tempfile.mkdtemp(prefix="sealmd-tpm-"))
    d.chmod(0o755)
    a, b = SoftwareTPM(d / "tpm-a"), SoftwareTPM(d / "tpm-b")
    a.start()
    b.start()
    cwd = os.getcwd()
    os.chdir(d)
    try:
        run("keygen", "--publisher", "-o", "pub")
        run("keygen", "--device", "--tpm", a.tcti, "-o", "dev")
        run("trust", "--store", "trust.txt", "add", "pub.pub")
        for version in (1, 2):
            run("seal", "-m", STORIES, "-o", f"v{version}.sealed", "--publisher-key", "pub.key",
                "--recipient", "dev.pub", "--name", "stories", "--version", version)
    finally:
        os.chdir(cwd)
    for f in ("v1.sealed", "v2.sealed", "dev.key", "pub.key", "trust.txt"):
        (d / f).chmod(0o600)
    yield d, a, b
    a.stop()
    b.stop()
    subprocess.run(["rm", "-rf", str(d)])


def model_entry(world, bundle, tpm, state="state.bin", **extra):
    return dict({"id": "stories", "path": str(world / bundle), "device_key": str(world / "dev.key"),
                 "trust": str(world / "trust.txt"), "state": str(world / state), "tpm": tpm,
                 "n_ctx": 128, "threads": 1, "max_parallel": 1}, **extra)


def test_tcp_socket_detection_works():
    """The fd check below must be able to fail: a TCP connection of this very process shows."""
    port = free_port_pair()
    srv = socket.socket()
    srv.bind(("127.0.0.1", port))
    srv.listen(1)
    c = socket.create_connection(("127.0.0.1", port))
    try:
        _, tcp = open_fds(os.getpid())
        assert len(tcp) >= 2   # the listener and the client end
    finally:
        c.close()
        srv.close()


def test_sealmd_tpm(world):
    d, a, b = world
    if not os.path.exists(d / "tpm-a"):
        pytest.fail("swtpm state folder missing")

    # --- first start: v1, the key unsealed by TPM A, the state bound to A's counter. The
    # environment names the wrong TPM: the config's "tpm" must win over SEALM_TPM_TCTI.
    dm = Sealmd(d, model_entry(d, "v1.sealed", a.tcti), "v1", env={"SEALM_TPM_TCTI": b.tcti})
    try:
        dm.wait_ready()
        r = dm.curl("-H", "Content-Type: application/json", "http://sealmd/v1/completions", "-d",
                    json.dumps({"model": "stories", "prompt": "Once upon a time", "max_tokens": 8,
                                "temperature": 0}))
        assert r.returncode == 0, r.stderr
        body = json.loads(r.stdout)
        assert body["object"] == "text_completion", body
        assert body["choices"][0]["text"].strip(), body
        assert body["usage"]["completion_tokens"] > 0

        # The worker holds no TPM connection: no TCP socket at all (swtpm is reached over TCP),
        # nothing pointing at a TPM device; its only socket is the frame socketpair.
        links, tcp = open_fds(dm.worker_pid())
        assert not tcp, links
        assert not [link for link in links if link.startswith("/dev/tpm")], links
        assert sum(link.startswith("socket:") for link in links) == 1, links
    finally:
        dm.stop()
    # tpm2-tss's own stderr chatter (the counter is not defined yet on a first start) must not
    # break the one-JSON-object-per-line log
    for line in dm.logs().splitlines():
        json.loads(line)
    assert (d / "state.bin").read_bytes()[:8] == b"SEALMRB2"   # bound to the TPM counter
    after_v1 = nv_counter(a)
    shutil.copy(d / "state.bin", d / "state.v1")

    # --- the same bundle again: nothing to raise, the counter stays.
    dm = Sealmd(d, model_entry(d, "v1.sealed", a.tcti), "v1-again")
    try:
        dm.wait_ready()
    finally:
        dm.stop()
    assert nv_counter(a) == after_v1

    # --- v2 raises the floor: one increment of the TPM counter.
    dm = Sealmd(d, model_entry(d, "v2.sealed", a.tcti), "v2")
    try:
        dm.wait_ready()
    finally:
        dm.stop()
    after_v2 = nv_counter(a)
    assert after_v2 == after_v1 + 1

    # --- rollback: v1 is now below the floor.
    log = Sealmd(d, model_entry(d, "v1.sealed", a.tcti), "rollback").wait_failed()
    assert "SEALM_E_ROLLBACK" in log and "already accepted version 2" in log, log
    # an old copy of the state file (valid MAC, floor 1) put back: the counter refuses it.
    shutil.copy(d / "state.bin", d / "state.v2")
    shutil.copy(d / "state.v1", d / "state.bin")
    log = Sealmd(d, model_entry(d, "v1.sealed", a.tcti), "old-state").wait_failed()
    assert "SEALM_E_ROLLBACK" in log and "older copy" in log, log
    shutil.copy(d / "state.v2", d / "state.bin")
    assert nv_counter(a) == after_v2

    # --- the key on another TPM: refused, saying so.
    log = Sealmd(d, model_entry(d, "v2.sealed", b.tcti, state="state-b.bin"), "other-tpm").wait_failed()
    assert "another TPM" in log and b.tcti in log, log

    # --- no TPM at that address: the start fails naming the TCTI.
    port = free_port_pair()
    nowhere = f"swtpm:host=127.0.0.1,port={port}"
    log = Sealmd(d, model_entry(d, "v2.sealed", nowhere), "unreachable").wait_failed()
    assert "cannot reach the TPM" in log and nowhere in log, log

    # --- a passphrase for a TPM-sealed key would be ignored: refused instead.
    (d / "pass.txt").write_text("not used\n")
    (d / "pass.txt").chmod(0o600)
    log = Sealmd(d, model_entry(d, "v2.sealed", a.tcti, passphrase_file=str(d / "pass.txt")), "pass").wait_failed()
    assert "passphrase_file" in log and "TPM-sealed" in log, log

    # --- and after all that, v2 still loads with the right TPM.
    dm = Sealmd(d, model_entry(d, "v2.sealed", a.tcti), "v2-again")
    try:
        dm.wait_ready()
    finally:
        dm.stop()
    assert nv_counter(a) == after_v2


def test_check_config_refuses_bad_tpm(world):
    d, a, _ = world
    for entry, word in ((dict(model_entry(d, "v2.sealed", "swtpm: host=x")), "tpm must be a TCTI string"),
                        ({"id": "p", "path": str(STORIES), "allow_plain": True, "tpm": a.tcti}, "tpm needs a sealed bundle")):
        cfg = {"listen": {"unix": {"path": str(d / "x.sock")}}, "models": [entry],
               "keys": [{"id": "t", "hash": hash_key(API_KEY), "models": ["*"]}]}
        path = d / "check.json"
        path.write_text(json.dumps(cfg))
        p = subprocess.run([sealmd_bin(), "--check-config", str(path)], capture_output=True, text=True, timeout=30)
        assert p.returncode == 1 and word in p.stderr + p.stdout, (p.stdout, p.stderr)
