#!/usr/bin/env bash
# setup.sh — the one setup command for sealm on a fresh Debian 12 machine.
#
#   bash scripts/setup.sh              install deps, fetch the model, build Release, answer one question
#   bash scripts/setup.sh --deps-only  install deps and fetch the model only (used by scripts/test.sh)
#
# Runs from any directory, as root or as a user with sudo. Every step is idempotent:
# installed packages are not reinstalled, a verified model is not downloaded again, and
# the CMake build is incremental.
#
# Environment:
#   PYTHON   interpreter that gets the test tooling (default: python3 on PATH)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
JOBS="$(nproc 2>/dev/null || echo 2)"
MODEL="models/SmolLM2-135M-Instruct.Q4_1.gguf"

# Debian packages: compiler and CMake; the libraries sealm links (PCRE2, libsodium, jansson,
# utf8proc, tpm2-tss for the TPM key provider and NV counter, libmicrohttpd with GnuTLS for
# sealmd, libseccomp for its worker sandbox); the unit-test library (cmocka); clang with its
# runtime for the libFuzzer targets; python for the end-to-end tests and the model download;
# and the tools the tests drive: strace (no plaintext model byte is written anywhere), swtpm
# (a software TPM the TPM tests start themselves) and tpm2-tools (reads its NV counter
# independently of sealm), minisign (checks our detached signatures),
# curl (raw SSE against sealmd), openssl (test certificates for mTLS).
APT_PACKAGES=(
    build-essential cmake pkg-config git ca-certificates
    libpcre2-dev libsodium-dev libjansson-dev libutf8proc-dev
    libtss2-dev libmicrohttpd-dev libgnutls28-dev libseccomp-dev
    libcmocka-dev
    clang libclang-rt-14-dev
    python3 python3-pip python3-venv
    strace swtpm swtpm-tools tpm2-tools minisign curl openssl
)
# Python test tooling, pinned so every machine runs the same versions: pytest for the
# end-to-end tests, numpy for logit comparisons, the OpenAI SDK as a real sealmd client,
# schemathesis to fuzz sealmd against docs/openapi.yaml.
PIP_PACKAGES=(pytest==9.2.0 numpy==2.4.6 openai==3.54.0 schemathesis==4.32.5)

DEPS_ONLY=0
usage() { sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
for arg in "$@"; do
    case "$arg" in
        --deps-only) DEPS_ONLY=1 ;;
        -h|--help) usage; exit 0 ;;
        *) printf 'setup.sh: unknown option %s\n\n' "$arg" >&2; usage >&2; exit 2 ;;
    esac
done

log() { printf '\n[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

# Root runs commands directly; anyone else goes through sudo.
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "not root and sudo is not installed: run this script as root"
    SUDO=(sudo)
fi

install_apt_packages() {
    local missing=() p
    for p in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        log "apt: all ${#APT_PACKAGES[@]} build packages already installed"
        return 0
    fi
    log "apt: installing ${missing[*]}"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

# Install the pinned test tooling into $PYTHON. Debian's system python is "externally
# managed" (PEP 668) and refuses plain `pip install`; there we pass
# --break-system-packages. A pyenv or virtualenv python needs no flag. A non-root user
# outside a virtualenv installs with --user.
install_pip_packages() {
    command -v "$PYTHON" >/dev/null 2>&1 || die "'$PYTHON' not found after the apt step"
    local flags=(--disable-pip-version-check)
    local in_venv managed
    in_venv="$("$PYTHON" -c 'import sys; print(int(sys.prefix != sys.base_prefix))')"
    managed="$("$PYTHON" -c 'import os, sysconfig; print(int(os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"))))')"
    if [ "$in_venv" = 0 ] && [ "$managed" = 1 ]; then
        flags+=(--break-system-packages)
    fi
    if [ "$in_venv" = 0 ] && [ "$(id -u)" -ne 0 ]; then
        flags+=(--user)
    fi
    log "pip: installing ${PIP_PACKAGES[*]} into $("$PYTHON" -c 'import sys; print(sys.executable)') ${flags[*]}"
    "$PYTHON" -m pip install "${flags[@]}" "${PIP_PACKAGES[@]}"
}

fetch_model() {
    log "model: fetching $MODEL"
    PYTHON="$PYTHON" bash "$ROOT/scripts/fetch_model.sh"
}

build_release() {
    local py
    py="$("$PYTHON" -c 'import sys; print(sys.executable)')"
    log "build: CMake Release into $ROOT/build (-j$JOBS)"
    cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=Release -DPython3_EXECUTABLE="$py"
    cmake --build "$ROOT/build" -j "$JOBS"
}

# The main job: the default model answers a question through its chat template, greedily.
# The system message is given explicitly: with SmolLM2's built-in default system prompt the
# Q4_1 build of this 135M model derails on this question (llama.cpp computes the same).
run_demo() {
    local system="You are a helpful assistant."
    log "demo: build/sealm generate -m $MODEL --chat --system \"$system\" -p \"What is the capital of France?\" -n 64 --temp 0"
    cd "$ROOT"
    build/sealm generate -m "$MODEL" --chat --system "$system" -p "What is the capital of France?" -n 64 --temp 0
}

install_apt_packages
install_pip_packages
fetch_model
if [ "$DEPS_ONLY" = 1 ]; then
    log "done (--deps-only): dependencies installed, model verified"
    exit 0
fi
build_release
run_demo
log "done"
