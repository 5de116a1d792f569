"""Shared fixtures for the end-to-end tests: they drive the real `sealm` binary."""
import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("SEALM_SHARED_DIR", ROOT.parent / "shared"))
MODELS = Path(os.environ.get("SEALM_MODELS_DIR", ROOT / "models"))
SMOLLM2 = MODELS / "SmolLM2-135M-Instruct.Q4_1.gguf"


def sealm_bin() -> str:
    b = os.environ.get("SEALM_BIN", str(ROOT / "build" / "sealm"))
    if not Path(b).exists():
        pytest.fail(f"sealm binary not found at {b}: build first (cmake --build build)")
    return b


def run(*args, input_text=None, timeout=600, check=True, env=None):
    """Runs sealm with args (env: extra environment variables); returns the CompletedProcess."""
    full_env = dict(os.environ, **env) if env else None
    p = subprocess.run([sealm_bin(), *map(str, args)], input=input_text, capture_output=True,
                       text=True, timeout=timeout, env=full_env)
    if check and p.returncode != 0:
        raise AssertionError(f"sealm {' '.join(map(str, args))} exited {p.returncode}\nstderr:\n{p.stderr}")
    return p


def run_json(*args, **kw):
    return json.loads(run(*args, **kw).stdout)


@pytest.fixture(scope="session")
def smollm2() -> Path:
    if not SMOLLM2.exists():
        pytest.fail(f"{SMOLLM2} is missing: run scripts/fetch_model.sh (setup does it)")
    return SMOLLM2


def sealmd_bin() -> str:
    """The sealmd daemon (CTest sets SEALMD_BIN; empty when the server layer is not built)."""
    b = os.environ.get("SEALMD_BIN") or str(ROOT / "build" / "sealmd")
    if not Path(b).exists():
        pytest.fail(f"sealmd binary not found at {b}: build first (cmake --build build)")
    return b
