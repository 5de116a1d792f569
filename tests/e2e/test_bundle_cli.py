"""Sealed bundles through the CLI, as a publisher and a device would use them: keygen, trust,
seal, verify, inspect, and generate from a bundle; every refusal with its own error."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import SHARED, run, sealm_bin

STORIES = SHARED / "models" / "stories260K.gguf"
PROMPT = ["-p", "Once upon a time", "-n", 24, "--temp", 0]


@pytest.fixture()
def world(tmp_path):
    """Two publishers, two devices (one passphrase-protected), a trust store with the first publisher."""
    os.chdir(tmp_path)
    run("keygen", "--publisher", "-o", "pub1")
    run("keygen", "--publisher", "-o", "pub2")
    run("keygen", "--device", "-o", "dev1")
    (tmp_path / "pass.txt").write_text("correct horse battery staple\n")
    run("keygen", "--device", "-o", "dev2", "--passphrase-file", "pass.txt")
    run("trust", "--store", "trust.txt", "add", "pub1.pub")
    return tmp_path


def seal(out, version, *extra, publishers=("pub1.key",), recipients=("dev1.pub", "dev2.pub")):
    args = ["seal", "-m", STORIES, "-o", out, "--name", "stories", "--version", version, "--chunk-size", 65536]
    for p in publishers:
        args += ["--publisher-key", p]
    for r in recipients:
        args += ["--recipient", r]
    return run(*args, *extra)


def device(*extra, key="dev1.key", state="state.bin"):
    return ["--device-key", key, "--trust", "trust.txt", "--state", state, *extra]


def test_round_trip_generates_what_the_plain_model_generates(world):
    seal("m.sealed", 3, "--label", "v3", "--build-commit", "abc123")
    assert "OK" in run("verify", "-m", "m.sealed", "--trust", "trust.txt").stdout
    info = run("inspect", "-m", "m.sealed", "--trust", "trust.txt").stdout
    assert "stories version 3" in info and "abc123" in info and "recipients (2)" in info
    plain = run("generate", "-m", STORIES, *PROMPT).stdout
    sealed = run("generate", "-m", "m.sealed", *device(), *PROMPT).stdout
    assert sealed == plain and len(plain.strip()) > 20
    # the passphrase-protected device key opens it too; and --deep decrypts and checks the hash
    assert run("generate", "-m", "m.sealed", *device(key="dev2.key", state="s2.bin"),
               "--passphrase-file", "pass.txt", *PROMPT).stdout == plain
    assert "hash checked" in run("verify", "-m", "m.sealed", "--deep", *device()).stdout
    assert "token_embd.weight" in run("info", "-m", "m.sealed", *device()).stdout


def test_plaintext_never_reaches_the_bundle_file(world):
    seal("m.sealed", 1)
    model = STORIES.read_bytes()
    sealed = (world / "m.sealed").read_bytes()
    for off in range(0, len(model) - 64, len(model) // 16):
        assert model[off:off + 64] not in sealed


def test_refusals(world):
    seal("m.sealed", 3)
    run("generate", "-m", "m.sealed", *device(), *PROMPT)          # accepts version 3

    seal("old.sealed", 2)
    p = run("generate", "-m", "old.sealed", *device(), *PROMPT, check=False)
    assert p.returncode == 1 and "SEALM_E_ROLLBACK" in p.stderr

    tampered = world / "t.sealed"
    data = bytearray((world / "m.sealed").read_bytes())
    data[len(data) // 2] ^= 1
    tampered.write_bytes(bytes(data))
    p = run("generate", "-m", "t.sealed", *device(state="fresh.bin"), *PROMPT, check=False)
    assert p.returncode == 1 and "SEALM_E_AUTH" in p.stderr

    truncated = world / "cut.sealed"
    truncated.write_bytes((world / "m.sealed").read_bytes()[:-100])
    p = run("verify", "-m", "cut.sealed", "--trust", "trust.txt", check=False)
    assert p.returncode == 1 and "SEALM_E_FORMAT" in p.stderr

    run("keygen", "--device", "-o", "dev3")
    p = run("generate", "-m", "m.sealed", *device(key="dev3.key", state="s3.bin"), *PROMPT, check=False)
    assert p.returncode == 1 and "SEALM_E_RECIPIENT" in p.stderr

    seal("p2.sealed", 4, publishers=("pub2.key",))
    p = run("verify", "-m", "p2.sealed", "--trust", "trust.txt", check=False)
    assert p.returncode == 1 and "SEALM_E_SIGNATURE" in p.stderr   # pub2 is not trusted

    run("trust", "--store", "trust.txt", "add", "pub2.pub")
    run("trust", "--store", "trust.txt", "threshold", 2)
    p = run("verify", "-m", "m.sealed", "--trust", "trust.txt", check=False)
    assert p.returncode == 1 and "SEALM_E_SIGNATURE" in p.stderr   # 1 signature, 2 required
    seal("both.sealed", 5, publishers=("pub1.key", "pub2.key"))
    assert "2 of 2 signers trusted" in run("verify", "-m", "both.sealed", "--trust", "trust.txt").stdout

    run("trust", "--store", "trust.txt", "threshold", 1)
    pub2_id = run("keygen", "--publisher", "-o", "pub9").stdout  # an unrelated key: ids differ
    assert pub2_id
    revoke_id = [ln.split()[1] for ln in (world / "trust.txt").read_text().splitlines()
                 if ln.startswith("publisher")][1]
    run("trust", "--store", "trust.txt", "revoke", revoke_id)
    p = run("verify", "-m", "both.sealed", "--trust", "trust.txt", check=False)
    assert p.returncode == 1 and "SEALM_E_REVOKED" in p.stderr

    p = run("generate", "-m", "m.sealed", *PROMPT, check=False)
    assert p.returncode == 2 and "--device-key" in p.stderr


def test_key_file_permissions_are_enforced(world):
    os.chmod("dev1.key", 0o644)
    seal("m.sealed", 1)
    p = run("generate", "-m", "m.sealed", *device(), *PROMPT, check=False)
    assert p.returncode == 1 and "chmod 600" in p.stderr


def test_a_sealed_load_writes_no_model_byte_anywhere(world):
    """Trace every file open and write of a sealed load: the only file opened for writing is
    the anti-rollback state (and its temp file), and no write carries model bytes (strace shows
    the first 256 bytes of each write, which is where a dumped block would begin)."""
    if shutil.which("strace") is None:
        pytest.fail("strace is missing: scripts/setup.sh installs it")
    seal("m.sealed", 1)
    trace = world / "trace.txt"
    cmd = ["strace", "-f", "-qq", "-e", "trace=openat,open,creat,write,pwrite64,writev,pwritev,sendto,sendmsg",
           "-s", "256", "-xx", "-o", str(trace), sealm_bin(), "generate", "-m", "m.sealed", *device(),
           *map(str, PROMPT)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    lines = trace.read_text().splitlines()
    opened_for_writing = [ln for ln in lines if ("O_WRONLY" in ln or "O_RDWR" in ln or "O_CREAT" in ln)
                          and " = -1 " not in ln]
    assert opened_for_writing, "the state file is written on the first accepted load"
    hexed = lambda b: "".join(f"\\x{c:02x}" for c in b)   # strace -xx prints paths and data in hex
    for ln in opened_for_writing:
        assert hexed(b"state.bin") in ln, ln
    model = STORIES.read_bytes()
    samples = [model[off:off + 16] for off in range(4096, len(model) - 16, 4096)]
    # strace -f prefixes each line with the pid padded to five columns ("12    write(..."), so
    # a small pid (as in a container) leaves several spaces before the syscall name.
    syscall = re.compile(r"^(?:\d+\s+)?(?:\[pid\s+\d+\]\s+)?(write|pwrite64|writev|pwritev)\(")
    written = "\n".join(ln for ln in lines if syscall.match(ln))
    assert samples and written
    for s in samples:
        assert hexed(s) not in written


def test_recipients_add_and_remove_rewrap_without_touching_the_payload(world):
    run("keygen", "--device", "-o", "dev3")
    seal("m.sealed", 1, recipients=("dev1.pub",))
    before = (world / "m.sealed").read_bytes()
    plain = run("generate", "-m", STORIES, *PROMPT).stdout

    # dev3 cannot open it yet; adding needs a current recipient's key (dev2 is not one)
    p = run("generate", "-m", "m.sealed", *device(key="dev3.key", state="s3.bin"), *PROMPT, check=False)
    assert p.returncode == 1 and "SEALM_E_RECIPIENT" in p.stderr
    p = run("recipients", "add", "-m", "m.sealed", "--device-key", "dev2.key", "--passphrase-file", "pass.txt",
            "dev3.pub", check=False)
    assert p.returncode == 1 and "SEALM_E_RECIPIENT" in p.stderr
    assert (world / "m.sealed").read_bytes() == before          # a refused edit changes nothing

    run("recipients", "add", "-m", "m.sealed", "--device-key", "dev1.key", "dev3.pub")
    after = (world / "m.sealed").read_bytes()
    assert len(after) == len(before) + 112                       # one more recipient entry
    assert after[-16 - 200000:-16] == before[-16 - 200000:-16]   # payload tail copied byte for byte
    assert "recipients (2)" in run("inspect", "-m", "m.sealed", "--trust", "trust.txt").stdout
    assert run("generate", "-m", "m.sealed", *device(key="dev3.key", state="s3.bin"), *PROMPT).stdout == plain

    p = run("recipients", "add", "-m", "m.sealed", "--device-key", "dev1.key", "dev3.pub", check=False)
    assert p.returncode == 1 and "already a recipient" in p.stderr

    # remove into a new file: the old one is untouched, dev1 is cut off from the new one
    run("recipients", "remove", "-m", "m.sealed", "-o", "m2.sealed", "dev1.pub")
    assert (world / "m.sealed").read_bytes() == after
    p = run("generate", "-m", "m2.sealed", *device(state="s4.bin"), *PROMPT, check=False)
    assert p.returncode == 1 and "SEALM_E_RECIPIENT" in p.stderr
    assert run("generate", "-m", "m2.sealed", *device(key="dev3.key", state="s5.bin"), *PROMPT).stdout == plain
    p = run("recipients", "remove", "-m", "m2.sealed", "dev1.pub", check=False)
    assert p.returncode == 1 and "SEALM_E_NOT_FOUND" in p.stderr
    p = run("recipients", "remove", "-m", "m2.sealed", "dev3.pub", check=False)
    assert p.returncode == 1 and "at least one" in p.stderr



def test_inspect_without_a_trust_store_checks_signatures_only(world):
    seal("m.sealed", 2, publishers=("pub2.key",))                 # pub2 is not trusted
    out = run("inspect", "-m", "m.sealed").stdout
    assert "stories version 2" in out and "0 trusted" in out and "no trust store" in out
    data = bytearray((world / "m.sealed").read_bytes())
    data[30] ^= 1                                                  # inside the manifest
    (world / "bad.sealed").write_bytes(bytes(data))
    p = run("inspect", "-m", "bad.sealed", check=False)
    assert p.returncode == 1 and "SEALM_E_SIGNATURE" in p.stderr


def test_minisign_verifies_the_detached_signature(world):
    """Debian's minisign checks the .minisig that `seal --minisign` writes, and rejects the
    bundle once one byte changes."""
    minisign = shutil.which("minisign")
    if minisign is None:
        pytest.fail("minisign is missing: scripts/setup.sh installs it")
    out = seal("m.sealed", 4, "--minisign").stdout
    assert "m.sealed.minisig" in out
    run("minisign-key", "-i", "pub1.pub", "-o", "pub1.minisign.pub")
    ok = subprocess.run([minisign, "-V", "-p", "pub1.minisign.pub", "-m", "m.sealed"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "sealm bundle name:stories version:4" in ok.stdout       # the signed trusted comment
    # another publisher's minisign key is refused
    run("minisign-key", "-i", "pub2.pub", "-o", "pub2.minisign.pub")
    other = subprocess.run([minisign, "-V", "-p", "pub2.minisign.pub", "-m", "m.sealed"], capture_output=True, text=True)
    assert other.returncode != 0
    # one flipped byte anywhere in the bundle breaks it
    data = bytearray((world / "m.sealed").read_bytes())
    data[len(data) // 2] ^= 0x40
    (world / "m.sealed").write_bytes(bytes(data))
    bad = subprocess.run([minisign, "-V", "-p", "pub1.minisign.pub", "-m", "m.sealed"], capture_output=True, text=True)
    assert bad.returncode != 0
    # a device key cannot be exported as a minisign key
    p = run("minisign-key", "-i", "dev1.pub", "-o", "x.pub", check=False)
    assert p.returncode == 2


def test_system_prompt_is_signed_into_the_manifest(world):
    prompt = "You are the pump-room assistant.\nAnswer in one sentence — never guess a pressure.\n"
    (world / "system.txt").write_text(prompt, encoding="utf-8")
    seal("m.sealed", 1, "--system-prompt-file", "system.txt")
    info = run("inspect", "-m", "m.sealed", "--trust", "trust.txt").stdout
    size = len(prompt.encode("utf-8"))
    assert f"system prompt: {size} bytes, signed" in info
    assert "pump-room" not in info                      # listed by size and hash, not by text
    # the manifest is signed: editing the prompt in the file breaks the signature
    data = bytearray((world / "m.sealed").read_bytes())
    at = data.find(b"pump-room")
    assert at > 0
    data[at] ^= 0x20
    (world / "edited.sealed").write_bytes(bytes(data))
    p = run("verify", "-m", "edited.sealed", "--trust", "trust.txt", check=False)
    assert p.returncode == 1 and "SEALM_E_SIGNATURE" in p.stderr
    # refused inputs: control characters, over the limit, missing file; nothing is written
    for name, content in [("bell.txt", b"ring \x07"), ("big.txt", b"a" * 8193), ("bad.txt", b"\xff\xfe")]:
        (world / name).write_bytes(content)
        p = run("seal", "-m", STORIES, "-o", "x.sealed", "--name", "stories", "--version", 1,
                "--publisher-key", "pub1.key", "--recipient", "dev1.pub", "--system-prompt-file", name, check=False)
        assert p.returncode != 0 and "system prompt" in p.stderr, (name, p.stderr)
        assert not (world / "x.sealed").exists()
    p = run("seal", "-m", STORIES, "-o", "x.sealed", "--name", "stories", "--version", 1, "--publisher-key",
            "pub1.key", "--recipient", "dev1.pub", "--system-prompt-file", "missing.txt", check=False)
    assert p.returncode == 2 and "missing.txt" in p.stderr
