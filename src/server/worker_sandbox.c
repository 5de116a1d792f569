/* sealmd worker — the lock-down applied after loading: no new privileges, no core dumps,
 * not ptrace-able by other users' processes, and a seccomp-bpf allowlist built with
 * libseccomp (Linux Documentation/userspace-api/seccomp_filter.rst). What is allowed is what
 * serving frames needs once models, contexts and thread pools exist; see include/sealm/server.h
 * for the list and why the default answers EPERM while the hostile calls kill. */
#include "sealm/server.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define WORKER_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WORKER_UNDER_ASAN 1
#endif
#endif

/* Calls that no serving path makes: after load they can only come from an attacker who got
 * code running in the worker, so they end the process. Under ASan they answer EPERM instead,
 * because the sanitizer's own error reporting reads /proc and may fork a symbolizer. */
#ifndef WORKER_UNDER_ASAN
static const int worker_hostile_syscalls[] = {
    SCMP_SYS(open), SCMP_SYS(openat), SCMP_SYS(openat2), SCMP_SYS(creat),
    SCMP_SYS(execve), SCMP_SYS(execveat), SCMP_SYS(socket), SCMP_SYS(socketpair),
    SCMP_SYS(connect), SCMP_SYS(bind), SCMP_SYS(listen), SCMP_SYS(accept), SCMP_SYS(accept4),
    SCMP_SYS(ptrace), SCMP_SYS(process_vm_readv), SCMP_SYS(process_vm_writev),
    SCMP_SYS(fork), SCMP_SYS(vfork),
};
#endif

/* Calls allowed with any arguments: none of them names a file or a peer. */
static const int worker_allowed_syscalls[] = {
    SCMP_SYS(read), SCMP_SYS(readv), SCMP_SYS(recvmsg), SCMP_SYS(recvfrom),
    SCMP_SYS(write), SCMP_SYS(writev), SCMP_SYS(sendmsg), SCMP_SYS(sendto),
    SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(close), SCMP_SYS(fstat),
    SCMP_SYS(futex), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise),
    SCMP_SYS(mlock), SCMP_SYS(munlock), SCMP_SYS(brk),
    SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep),
    SCMP_SYS(sched_yield), SCMP_SYS(sched_getaffinity), SCMP_SYS(gettid), SCMP_SYS(getpid),
    SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn), SCMP_SYS(sigaltstack), SCMP_SYS(set_robust_list),
    SCMP_SYS(rseq), SCMP_SYS(restart_syscall),
    SCMP_SYS(getrandom), SCMP_SYS(exit), SCMP_SYS(exit_group),
};

static sealm_status sandbox_fail(sealm_error *err, const char *what, int rc)
{
    return sealm_error_set(err, SEALM_E_PERMISSION, "worker sandbox: %s failed: %s", what, strerror(rc));
}

/* Adds the rules; returns 0 or a negative errno from libseccomp. */
static int sandbox_add_rules(scmp_filter_ctx ctx)
{
    int rc = 0;
#ifndef WORKER_UNDER_ASAN
    /* (Under ASan these fall to the default EPERM; libseccomp refuses a rule whose action
     * equals the default, so they are not added at all.) */
    for (size_t i = 0; !rc && i < sizeof worker_hostile_syscalls / sizeof *worker_hostile_syscalls; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, worker_hostile_syscalls[i], 0);
    if (!rc)
        rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0));
#endif
    for (size_t i = 0; !rc && i < sizeof worker_allowed_syscalls / sizeof *worker_allowed_syscalls; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, worker_allowed_syscalls[i], 0);
    /* Memory may be mapped and re-protected, but never made executable: no new code. */
    if (!rc)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    if (!rc)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    /* glibc's fstat() is newfstatat(fd, "", buf, AT_EMPTY_PATH): allow only that form, which
     * names no path. */
    if (!rc)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(newfstatat), 1,
                              SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH));
    /* New threads (the engine's pools are created before the filter, but glibc may still start
     * one) but never a new process: clone must carry CLONE_THREAD. */
    if (!rc)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
    /* clone3 passes its flags in memory the filter cannot read: refuse it softly so that
     * glibc falls back to clone, whose flags are checked above. */
    if (!rc)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    /* abort() signals its own process only. */
    if (!rc)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid(), 0));
    return rc;
}

sealm_status sealm_worker_sandbox_apply(sealm_error *err)
{
    /* no_new_privs first: it is what lets an unprivileged process install a filter, and it
     * makes setuid binaries powerless should anything ever be executed. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return sandbox_fail(err, "prctl(PR_SET_NO_NEW_PRIVS)", errno);
    /* Not dumpable: no core file with plaintext weights, no ptrace attach by same-uid processes,
     * /proc/PID/mem readable by root only. */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        return sandbox_fail(err, "prctl(PR_SET_DUMPABLE)", errno);
    const struct rlimit no_core = {0, 0};
    if (setrlimit(RLIMIT_CORE, &no_core) != 0)
        return sandbox_fail(err, "setrlimit(RLIMIT_CORE)", errno);

    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
    if (!ctx)
        return sealm_error_set(err, SEALM_E_PERMISSION, "worker sandbox: seccomp_init failed");
    int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);   /* every thread of the pools too */
    if (!rc)
        rc = sandbox_add_rules(ctx);
    if (!rc)
        rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc)
        return sandbox_fail(err, "installing the seccomp filter", -rc);
    return SEALM_OK;
}
