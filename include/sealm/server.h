/* sealm server layer — sealmd, the local inference service (issue 4).
 *
 * Two processes: the front (HTTP, config, auth, metrics) and the inference worker, which
 * alone loads keys and plaintext weights, then locks itself down with seccomp-bpf. They talk
 * over a socketpair(AF_UNIX, SOCK_SEQPACKET) with the length-checked frames of
 * src/server/ipc.h. Each helper section below is owned by one part of the layer. */
#ifndef SEALM_SERVER_H
#define SEALM_SERVER_H

#include <jansson.h>

#include "sealm/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- worker (src/server/worker*.c) ---- */

/* Runs the inference worker on fd, one end of a SOCK_SEQPACKET socketpair whose other end
 * the front holds. Call it in a freshly forked child and _exit() with its result afterwards
 * (exit() would run the parent's atexit handlers and, under LeakSanitizer, a leak check that
 * the sandbox forbids).
 *
 * Steps: closes every inherited descriptor except 0, 1, 2 and fd; loads every entry of models (a JSON array, validated by the front; borrowed) —
 * a sealed bundle through the trust store, device key (optionally passphrase-protected),
 * anti-rollback state and sealm_bundle_open_file into locked memory, or, only when the entry
 * says "allow_plain": true, a plain GGUF file mapped read-only; builds the model, tokenizer
 * and max_parallel engine contexts of n_ctx tokens with `threads` threads each (0 = physical
 * cores); then applies sealm_worker_sandbox_apply(), sends HELLO and serves GENERATE, CANCEL
 * and SHUTDOWN frames until SHUTDOWN (after draining) or end of file.
 * limits (borrowed JSON object): "max_prompt_tokens" (default 2048) and "max_tokens"
 * (default 512) are enforced again here; other keys are ignored.
 *
 * Scheduling: per model a FIFO queue feeds up to max_parallel slots; each turn the worker
 * evaluates one step for every active slot in round-robin order — one decoded token, or a
 * prefill chunk of at most 128 prompt tokens — so a long prompt or generation never stalls the
 * others for more than one chunk. Frames are read between turns without blocking.
 * Sampling follows the OpenAI API: temperature (default 1), top_p (1), top_k (0 = off),
 * min_p (0), presence/frequency penalties, seed (null: random), stop strings (held back until
 * they cannot match), logit_bias (added to the logits), logprobs (only the natural-log
 * probability of the chosen token under the biased logits; never alternatives).
 * Chat messages are rendered with the model's chat template (or the entry's
 * "chat_template" name) with contents tokenized without special tokens; the entry's
 * "system_prompt" replaces the template's default system prompt.
 *
 * Returns SEALM_OK after SHUTDOWN or when the front closed its end; a loading error (the
 * codes of sealm_trust_load, sealm_key_load, sealm_bundle_rollback_open,
 * sealm_bundle_open_file, sealm_gguf_open_*, sealm_model_load, sealm_tokenizer_from_gguf,
 * sealm_context_new; also SEALM_E_INVALID for a bad models/limits entry) — in which case an
 * ERROR frame {"req": 0, "code": "internal", "message"} is sent first when possible;
 * SEALM_E_PERMISSION when the sandbox cannot be installed; SEALM_E_FORMAT on a protocol
 * error from the front; SEALM_E_IO when the socket fails.
 * Not thread-safe: one call per process. */
sealm_status sealm_worker_run(int fd, const json_t *models, const json_t *limits, sealm_error *err);

/* Locks the calling process down for serving (it is what sealm_worker_run does after
 * loading; public so that tests can check it in a forked child):
 * PR_SET_NO_NEW_PRIVS, PR_SET_DUMPABLE 0, RLIMIT_CORE 0, then a seccomp-bpf allowlist
 * (libseccomp) applied to all threads (SECCOMP_FILTER_FLAG_TSYNC).
 * Allowed: read/readv/recvmsg/recvfrom, write/writev/sendmsg/sendto, poll/ppoll, close,
 * fstat/newfstatat on a descriptor (AT_EMPTY_PATH), futex, mmap/mprotect without PROT_EXEC,
 * munmap/mremap/madvise/mlock/munlock, brk, clock_gettime/clock_nanosleep/nanosleep,
 * sched_yield/sched_getaffinity, gettid/getpid, rt_sigprocmask/rt_sigreturn/sigaltstack,
 * restart_syscall (a stopped and continued worker resumes its poll), tgkill of this
 * process, set_robust_list/rseq, getrandom, exit/exit_group, clone with
 * CLONE_THREAD only.
 * Killed (SCMP_ACT_KILL_PROCESS; only a compromised worker makes these): open, openat,
 * openat2, creat, execve, execveat, socket, socketpair, connect, bind, listen, accept/accept4,
 * ptrace, process_vm_readv/writev, fork/vfork, clone without CLONE_THREAD.
 * clone3 fails with ENOSYS (its flags cannot be inspected; glibc then falls back to clone).
 * Anything else fails with EPERM, so that an unforeseen harmless libc call degrades instead
 * of killing the service. In AddressSanitizer builds (compile-time __SANITIZE_ADDRESS__) the
 * kill list answers EPERM instead, so that the sanitizer's own reporting paths stay alive.
 * Irreversible. Returns SEALM_OK or SEALM_E_PERMISSION (prctl/setrlimit/seccomp refused,
 * message says which). */
sealm_status sealm_worker_sandbox_apply(sealm_error *err);

/* ---- end of worker section ---- */

/* ---- front (src/server/front.c, config.c, auth.c, http.c, api_*.c, metrics.c, log.c) ---- */

/* Runs the sealmd daemon with the JSON config file at config_path (reference: docs/sealmd.md)
 * until SIGTERM/SIGINT: forks the worker (sealm_worker_run) before anything else, binds the
 * Unix socket (created with the configured mode) and/or the TLS TCP listener, reads the TLS
 * PEM files, drops to the configured user when root (setgroups, setresgid, setresuid,
 * verified irreversible; PR_SET_DUMPABLE 0), waits up to startup_timeout_seconds for the
 * worker's HELLO, then serves the OpenAI-compatible HTTP API of docs/openapi.yaml.
 * SIGHUP re-reads the config file and replaces the API keys (rate-limit state kept per key
 * id); SIGTERM stops accepting, sends SHUTDOWN {drain_seconds} and waits for in-flight
 * requests at most drain_seconds + 5 s. Logs are JSON lines on stderr.
 * Returns SEALM_OK after a clean shutdown; errors: those of config loading (SEALM_E_IO,
 * SEALM_E_FORMAT, SEALM_E_INVALID), SEALM_E_IO (socket, fork, worker failed to start or
 * died), SEALM_E_PERMISSION (privilege drop failed), SEALM_E_NOMEM.
 * Not thread-safe: call once per process, from main(). */
sealm_status sealm_server_run(const char *config_path, sealm_error *err);

/* Parses and validates a config file without starting anything (sealmd --check-config).
 * Strict: unknown keys, wrong types and out-of-range values are refused, the message naming
 * the key. Opens no model or key file. Errors: SEALM_E_IO, SEALM_E_FORMAT, SEALM_E_INVALID,
 * SEALM_E_NOMEM. Thread-safe. */
sealm_status sealm_server_check_config(const char *path, sealm_error *err);

/* Writes the config form of an API key, "sha256:" + 64 lowercase hex digits of SHA-256
 * (FIPS 180-4) of the key text, NUL-terminated, into out (72 bytes). Thread-safe. */
void sealm_server_hash_key(const char *key, char out[72]);

/* ---- end of front section ---- */

#ifdef __cplusplus
}
#endif
#endif
