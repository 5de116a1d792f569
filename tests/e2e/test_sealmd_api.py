"""sealmd end to end, driven by real clients: the OpenAI Python SDK, curl, httpx2 over TLS,
schemathesis against docs/openapi.yaml. One daemon serves a sealed stories260K bundle and
the plain SmolLM2; it runs as root with `user: nobody`, so the test also checks the
privilege separation: the front cannot read the model/key files, the worker is sandboxed."""
import json
import os
import pwd
import signal
import socket
import ssl
import stat
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx2
import openai
import pytest

from conftest import SHARED, ROOT, run, sealmd_bin, SMOLLM2

STORIES = SHARED / "models" / "stories260K.gguf"
KEYS = {  # id -> (secret, models, features, extra)
    "admin": ("admin-key-0123456789abcdef", ["*"], ["logprobs", "logit_bias", "system_prompt", "metrics"], {}),
    "basic": ("basic-key-0123456789abcdef", ["stories"], [], {}),
    "slow": ("slow-key-0123456789abcdef", ["*"], [], {"requests_per_minute": 2}),
    "gone": ("gone-key-0123456789abcdef", ["*"], [], {}),
}


def hash_key(secret):
    p = subprocess.run([sealmd_bin(), "--hash-key"], input=secret + "\n", capture_output=True, text=True, check=True)
    return p.stdout.strip()


def make_config(world, keys=KEYS, listen=None, **extra):
    cfg = {
        "listen": listen or {"unix": {"path": str(world / "sealmd.sock"), "mode": "0666"}},
        "user": "nobody",
        "drain_seconds": 10,
        "limits": {"max_body_bytes": 65536, "max_tokens": 256, "max_stop": 4, "max_stop_bytes": 32},
        "models": [
            {"id": "stories", "path": str(world / "stories.sealed"), "device_key": str(world / "dev.key"),
             "trust": str(world / "trust.txt"), "state": str(world / "state.bin"), "n_ctx": 256, "threads": 1,
             "max_parallel": 16},
            {"id": "smol", "path": str(SMOLLM2), "allow_plain": True, "n_ctx": 1024, "threads": 1, "max_parallel": 2,
             "logprobs": True},
        ],
        "keys": [dict({"id": k, "hash": hash_key(v[0]), "models": v[1], "features": v[2]}, **v[3])
                 for k, v in keys.items()],
    }
    cfg.update(extra)
    return cfg


class Daemon:
    def __init__(self, world, cfg, name="sealmd.json"):
        self.world = world
        self.cfg_path = world / name
        self.write(cfg)
        self.sock = cfg["listen"].get("unix", {}).get("path")
        self.log = open(world / (name + ".log"), "w+")
        self.proc = subprocess.Popen([sealmd_bin(), str(self.cfg_path)], stderr=self.log, stdout=self.log)

    def write(self, cfg):
        tmp = self.cfg_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(cfg))
        tmp.chmod(0o644)   # the front re-reads it on SIGHUP as `nobody`
        tmp.rename(self.cfg_path)

    def wait_ready(self, check, timeout=120):
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                pytest.fail(f"sealmd exited {self.proc.returncode}:\n{self.logs()}")
            try:
                if check():
                    return
            except (OSError, httpx2.HTTPError):
                pass
            time.sleep(0.2)
        pytest.fail(f"sealmd not ready in {timeout} s:\n{self.logs()}")

    def logs(self):
        self.log.flush()
        return Path(self.log.name).read_text()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def uds_client(sock, timeout=120):
    return httpx2.Client(transport=httpx2.HTTPTransport(uds=sock), base_url="http://sealmd", timeout=timeout)


def auth(name):
    return {"Authorization": f"Bearer {KEYS[name][0]}"}


@pytest.fixture(scope="module")
def world():
    # A world-searchable directory: the front (as nobody) must reach the socket and the config,
    # but not the 0600 model and key files inside it.
    d = Path(tempfile.mkdtemp(prefix="sealmd-e2e-"))
    d.chmod(0o755)
    cwd = os.getcwd()
    os.chdir(d)
    try:
        run("keygen", "--publisher", "-o", "pub")
        run("keygen", "--device", "-o", "dev")
        run("trust", "--store", "trust.txt", "add", "pub.pub")
        run("seal", "-m", STORIES, "-o", "stories.sealed", "--name", "stories", "--version", 1,
            "--publisher-key", "pub.key", "--recipient", "dev.pub")
    finally:
        os.chdir(cwd)
    for f in ("stories.sealed", "dev.key", "pub.key", "trust.txt"):
        (d / f).chmod(0o600)
    yield d
    subprocess.run(["rm", "-rf", str(d)])


@pytest.fixture(scope="module")
def daemon(world):
    dm = Daemon(world, make_config(world))
    try:
        with uds_client(dm.sock) as c:
            dm.wait_ready(lambda: c.get("/health").status_code == 200)
        yield dm
    finally:
        dm.stop()


@pytest.fixture
def http(daemon):
    with uds_client(daemon.sock) as c:
        yield c


def sdk(daemon, key="admin"):
    return openai.OpenAI(base_url="http://sealmd/v1", api_key=KEYS[key][0], max_retries=0,
                         http_client=httpx2.Client(transport=httpx2.HTTPTransport(uds=daemon.sock), timeout=120))


def metric(http, name):
    text = http.get("/metrics", headers=auth("admin")).text
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1]) if line.startswith(name + " ") else None
    return 0.0


# ---- config ----

def test_check_config_strict(world):
    good = make_config(world)
    p = world / "check.json"
    p.write_text(json.dumps(good))
    r = subprocess.run([sealmd_bin(), "--check-config", str(p)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    bad_cases = [
        (dict(good, listn={}), "listn"),
        (dict(good, drain_seconds="10"), "drain_seconds"),
        (dict(good, limits={"max_tokens": 0}), "max_tokens"),
        (dict(good, keys=[dict(good["keys"][0], featurs=[])]), "featurs"),
        (dict(good, keys=[dict(good["keys"][0], hash="plaintext")]), "hash"),
        (dict(good, listen={"tcp": {"port": 8443}}), "cert"),
        (dict(good, listen={"unix": {"path": "/tmp/x.sock", "mode": 660}}), "mode"),
        (dict(good, models=[dict(good["models"][1], allow_plain=False)]), "device_key"),
    ]
    for cfg, word in bad_cases:
        p.write_text(json.dumps(cfg))
        r = subprocess.run([sealmd_bin(), "--check-config", str(p)], capture_output=True, text=True)
        assert r.returncode == 1 and word in r.stderr, (word, r.stderr)
    p.write_text("{not json")
    r = subprocess.run([sealmd_bin(), "--check-config", str(p)], capture_output=True, text=True)
    assert r.returncode == 1 and "JSON" in r.stderr


def test_hash_key_is_sha256():
    import hashlib
    assert hash_key("some-long-api-key-123") == "sha256:" + hashlib.sha256(b"some-long-api-key-123").hexdigest()
    r = subprocess.run([sealmd_bin(), "--hash-key"], input="short\n", capture_output=True, text=True)
    assert r.returncode == 1


# ---- privilege separation ----

def children(pid):
    out = []
    for t in Path(f"/proc/{pid}/task").iterdir():
        out += [int(x) for x in (t / "children").read_text().split()]
    return out


def status_field(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].split()
    raise AssertionError(f"{field} not in /proc/{pid}/status")


def test_privilege_separation(daemon, world):
    nobody = pwd.getpwnam("nobody")
    front = daemon.proc.pid
    assert status_field(front, "Uid") == [str(nobody.pw_uid)] * 4
    assert status_field(front, "Gid") == [str(nobody.pw_gid)] * 4
    assert status_field(front, "Groups") == [] or status_field(front, "Groups") == [str(nobody.pw_gid)]
    # The files the worker loaded are unreadable with the front's credentials.
    for f in ("stories.sealed", "dev.key", "trust.txt"):
        assert stat.S_IMODE((world / f).stat().st_mode) == 0o600
        r = subprocess.run(["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups",
                            "cat", str(world / f)], capture_output=True)
        assert r.returncode != 0 and b"Permission denied" in r.stderr
    # Nor does the front hold them open.
    fds = [os.readlink(f"/proc/{front}/fd/{fd}") for fd in os.listdir(f"/proc/{front}/fd")]
    assert not any(str(world / f) in x for x in fds for f in ("stories.sealed", "dev.key"))
    (worker,) = children(front)
    assert status_field(worker, "Seccomp") == ["2"]
    assert status_field(worker, "NoNewPrivs") == ["1"]


# ---- the API through real clients ----

def test_health_and_models(http):
    assert http.get("/health").json() == {"status": "ok"}
    ids = [m["id"] for m in http.get("/v1/models", headers=auth("admin")).json()["data"]]
    assert sorted(ids) == ["smol", "stories"]
    ids = [m["id"] for m in http.get("/v1/models", headers=auth("basic")).json()["data"]]
    assert ids == ["stories"]
    assert http.get("/v1/models/smol", headers=auth("basic")).status_code == 404


def test_openai_sdk_chat(daemon):
    c = sdk(daemon)
    r = c.chat.completions.create(model="smol", messages=[{"role": "system", "content": "You are a helpful assistant."},
                                                          {"role": "user", "content": "What is the capital of France?"}],
                                  max_tokens=24, temperature=0)
    assert r.object == "chat.completion" and r.choices[0].message.role == "assistant"
    assert "Paris" in r.choices[0].message.content
    assert r.usage.completion_tokens >= 1 and r.usage.prompt_tokens > 10
    assert r.choices[0].finish_reason in ("stop", "length")


def test_prefix_cache_scope_is_not_the_clients(http):
    """The cache scope comes from the authenticated key alone: a request cannot name one."""
    r = post(http, "/v1/completions", {"model": "stories", "prompt": "Once", "max_tokens": 2, "cache_scope": "admin"},
             key="basic")
    assert r.status_code == 400 and r.json()["error"]["code"] == "unknown_parameter"


def test_prefix_cache_per_key(daemon):
    """A chat that repeats the system prompt reuses its prefill: usage reports the cached
    prompt tokens, and the answer is the one computed from scratch. Another key sending the
    same prompt gets nothing from that key's cache."""
    system = ("You are a careful assistant for field engineers. Answer in one short sentence, "
              "name units, and never guess. Sealed prefix test 5817.")
    def ask(key, question):
        return sdk(daemon, key).chat.completions.create(
            model="smol", messages=[{"role": "system", "content": system}, {"role": "user", "content": question}],
            max_tokens=8, temperature=0)
    first = ask("admin", "What is the boiling point of water at sea level?")
    # at most the chat template's opening, from this key's earlier chats: the system prompt is new
    assert first.usage.prompt_tokens_details.cached_tokens < 10
    second = ask("admin", "What is the freezing point of water?")
    cached = second.usage.prompt_tokens_details.cached_tokens
    # the template's header and the system prompt (at least 25 tokens), not the question
    assert 25 <= cached < second.usage.prompt_tokens
    again = ask("admin", "What is the boiling point of water at sea level?")
    assert again.choices[0].message.content == first.choices[0].message.content
    assert again.usage.prompt_tokens_details.cached_tokens >= cached
    # completions, where every key may send the same prompt: only the sender's own key reuses it
    prompt = "Zora the zebra kept a lantern by the river. Every night she"
    def complete(key):
        return sdk(daemon, key).completions.create(model="stories", prompt=prompt, max_tokens=10, temperature=0)
    a1, a2, b1 = complete("admin"), complete("admin"), complete("basic")
    assert a1.usage.prompt_tokens_details.cached_tokens == 0
    assert a2.usage.prompt_tokens_details.cached_tokens == a2.usage.prompt_tokens - 1
    assert b1.usage.prompt_tokens_details.cached_tokens == 0
    assert a1.choices[0].text == a2.choices[0].text == b1.choices[0].text


def test_openai_sdk_completion_and_logprobs(daemon):
    c = sdk(daemon)
    r = c.completions.create(model="stories", prompt="Once upon a time", max_tokens=12, temperature=0, logprobs=0)
    assert r.object == "text_completion" and len(r.choices[0].text) > 0
    assert r.usage.completion_tokens == 12 and r.choices[0].finish_reason == "length"
    lp = r.choices[0].logprobs
    assert len(lp.token_logprobs) == 12 and all(x <= 0 for x in lp.token_logprobs)
    assert "".join(lp.tokens) == r.choices[0].text
    # Deterministic at temperature 0.
    r2 = c.completions.create(model="stories", prompt="Once upon a time", max_tokens=12, temperature=0)
    assert r2.choices[0].text == r.choices[0].text
    # chat logprobs: only the chosen token, never alternatives
    ch = c.chat.completions.create(model="smol", messages=[{"role": "user", "content": "Hi"}], max_tokens=4,
                                   logprobs=True)
    assert all(t.top_logprobs == [] and t.logprob <= 0 for t in ch.choices[0].logprobs.content)
    with pytest.raises(openai.BadRequestError):
        c.chat.completions.create(model="smol", messages=[{"role": "user", "content": "Hi"}], max_tokens=4,
                                  logprobs=True, top_logprobs=3)


def test_held_back_text_completes_the_last_logprob_entry(daemon):
    """The worker holds back the answer's tail while it could begin a stop string, and sends
    it at the end without a logprob (it is no new token): every entry still has a number,
    and the entries' tokens still spell the answer."""
    c = sdk(daemon)
    ask = dict(model="smol", messages=[{"role": "user", "content": "Name a colour."}], max_tokens=6, temperature=0)
    plain = c.chat.completions.create(**ask).choices[0].message.content
    assert len(plain) >= 3
    stop = plain[-3:] + "\u2603"       # the answer ends with this stop string's first three characters
    r = c.chat.completions.create(**ask, stop=[stop], logprobs=True)
    assert r.choices[0].message.content == plain and r.choices[0].finish_reason == "length"
    entries = r.choices[0].logprobs.content
    assert entries and all(isinstance(e.logprob, float) and e.logprob <= 0 for e in entries)
    assert "".join(e.token for e in entries) == plain
    chunks = list(c.chat.completions.create(**ask, stop=[stop], logprobs=True, stream=True))
    assert "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices) == plain
    streamed = [e for ch in chunks if ch.choices and ch.choices[0].logprobs for e in ch.choices[0].logprobs.content]
    assert streamed and all(isinstance(e.logprob, float) and e.logprob <= 0 for e in streamed)


def test_openai_sdk_streaming(daemon):
    c = sdk(daemon)
    chunks = list(c.chat.completions.create(model="smol", messages=[{"role": "user", "content": "Count to five."}],
                                            max_tokens=16, stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert len(text) > 0
    finals = [ch.choices[0].finish_reason for ch in chunks if ch.choices and ch.choices[0].finish_reason]
    assert finals in (["length"], ["stop"])
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens <= 16
    pieces = list(c.completions.create(model="stories", prompt="Lily", max_tokens=8, stream=True, temperature=0))
    streamed = "".join(p.choices[0].text for p in pieces)
    whole = c.completions.create(model="stories", prompt="Lily", max_tokens=8, temperature=0).choices[0].text
    assert streamed == whole


def test_curl_raw_sse(daemon):
    body = json.dumps({"model": "stories", "prompt": "The cat", "max_tokens": 6, "stream": True})
    r = subprocess.run(["curl", "-sS", "-N", "--unix-socket", daemon.sock, "http://sealmd/v1/completions",
                        "-H", f"Authorization: Bearer {KEYS['basic'][0]}", "-H", "Content-Type: application/json",
                        "-d", body, "-D", "-"], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    head, _, sse = r.stdout.decode().partition("\r\n\r\n")
    assert "text/event-stream" in head.lower()
    events = [e for e in sse.split("\n\n") if e.strip()]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    docs = [json.loads(e[6:]) for e in events[:-1]]
    assert sum(1 for d in docs if d["choices"][0]["text"]) >= 1
    assert docs[-1]["choices"][0]["finish_reason"] == "length"


# ---- every error ----

def post(http, path, body, key="admin", raw=None):
    h = dict(auth(key)) if key else {}
    h["Content-Type"] = "application/json"
    return http.post(path, content=raw if raw is not None else json.dumps(body), headers=h)


def assert_error(r, status, code=None):
    assert r.status_code == status, (r.status_code, r.text)
    e = r.json()["error"]
    assert set(e) >= {"message", "type"} and isinstance(e["message"], str)
    if code:
        assert e["code"] == code, e


CHAT = {"model": "stories", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}


def test_errors_400(http):
    assert_error(post(http, "/v1/chat/completions", None, raw="{not json"), 400, "invalid_json")
    assert_error(post(http, "/v1/chat/completions", None, raw=json.dumps(dict(CHAT, pad="x" * 70000))), 400,
                 "request_too_large")
    assert_error(post(http, "/v1/chat/completions", dict(CHAT, temperature="hot")), 400)
    assert_error(post(http, "/v1/chat/completions", dict(CHAT, temperature=3)), 400)
    assert_error(post(http, "/v1/chat/completions", dict(CHAT, frobnicate=1)), 400, "unknown_parameter")
    assert_error(post(http, "/v1/chat/completions", dict(CHAT, n=2)), 400, "unsupported_value")
    assert_error(post(http, "/v1/chat/completions", dict(CHAT, max_tokens=100000)), 400, "max_tokens_too_large")
    assert_error(post(http, "/v1/chat/completions", dict(CHAT, stop=["a"] * 5)), 400)
    assert_error(post(http, "/v1/chat/completions", dict(CHAT, stop="x" * 40)), 400)
    assert_error(post(http, "/v1/chat/completions", dict(CHAT, messages=[])), 400)
    assert_error(post(http, "/v1/chat/completions", dict(CHAT, messages=[{"role": "tool", "content": "x"}])), 400)
    assert_error(post(http, "/v1/chat/completions", {"messages": CHAT["messages"]}), 400, "missing_required_parameter")
    assert_error(post(http, "/v1/completions", {"model": "stories", "prompt": [1, 2, 3]}), 400)
    assert_error(post(http, "/v1/completions", {"model": "stories", "prompt": "x", "logprobs": 5}), 400)
    assert_error(post(http, "/v1/chat/completions", dict(CHAT, logit_bias={"999999": 1})), 400)
    # prompt longer than the context: the worker's count, answered as a 400 before any stream
    long = {"model": "stories", "prompt": "Once upon a time " * 200, "max_tokens": 4, "stream": True}
    assert_error(post(http, "/v1/completions", long), 400, "context_length_exceeded")


def test_errors_401_403_404_405(http):
    assert_error(post(http, "/v1/chat/completions", CHAT, key=None), 401, "missing_api_key")
    r = http.post("/v1/chat/completions", json=CHAT, headers={"Authorization": "Bearer wrong-key-000000000000"})
    assert_error(r, 401, "invalid_api_key")
    assert r.headers["WWW-Authenticate"] == "Bearer"
    assert_error(post(http, "/v1/chat/completions", dict(CHAT, model="smol"), key="basic"), 403, "model_not_allowed")
    assert_error(post(http, "/v1/chat/completions", dict(CHAT, logit_bias={"5": 10}), key="basic"), 403,
                 "logit_bias_not_allowed")
    assert_error(post(http, "/v1/chat/completions", dict(CHAT, messages=[{"role": "system", "content": "x"}]),
                      key="basic"), 403, "system_prompt_not_allowed")
    assert_error(post(http, "/v1/chat/completions", dict(CHAT, logprobs=True), key="basic"), 403)
    assert_error(http.get("/metrics", headers=auth("basic")), 403)
    assert_error(post(http, "/v1/chat/completions", dict(CHAT, model="nope")), 404, "model_not_found")
    assert_error(http.get("/v1/nothing", headers=auth("admin")), 404)
    assert_error(http.get("/v1/chat/completions", headers=auth("admin")), 405)
    # logit_bias with the feature works and moves the output
    base = post(http, "/v1/completions", {"model": "stories", "prompt": "Once", "max_tokens": 3, "temperature": 0}).json()
    biased = post(http, "/v1/completions", {"model": "stories", "prompt": "Once", "max_tokens": 3, "temperature": 0,
                                           "logit_bias": {"300": 100}}).json()
    assert base["choices"][0]["text"] != biased["choices"][0]["text"]


def test_rate_limit_429(http):
    body = {"model": "stories", "prompt": "a", "max_tokens": 1}
    codes = [post(http, "/v1/completions", body, key="slow") for _ in range(3)]
    assert [r.status_code for r in codes[:2]] == [200, 200]
    assert_error(codes[2], 429, "rate_limit_exceeded")
    assert int(codes[2].headers["Retry-After"]) >= 1


def test_sighup_revokes_key(daemon, world, http):
    body = {"model": "stories", "prompt": "a", "max_tokens": 1}
    assert post(http, "/v1/completions", body, key="gone").status_code == 200
    daemon.write(make_config(world, keys={k: v for k, v in KEYS.items() if k != "gone"}))
    daemon.proc.send_signal(signal.SIGHUP)
    end = time.time() + 10
    while time.time() < end and post(http, "/v1/completions", body, key="gone").status_code != 401:
        time.sleep(0.1)
    assert_error(post(http, "/v1/completions", body, key="gone"), 401, "invalid_api_key")
    assert post(http, "/v1/completions", body, key="admin").status_code == 200
    assert daemon.proc.poll() is None


def test_disconnect_cancels(daemon, http):
    before = metric(http, "sealmd_cancelled_total")
    s = socket.socket(socket.AF_UNIX)
    s.connect(daemon.sock)
    body = json.dumps({"model": "stories", "prompt": "Once", "max_tokens": 256, "stream": True}).encode()
    s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEYS["admin"][0].encode() +
              b"\r\nContent-Type: application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    got = b""
    while b"data: " not in got:
        got += s.recv(4096)
    s.close()
    end = time.time() + 20
    while time.time() < end and metric(http, "sealmd_cancelled_total") <= before:
        time.sleep(0.1)
    assert metric(http, "sealmd_cancelled_total") == before + 1
    assert metric(http, "sealmd_queue_depth") == 0
    # A non-streaming client that gives up cancels too (SmolLM2 needs several seconds for
    # 200 tokens; the cancel must come long before that).
    s = socket.socket(socket.AF_UNIX)
    s.connect(daemon.sock)
    body = json.dumps({"model": "smol", "messages": [{"role": "user", "content": "Tell me a long story."}],
                       "max_tokens": 200, "temperature": 0, "logit_bias": {"2": -100}}).encode()
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEYS["admin"][0].encode() +
              b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    time.sleep(0.5)
    s.close()
    end = time.time() + 3
    while time.time() < end and metric(http, "sealmd_cancelled_total") <= before + 1:
        time.sleep(0.1)
    assert metric(http, "sealmd_cancelled_total") == before + 2


def test_logs_are_structured_and_hold_no_text(daemon, http):
    secret = "zebra-quokka-marmalade"
    post(http, "/v1/completions", {"model": "stories", "prompt": secret, "max_tokens": 2})
    time.sleep(0.2)
    lines = [json.loads(l) for l in daemon.logs().splitlines() if l.startswith("{")]
    reqs = [l for l in lines if l.get("msg") == "request"]
    assert reqs and all({"request_id", "key_id", "status", "decision", "latency_ms"} <= set(l) for l in reqs)
    assert any(l["decision"] == "invalid_api_key" for l in reqs)
    assert secret not in daemon.logs()


def test_metrics(http):
    text = http.get("/metrics", headers=auth("admin")).text
    for name in ("sealmd_requests_total{code=\"200\"}", "sealmd_rejections_total{reason=", "sealmd_ttft_seconds_bucket",
                 "sealmd_token_latency_seconds_count", "sealmd_prompt_tokens_total", "sealmd_completion_tokens_total",
                 "sealmd_queue_depth"):
        assert name in text, name
    assert metric(http, "sealmd_completion_tokens_total") > 0


# ---- load: fairness and no lost requests ----

def rss_kib(pid):
    return int(status_field(pid, "VmRSS")[0])


def sse_events(sock):
    """Yields (arrival time, parsed event or "[DONE]") from a raw HTTP/1.1 SSE response."""
    buf = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return
        now = time.time()
        buf += chunk
        while b"\n\n" in buf:
            ev, buf = buf.split(b"\n\n", 1)
            i = ev.find(b"data: ")
            if i < 0:
                continue
            payload = ev[i + 6:].strip()
            yield now, "[DONE]" if payload == b"[DONE]" else json.loads(payload)


def test_load_fair_interleaving(daemon):
    n = 16
    front, (worker,) = daemon.proc.pid, children(daemon.proc.pid)
    rss_before = rss_kib(front) + rss_kib(worker)
    results = [None] * n
    # Connections are opened first and the requests released together, so that what is
    # measured is the server's scheduling, not the clients' start-up.
    barrier = threading.Barrier(n)

    def client(i):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(120)
        s.connect(daemon.sock)
        body = json.dumps({"model": "stories", "prompt": f"Story {i}:", "max_tokens": 160, "temperature": 0,
                           "stream": True}).encode()
        barrier.wait()
        sent = time.time()
        s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEYS["admin"][0].encode() +
                  b"\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
                  str(len(body)).encode() + b"\r\n\r\n" + body)
        first, count, done = None, 0, False
        for t, ev in sse_events(s):
            if ev == "[DONE]":
                done = True
                break
            if ev["choices"][0]["text"]:
                count += 1
                first = first or t
        s.close()
        results[i] = (sent, first, time.time(), count, done)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(r is not None and r[4] and r[1] for r in results), results   # none lost
    t0 = min(r[0] for r in results)
    firsts = sorted(r[1] - t0 for r in results)
    ends = [r[2] - t0 for r in results]
    # Round-robin decoding: every stream got its first token before any stream finished.
    assert max(firsts) < min(ends), (firsts, ends)
    # No growth beyond the per-connection thread stacks and allocator caches.
    rss_after = rss_kib(front) + rss_kib(worker)
    assert rss_after - rss_before < 64 * 1024, (rss_before, rss_after)
    toks = sum(r[3] for r in results)
    ttft = sorted(r[1] - r[0] for r in results)
    print(f"\nload: {n} streams, {toks} tokens in {max(ends):.2f} s = {toks / max(ends):.1f} tok/s; "
          f"TTFT p50 {ttft[n // 2] * 1000:.0f} ms p99 {ttft[-1] * 1000:.0f} ms; RSS {rss_before} -> {rss_after} KiB")


# ---- TLS and mTLS ----

def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(world):
    d = world / "pki"
    d.mkdir()
    d.chmod(0o755)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
            "-out", "ca.pem", "-subj", "/CN=sealmd test CA", "-days", "2", cwd=d)
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth"),
                      ("client", "extendedKeyUsage=clientAuth")):
        (d / f"{name}.ext").write_text(ext + "\n")
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f"{name}.key",
                "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=d)
    # A client certificate from another CA must be refused as well.
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
            "rogue.key", "-out", "rogue.pem", "-subj", "/CN=rogue", "-days", "2", cwd=d)
    return d


def tls_client(pki, cert=None, timeout=10):
    ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    if cert:
        ctx.load_cert_chain(str(pki / f"{cert}.pem"), str(pki / f"{cert}.key"))
    return httpx2.Client(verify=ctx, timeout=timeout)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(scope="module")
def tls_daemon(world, pki):
    port = free_port()
    listen = {"tcp": {"host": "127.0.0.1", "port": port, "cert": str(pki / "server.pem"), "key": str(pki / "server.key"),
                      "client_ca": str(pki / "ca.pem")}}
    cfg = make_config(world, listen=listen)
    cfg["models"][1]["logprobs"] = False   # the per-model switch, checked in test_mtls
    dm = Daemon(world, cfg, name="tls.json")
    dm.url = f"https://127.0.0.1:{port}"
    try:
        with tls_client(pki, "client") as c:
            dm.wait_ready(lambda: c.get(dm.url + "/health").status_code == 200)
        yield dm
    finally:
        dm.stop()


def test_mtls(tls_daemon, pki):
    with tls_client(pki, "client", timeout=60) as c:
        r = c.post(tls_daemon.url + "/v1/completions", headers=auth("basic"),
                   json={"model": "stories", "prompt": "Once", "max_tokens": 3})
        assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] == 3
        r = c.post(tls_daemon.url + "/v1/chat/completions", headers=auth("admin"),
                   json={"model": "smol", "messages": [{"role": "user", "content": "hi"}], "logprobs": True})
        assert_error(r, 403, "logprobs_disabled")
    for cert in (None, "rogue"):
        with tls_client(pki, cert) as c:
            try:
                r = c.get(tls_daemon.url + "/v1/models", headers=auth("admin"))
            except httpx2.HTTPError:
                continue   # refused in the handshake
            assert_error(r, 401, "client_certificate_required")
    # plain HTTP on the TLS port gets nothing useful
    with httpx2.Client(timeout=5) as c:
        with pytest.raises(httpx2.HTTPError):
            c.get(tls_daemon.url.replace("https", "http") + "/health")


def test_schemathesis(tls_daemon, pki, world):
    # The published spec leaves "model" open (it depends on the deployment); pin it to the
    # served model so that generated requests reach generation, not just the 404 path.
    import yaml
    spec = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())
    for name in ("ChatRequest", "CompletionRequest"):
        spec["components"]["schemas"][name]["properties"]["model"] = {"type": "string", "enum": ["stories"]}
        spec["components"]["schemas"][name]["properties"]["max_tokens"]["maximum"] = 16
    spec_path = world / "openapi.json"
    spec_path.write_text(json.dumps(spec))
    r = subprocess.run(["schemathesis", "run", str(spec_path), "--url", tls_daemon.url,
                        "-H", f"Authorization: Bearer {KEYS['admin'][0]}", "--tls-verify", str(pki / "ca.pem"),
                        "--request-cert", str(pki / "client.pem"), "--request-cert-key", str(pki / "client.key"),
                        "-c", "not_a_server_error,status_code_conformance,content_type_conformance",
                        "-n", "40", "--phases", "examples,fuzzing", "--no-color"],
                       capture_output=True, text=True, timeout=300, cwd=world)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
    print(r.stdout[-1500:])
    assert tls_daemon.proc.poll() is None


# ---- shutdown ----

def test_sigterm_drains(world):
    cfg = make_config(world, listen={"unix": {"path": str(world / "drain.sock"), "mode": "0666"}}, drain_seconds=60)
    cfg["models"] = cfg["models"][1:]   # SmolLM2: slow enough that the stream is mid-way at SIGTERM
    dm = Daemon(world, cfg, name="drain.json")
    try:
        with uds_client(dm.sock) as c:
            dm.wait_ready(lambda: c.get("/health").status_code == 200)
        drain_checks(dm)
    finally:
        dm.stop()


def drain_checks(dm):
    out, started = {}, threading.Event()

    def client():
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(120)
        s.connect(dm.sock)
        body = json.dumps({"model": "smol", "messages": [{"role": "user", "content": "Tell me a long story."}],
                           "max_tokens": 48, "stream": True}).encode()
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                  KEYS["admin"][0].encode() + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        evs = []
        for t, ev in sse_events(s):
            started.set()
            evs.append((t, ev))
            if ev == "[DONE]":
                break
        out["events"] = evs

    t = threading.Thread(target=client)
    t.start()
    assert started.wait(60)
    term_at = time.time()
    dm.proc.send_signal(signal.SIGTERM)
    t.join(90)
    assert dm.proc.wait(30) == 0
    evs = out["events"]
    assert evs[-1][1] == "[DONE]"
    assert evs[-2][1]["choices"][0]["finish_reason"] in ("length", "stop")   # drained: finished, not cancelled
    assert sum(1 for when, _ in evs if when > term_at) > 1           # tokens kept coming after SIGTERM
    assert socket.socket(socket.AF_UNIX).connect_ex(dm.sock) != 0   # no longer accepting
