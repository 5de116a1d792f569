/* The TPM 2.0 provider and the TPM-backed anti-rollback state, against software TPMs (swtpm)
 * the test starts itself: a TPM-sealed device key works like a file key on its TPM and on no
 * other; the NV counter refuses an old copy of the state file, a deleted state file, and
 * completes a write that was interrupted between the file and the counter. A missing swtpm is
 * a failure, not a skip (scripts/setup.sh installs it). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sealm/bundle.h"
#include "sealm/keys.h"

/* One software TPM: its state folder, port and process. */
typedef struct swtpm {
    char dir[128];
    int port;
    pid_t pid;
    char tcti[96];
} swtpm;

static char tmpdir[64];

static void swtpm_start(swtpm *t) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char state[160], server[64], ctrl[64];
        snprintf(state, sizeof state, "dir=%s", t->dir);
        snprintf(server, sizeof server, "type=tcp,port=%d", t->port);
        snprintf(ctrl, sizeof ctrl, "type=tcp,port=%d", t->port + 1);
        freopen("/dev/null", "w", stderr);
        execlp("swtpm", "swtpm", "socket", "--tpm2", "--tpmstate", state, "--server", server, "--ctrl", ctrl,
               "--flags", "not-need-init,startup-clear", (char *)NULL);
        _exit(127);
    }
    t->pid = pid;
    snprintf(t->tcti, sizeof t->tcti, "swtpm:host=127.0.0.1,port=%d", t->port);
    /* Wait until it answers: reading a counter that does not exist is a cheap probe. */
    for (int i = 0; i < 100; i++) {
        uint64_t v;
        bool created;
        sealm_error err = {0};
        sealm_status st = sealm_tpm_counter_read(t->tcti, SEALM_TPM_NV_INDEX_MAX, false, &v, &created, &err);
        if (st != SEALM_E_IO) return;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid)
            fail_msg("swtpm exited at start (status %d): is it installed? scripts/setup.sh installs it", status);
        usleep(50 * 1000);
    }
    fail_msg("swtpm on port %d did not answer", t->port);
}

static void swtpm_stop(swtpm *t) {
    if (t->pid > 0) {
        kill(t->pid, SIGTERM);
        waitpid(t->pid, NULL, 0);
        t->pid = 0;
    }
}

static void swtpm_new(swtpm *t, const char *name, int port_offset) {
    snprintf(t->dir, sizeof t->dir, "%s/%s", tmpdir, name);
    assert_int_equal(mkdir(t->dir, 0700), 0);
    t->port = 20000 + (int)(getpid() % 20000) + port_offset;
    swtpm_start(t);
}

static swtpm A, B;

static int setup(void **state) {
    (void)state;
    assert_true(sodium_init() >= 0);
    setenv("TSS2_LOG", "all+NONE", 0);   /* the expected TPM refusals below would log otherwise */
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sealm-tpm-test.XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    swtpm_new(&A, "tpm-a", 0);
    swtpm_new(&B, "tpm-b", 2);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    swtpm_stop(&A);
    swtpm_stop(&B);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *path_in(const char *name) {
    static char buf[8][160];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", tmpdir, name);
    return p;
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void test_sealed_device_key(void **state) {
    (void)state;
    sealm_error err = {0};
    char *sec = path_in("dev.key"), *pub = path_in("dev.pub");
    assert_int_equal(sealm_keygen_tpm(A.tcti, sec, pub, &err), SEALM_OK);
    const char *text = read_text(sec);
    assert_non_null(strstr(text, "tpm-private: "));
    assert_null(strstr(text, "secret: "));   /* the secret is not in the file */

    unsetenv("SEALM_TPM_TCTI");
    sealm_key *k = NULL;
    assert_int_equal(sealm_key_load(sec, NULL, &k, &err), SEALM_OK);
    uint8_t pk[32], file_pk[32];
    sealm_key_kind kind;
    sealm_key_public(k, pk);
    assert_int_equal(sealm_pubkey_load(pub, &kind, file_pk, &err), SEALM_OK);
    assert_memory_equal(pk, file_pk, 32);

    /* it opens a sealed box addressed to it, and derives the same secret on every load */
    uint8_t msg[32], box[32 + crypto_box_SEALBYTES], out[32], d1[32], d2[32];
    randombytes_buf(msg, sizeof msg);
    assert_int_equal(crypto_box_seal(box, msg, sizeof msg, pk), 0);
    assert_int_equal(sealm_key_unseal(k, box, sizeof box, out, &err), SEALM_OK);
    assert_memory_equal(out, msg, 32);
    assert_int_equal(sealm_key_derive(k, "test context", d1, &err), SEALM_OK);
    sealm_key_free(k);
    assert_int_equal(sealm_key_load(sec, NULL, &k, &err), SEALM_OK);
    assert_int_equal(sealm_key_derive(k, "test context", d2, &err), SEALM_OK);
    assert_memory_equal(d1, d2, 32);
    sealm_key_free(k);

    /* another TPM (another seed) cannot load the blob */
    setenv("SEALM_TPM_TCTI", B.tcti, 1);
    k = NULL;
    assert_int_equal(sealm_key_load(sec, NULL, &k, &err), SEALM_E_AUTH);
    assert_null(k);
    assert_non_null(strstr(err.message, "another TPM"));
    /* no TPM at all */
    setenv("SEALM_TPM_TCTI", "swtpm:host=127.0.0.1,port=1", 1);
    assert_int_equal(sealm_key_load(sec, NULL, &k, &err), SEALM_E_IO);
    unsetenv("SEALM_TPM_TCTI");

    /* a modified blob is refused */
    char *tampered = path_in("tampered.key");
    char *copy = strdup(read_text(sec));
    char *line = strstr(copy, "tpm-private: ");
    assert_non_null(line);
    line[20] = line[20] == 'A' ? 'B' : 'A';
    FILE *f = fopen(tampered, "wb");
    assert_non_null(f);
    fputs(copy, f);
    fclose(f);
    chmod(tampered, 0600);
    free(copy);
    sealm_status st = sealm_key_load(tampered, NULL, &k, &err);
    assert_true(st == SEALM_E_AUTH || st == SEALM_E_FORMAT);
    assert_null(k);

    /* keygen refuses a bad TCTI and never overwrites */
    assert_int_equal(sealm_keygen_tpm("has space", path_in("x.key"), path_in("x.pub"), &err), SEALM_E_INVALID);
    assert_int_equal(sealm_keygen_tpm(A.tcti, sec, path_in("y.pub"), &err), SEALM_E_IO);
}

static sealm_bundle_rollback *open_tpm(const char *path, sealm_status want) {
    uint8_t key[32];
    memset(key, 0x33, sizeof key);
    sealm_bundle_rollback *r = NULL;
    sealm_error err = {0};
    sealm_status st = sealm_bundle_rollback_open_tpm(path, key, A.tcti, SEALM_TPM_NV_ROLLBACK_INDEX, &r, &err);
    if (st != want) fail_msg("open: expected %s, got %s (%s)", sealm_status_name(want), sealm_status_name(st), err.message);
    if (want != SEALM_OK) {
        assert_null(r);
        assert_true(strlen(err.message) > 20);
    }
    return r;
}

static void copy_file(const char *from, const char *to) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "cp -p '%s' '%s'", from, to);
    assert_int_equal(system(cmd), 0);
}

static void test_rollback_counter(void **state) {
    (void)state;
    sealm_error err = {0};
    char *st_path = path_in("state.bin"), *old = path_in("state.v1");
    sealm_bundle_rollback *r = open_tpm(st_path, SEALM_OK);   /* defines the counter */
    assert_int_equal(sealm_bundle_rollback_accept(r, "m", 1, &err), SEALM_OK);
    sealm_bundle_rollback_free(r);
    copy_file(st_path, old);

    r = open_tpm(st_path, SEALM_OK);
    assert_int_equal(sealm_bundle_rollback_floor(r, "m"), 1);
    assert_int_equal(sealm_bundle_rollback_accept(r, "m", 2, &err), SEALM_OK);
    assert_int_equal(sealm_bundle_rollback_accept(r, "m", 1, &err), SEALM_E_ROLLBACK);
    sealm_bundle_rollback_free(r);

    /* an old copy of the state file (valid MAC, floor 1) is refused: the TPM moved on */
    copy_file(st_path, path_in("state.v2"));
    copy_file(old, st_path);
    open_tpm(st_path, SEALM_E_ROLLBACK);
    /* so is deleting it */
    unlink(st_path);
    open_tpm(st_path, SEALM_E_ROLLBACK);
    copy_file(path_in("state.v2"), st_path);
    r = open_tpm(st_path, SEALM_OK);
    assert_int_equal(sealm_bundle_rollback_floor(r, "m"), 2);

    /* A write interrupted between the file and the counter: the TPM goes away after the open,
     * the file is written (one ahead), the increment fails. The next open completes it. */
    swtpm_stop(&A);
    assert_int_not_equal(sealm_bundle_rollback_accept(r, "m", 3, &err), SEALM_OK);
    sealm_bundle_rollback_free(r);
    swtpm_start(&A);
    r = open_tpm(st_path, SEALM_OK);
    assert_int_equal(sealm_bundle_rollback_floor(r, "m"), 3);
    sealm_bundle_rollback_free(r);
    r = open_tpm(st_path, SEALM_OK);   /* and it stays consistent */
    sealm_bundle_rollback_free(r);
    copy_file(path_in("state.v2"), st_path);
    open_tpm(st_path, SEALM_E_ROLLBACK);

    /* a TPM-bound file cannot be opened without its TPM */
    uint8_t key[32];
    memset(key, 0x33, sizeof key);
    r = NULL;
    assert_int_equal(sealm_bundle_rollback_open(st_path, key, &r, &err), SEALM_E_INVALID);
    assert_null(r);

    /* the counter itself only goes up */
    uint64_t a = 0, b = 0;
    bool created = true;
    assert_int_equal(sealm_tpm_counter_read(A.tcti, SEALM_TPM_NV_ROLLBACK_INDEX, false, &a, &created, &err), SEALM_OK);
    assert_false(created);
    assert_int_equal(sealm_tpm_counter_increment(A.tcti, SEALM_TPM_NV_ROLLBACK_INDEX, &b, &err), SEALM_OK);
    assert_int_equal(b, a + 1);
    assert_int_equal(sealm_tpm_counter_read(A.tcti, 0x01000001u, false, &a, &created, &err), SEALM_E_NOT_FOUND);
    assert_int_equal(sealm_tpm_counter_read(A.tcti, 0x02000000u, false, &a, &created, &err), SEALM_E_INVALID);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sealed_device_key),
        cmocka_unit_test(test_rollback_counter),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
