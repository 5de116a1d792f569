/* sealmd front — the daemon's life: config, the worker fork, listening sockets, privilege
 * drop, the reader thread that routes worker frames to waiting requests, signals (SIGHUP
 * reloads keys, SIGTERM drains) and shutdown.
 *
 * Order matters for privilege separation: the worker is forked first, before the front
 * binds any socket or reads any TLS file, so it inherits nothing network-facing; then the
 * front binds (possibly privileged paths/ports), reads its TLS material and drops to the
 * configured user before it parses a single byte from a client. */
#include "sealm/server.h"
#include "server/front.h"
#include "server/ipc.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

static struct {
    int fd;                       /* our end of the socketpair */
    pthread_mutex_t lock;
    pthread_cond_t cond;          /* HELLO arrived or the worker went away */
    front_pending *pending;       /* requests waiting for frames */
    uint64_t next_req;
    bool ready, gone;
    bool stopping;                /* SHUTDOWN sent: the worker's exit is expected */
    json_t *hello_models;
    char load_error[512];
} W = {.fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER, .next_req = 1};

double front_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void abs_deadline(double timeout_s, struct timespec *ts)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    double t = (double)ts->tv_sec + ts->tv_nsec / 1e9 + timeout_s;
    ts->tv_sec = (time_t)t;
    ts->tv_nsec = (long)((t - (double)ts->tv_sec) * 1e9);
}

static void cond_init_monotonic(pthread_cond_t *c)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
}

/* ---- relay ---- */

bool front_worker_ready(void)
{
    pthread_mutex_lock(&W.lock);
    bool r = W.ready && !W.gone;
    pthread_mutex_unlock(&W.lock);
    return r;
}

const json_t *front_worker_models(void)
{
    return W.hello_models;   /* set once before the HTTP daemon starts, never changed */
}

static void push_event(front_pending *p, int kind, json_t *body)
{
    front_event *e = calloc(1, sizeof *e);
    if (!e) {
        json_decref(body);
        return;
    }
    e->kind = kind;
    e->body = body;
    e->t = front_now();
    pthread_mutex_lock(&p->lock);
    if (p->tail)
        p->tail->next = e;
    else
        p->head = e;
    p->tail = e;
    if (kind != EV_TOKEN)
        p->finished = true;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

front_pending *front_relay_start(json_t *generate, sealm_error *err)
{
    front_pending *p = calloc(1, sizeof *p);
    if (!p) {
        sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    cond_init_monotonic(&p->cond);
    pthread_mutex_lock(&W.lock);
    if (W.gone || !W.ready) {
        pthread_mutex_unlock(&W.lock);
        sealm_error_set(err, SEALM_E_IO, "the inference worker is not running");
        free(p);
        return NULL;
    }
    p->req = W.next_req++;
    p->next = W.pending;
    W.pending = p;
    pthread_mutex_unlock(&W.lock);
    json_object_set_new(generate, "req", json_integer((json_int_t)p->req));
    if (sealm_ipc_send(W.fd, SEALM_IPC_GENERATE, generate, err) != SEALM_OK) {
        p->finished = true;   /* nothing to cancel */
        front_relay_end(p);
        return NULL;
    }
    p->counted = true;
    front_metrics_inflight(+1);
    return p;
}

front_event *front_relay_next(front_pending *p, double timeout_s)
{
    struct timespec dl;
    abs_deadline(timeout_s, &dl);
    pthread_mutex_lock(&p->lock);
    while (!p->head && !p->worker_gone)
        if (pthread_cond_timedwait(&p->cond, &p->lock, &dl) == ETIMEDOUT)
            break;
    front_event *e = p->head;
    if (e) {
        p->head = e->next;
        if (!p->head)
            p->tail = NULL;
    }
    pthread_mutex_unlock(&p->lock);
    return e;
}

void front_event_free(front_event *e)
{
    if (e) {
        json_decref(e->body);
        free(e);
    }
}

void front_relay_cancel(front_pending *p)
{
    json_t *c = json_pack("{s:I}", "req", (json_int_t)p->req);
    sealm_error err;
    if (c)
        sealm_ipc_send(W.fd, SEALM_IPC_CANCEL, c, &err);
    json_decref(c);
}

void front_relay_end(front_pending *p)
{
    pthread_mutex_lock(&W.lock);
    for (front_pending **pp = &W.pending; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    pthread_mutex_unlock(&W.lock);
    if (!p->finished && !p->worker_gone) {
        /* The client went away (or timed out): free the worker's slot for someone else. */
        json_t *c = json_pack("{s:I}", "req", (json_int_t)p->req);
        sealm_error err;
        if (c)
            sealm_ipc_send(W.fd, SEALM_IPC_CANCEL, c, &err);
        json_decref(c);
        front_metrics_cancelled();
    }
    if (p->counted)
        front_metrics_inflight(-1);
    front_event *e = p->head;
    while (e) {
        front_event *n = e->next;
        front_event_free(e);
        e = n;
    }
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p);
}

static void worker_gone(const char *why)
{
    pthread_mutex_lock(&W.lock);
    if (!W.gone) {
        W.gone = true;
        for (front_pending *p = W.pending; p; p = p->next) {
            pthread_mutex_lock(&p->lock);
            p->worker_gone = true;
            pthread_cond_signal(&p->cond);
            pthread_mutex_unlock(&p->lock);
        }
    }
    bool expected = W.stopping;
    pthread_cond_broadcast(&W.cond);
    pthread_mutex_unlock(&W.lock);
    front_logf(expected ? "info" : "error", "inference worker %s: %s", expected ? "exited" : "gone", why);
}

static void route(uint8_t type, json_t *body)
{
    if (type == SEALM_IPC_HELLO) {
        pthread_mutex_lock(&W.lock);
        json_t *models = json_object_get(body, "models");
        if (!W.ready && json_is_array(models)) {
            W.hello_models = json_incref(models);
            W.ready = true;
            size_t i;
            json_t *m;
            json_array_foreach(models, i, m) {
                /* The signed manifest wins; say so, without either text. */
                if (json_is_true(json_object_get(m, "system_prompt_conflict"))) {
                    json_t *f = json_pack("{s:s?}", "model", json_string_value(json_object_get(m, "id")));
                    front_log("warning", "system_prompt_conflict: the bundle's signed system prompt is used, the config's "
                                         "system_prompt is ignored", f);
                    json_decref(f);
                }
            }
        }
        pthread_cond_broadcast(&W.cond);
        pthread_mutex_unlock(&W.lock);
        json_decref(body);
        return;
    }
    int kind = type == SEALM_IPC_TOKEN ? EV_TOKEN : type == SEALM_IPC_DONE ? EV_DONE : type == SEALM_IPC_ERROR ? EV_ERROR : 0;
    json_t *r = json_object_get(body, "req");
    uint64_t req = json_is_integer(r) ? (uint64_t)json_integer_value(r) : 0;
    if (!kind) {
        json_decref(body);
        return;
    }
    pthread_mutex_lock(&W.lock);
    if (req == 0 && kind == EV_ERROR) {
        /* A loading failure: remembered for the startup message. */
        const char *m = json_string_value(json_object_get(body, "message"));
        snprintf(W.load_error, sizeof W.load_error, "%s", m ? m : "worker failed");
        pthread_cond_broadcast(&W.cond);
    }
    front_pending *p = W.pending;
    while (p && p->req != req)
        p = p->next;
    if (p)
        push_event(p, kind, body);   /* lock order W.lock → p->lock, same as worker_gone */
    else
        json_decref(body);           /* a late frame for a cancelled request */
    pthread_mutex_unlock(&W.lock);
}

static void *reader_main(void *arg)
{
    (void)arg;
    for (;;) {
        uint8_t type;
        json_t *body;
        sealm_error err;
        sealm_status st = sealm_ipc_recv(W.fd, &type, &body, &err);
        if (st) {
            worker_gone(st == SEALM_E_NOT_FOUND ? "end of file" : err.message);
            return NULL;
        }
        route(type, body);
    }
}

/* ---- sockets ---- */

static int bind_unix(const front_config *cfg, sealm_error *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", cfg->unix_path);
    struct stat st;
    /* A stale socket from a previous run would make bind fail; anything else at that path is
     * left alone. */
    if (lstat(cfg->unix_path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(cfg->unix_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        sealm_error_set(err, SEALM_E_IO, "socket(AF_UNIX): %s", strerror(errno));
        return -1;
    }
    /* Created with no access at all, then opened up to the configured mode: no window in
     * which a client could connect with broader rights. */
    mode_t old = umask(0777);
    int r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (r != 0 || chmod(cfg->unix_path, cfg->unix_mode) != 0 || listen(fd, 128) != 0) {
        sealm_error_set(err, SEALM_E_IO, "cannot listen on unix socket '%s': %s", cfg->unix_path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int bind_tcp(const front_config *cfg, sealm_error *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_PASSIVE};
    struct addrinfo *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", cfg->tcp_port);
    int rc = getaddrinfo(cfg->tcp_host, port, &hints, &ai);
    if (rc != 0) {
        sealm_error_set(err, SEALM_E_INVALID, "listen.tcp.host '%s' is not a numeric address: %s", cfg->tcp_host,
                        gai_strerror(rc));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 128) != 0) {
        sealm_error_set(err, SEALM_E_IO, "cannot listen on %s:%d: %s", cfg->tcp_host, cfg->tcp_port, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}

/* Reads a PEM file (TLS certificate, key or CA) into memory; MHD keeps no file handles. */
static sealm_status read_pem(const char *path, char **out, sealm_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return sealm_error_set(err, SEALM_E_IO, "cannot open TLS file '%s': %s", path, strerror(errno));
    char *buf = malloc(256 * 1024 + 1);
    size_t n = buf ? fread(buf, 1, 256 * 1024, f) : 0;
    bool big = buf && !feof(f);
    fclose(f);
    if (!buf)
        return sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
    if (n == 0 || big) {
        free(buf);
        return sealm_error_set(err, SEALM_E_INVALID, "TLS file '%s' is empty or larger than 256 KiB", path);
    }
    buf[n] = 0;
    *out = buf;
    return SEALM_OK;
}

static void free_pem(char *p)
{
    if (p) {
        sodium_memzero(p, strlen(p));
        free(p);
    }
}

/* ---- privileges ---- */

static sealm_status drop_privileges(const char *user, sealm_error *err)
{
    if (user && geteuid() == 0) {
        struct passwd *pw = getpwnam(user);
        if (!pw)
            return sealm_error_set(err, SEALM_E_INVALID, "config: user '%s' does not exist", user);
        if (pw->pw_uid == 0)
            return sealm_error_set(err, SEALM_E_INVALID, "config: user '%s' is root; choose an unprivileged user", user);
        uid_t uid = pw->pw_uid;
        gid_t gid = pw->pw_gid;
        if (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0)
            return sealm_error_set(err, SEALM_E_PERMISSION, "cannot drop privileges to '%s': %s", user, strerror(errno));
        /* Paranoia that costs nothing: if any of the calls above half-worked, stop here. */
        if (setuid(0) == 0 || seteuid(0) == 0 || getuid() != uid || geteuid() != uid || getgid() != gid)
            return sealm_error_set(err, SEALM_E_PERMISSION, "privileges could be regained after dropping to '%s'", user);
        front_logf("info", "dropped privileges to user %s (uid %u)", user, (unsigned)uid);
    } else if (user) {
        front_logf("warning", "not started as root: staying uid %u (config user '%s' not applied)", (unsigned)geteuid(), user);
    }
    /* No core dumps or ptrace from same-uid processes: request bodies live in this memory. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    return SEALM_OK;
}

/* ---- worker process ---- */

static pid_t spawn_worker(const front_config *cfg, sealm_error *err)
{
    int fds[2];
    sealm_status st = sealm_ipc_socketpair(fds, err);
    if (st)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        sealm_error_set(err, SEALM_E_IO, "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        /* The worker ignores terminal signals: the front decides when it stops (SHUTDOWN). */
        signal(SIGINT, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        signal(SIGTERM, SIG_IGN);
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        sealm_error werr = {0};
        sealm_status ws = sealm_worker_run(fds[1], cfg->models_json, cfg->limits_json, &werr);
        if (ws) {
            json_t *f = json_pack("{s:s,s:s}", "component", "worker", "status", sealm_status_name(ws));
            front_log("error", werr.message, f);
            json_decref(f);
        }
        _exit(ws ? 1 : 0);
    }
    close(fds[1]);
    W.fd = fds[0];
    return pid;
}

/* Waits for HELLO; false when the worker failed or took longer than timeout_s. */
static bool wait_hello(double timeout_s, sealm_error *err)
{
    struct timespec dl;
    abs_deadline(timeout_s, &dl);
    pthread_mutex_lock(&W.lock);
    while (!W.ready && !W.gone && !W.load_error[0])
        if (pthread_cond_timedwait(&W.cond, &W.lock, &dl) == ETIMEDOUT)
            break;
    bool ok = W.ready;
    if (!ok)
        sealm_error_set(err, SEALM_E_IO, "the inference worker did not start: %s",
                        W.load_error[0] ? W.load_error : W.gone ? "it exited" : "timed out loading models");
    pthread_mutex_unlock(&W.lock);
    return ok;
}

static void reload_keys(const char *path, front_auth *auth)
{
    front_config cfg;
    sealm_error err;
    if (front_config_load(path, &cfg, &err) != SEALM_OK) {
        front_logf("error", "SIGHUP: config not reloaded, old keys stay in force: %s", err.message);
        return;
    }
    size_t n = cfg.n_keys;
    front_key *keys = cfg.keys;
    cfg.keys = NULL;
    cfg.n_keys = 0;
    front_config_free(&cfg);
    if (front_auth_replace(auth, keys, n, &err) != SEALM_OK) {
        front_keys_free(keys, n);
        front_logf("error", "SIGHUP: %s", err.message);
        return;
    }
    front_logf("info", "SIGHUP: reloaded %zu API keys (other settings need a restart)", n);
}

static void wait_child(pid_t pid, double timeout_s)
{
    double end = front_now() + timeout_s;
    while (front_now() < end) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    front_logf("warning", "worker did not exit in time: killing it");
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

sealm_status sealm_server_check_config(const char *path, sealm_error *err)
{
    front_config cfg;
    sealm_status st = front_config_load(path, &cfg, err);
    if (!st)
        st = front_guard_load(&cfg, err);   /* policy files must parse too */
    front_config_free(&cfg);
    return st;
}

void sealm_server_hash_key(const char *key, char out[72])
{
    front_auth_hash_text(key, out);
}

sealm_status sealm_server_run(const char *config_path, sealm_error *err)
{
    front_config cfg;
    sealm_status st = front_config_load(config_path, &cfg, err);
    if (st)
        return st;
    cond_init_monotonic(&W.cond);   /* deadlines below are CLOCK_MONOTONIC */
    front_auth auth;
    int ufd = -1, tfd = -1;
    pthread_t reader;
    bool reader_started = false, auth_ready = false;
    front_http *http = NULL;
    front_tls tls = {0};
    pid_t pid = spawn_worker(&cfg, err);
    if (pid < 0) {
        st = err->code;
        goto out;
    }
    if ((cfg.unix_path && (ufd = bind_unix(&cfg, err)) < 0) || (cfg.tcp_host && (tfd = bind_tcp(&cfg, err)) < 0)) {
        st = err->code;
        goto out;
    }
    /* Signals are taken synchronously by this thread (sigwait); every thread created from
     * here on inherits the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if ((st = front_auth_init(&auth, cfg.keys, cfg.n_keys, err)))
        goto out;
    auth_ready = true;
    cfg.keys = NULL;
    cfg.n_keys = 0;
    if (pthread_create(&reader, NULL, reader_main, NULL) != 0) {
        st = sealm_error_set(err, SEALM_E_NOMEM, "cannot start the reader thread");
        goto out;
    }
    reader_started = true;
    if (cfg.tcp_host && ((st = read_pem(cfg.tls_cert, &tls.cert, err)) || (st = read_pem(cfg.tls_key, &tls.key, err)) ||
                         (cfg.tls_client_ca && (st = read_pem(cfg.tls_client_ca, &tls.ca, err)))))
        goto out;
    /* The guard's rules and the policy files are read while the files are still readable. */
    if ((st = front_guard_load(&cfg, err)))
        goto out;
    if ((st = drop_privileges(cfg.user, err)))
        goto out;
    if (!wait_hello(cfg.startup_timeout_s, err)) {
        st = SEALM_E_IO;
        goto out;
    }
    if ((st = front_http_start(&cfg, &auth, &tls, ufd, tfd, &http, err)))
        goto out;
    ufd = tfd = -1;   /* owned by MHD now */
    front_logf("info", "sealmd ready: %zu model(s)", json_array_size(W.hello_models));

    for (;;) {
        siginfo_t si;
        struct timespec tick = {1, 0};
        int sig = sigtimedwait(&set, &si, &tick);
        if (sig == SIGHUP) {
            reload_keys(config_path, &auth);
            continue;
        }
        if (sig == SIGTERM || sig == SIGINT) {
            front_logf("info", "shutting down: draining for up to %g s", cfg.drain_seconds);
            break;
        }
        pthread_mutex_lock(&W.lock);
        bool gone = W.gone;
        pthread_mutex_unlock(&W.lock);
        if (gone) {
            st = sealm_error_set(err, SEALM_E_IO, "the inference worker exited; stopping so the supervisor restarts sealmd");
            break;
        }
    }
    front_http_quiesce(http);
    pthread_mutex_lock(&W.lock);
    W.stopping = true;
    pthread_mutex_unlock(&W.lock);
    json_t *sd = json_pack("{s:f}", "drain_seconds", cfg.drain_seconds);
    sealm_error serr;
    if (sd)
        sealm_ipc_send(W.fd, SEALM_IPC_SHUTDOWN, sd, &serr);
    json_decref(sd);
    /* The worker cancels what is left at the deadline; give the answers time to go out. */
    double end = front_now() + cfg.drain_seconds + 5;
    while (front_http_active(http) > 0 && front_now() < end) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    wait_child(pid, 5);
    pid = -1;
out:
    if (http)
        front_http_stop(http);
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    if (W.fd >= 0)
        shutdown(W.fd, SHUT_RDWR);
    if (reader_started)
        pthread_join(reader, NULL);
    if (W.fd >= 0)
        close(W.fd);
    if (ufd >= 0)
        close(ufd);
    if (tfd >= 0)
        close(tfd);
    if (auth_ready)
        front_auth_free(&auth);
    free_pem(tls.cert);
    free_pem(tls.key);
    free_pem(tls.ca);
    json_decref(W.hello_models);
    front_config_free(&cfg);
    return st;
}
