/* sealm bench: prefill and decode speed, time to first token, cold start, load time, peak
 * memory, and the decode speed the machine's measured read bandwidth allows.
 *
 * One run: load the model (plain GGUF or sealed bundle) → one warm-up (a TTFT-sized prompt
 * and one decoded token; its first token gives the cold start) → r repetitions, each with
 * a fresh KV cache, of: a TTFT-sized prompt and its first (greedy) token; a p-token prefill;
 * n greedy decoded tokens (end-of-generation ignored); n greedy decoded tokens again from
 * an empty KV cache (what llama-bench's tg test times). Prompts are synthetic token ids from
 * a fixed seed, so every run and every build evaluates the same tokens. Last, a STREAM-like
 * read of a buffer several times the last-level cache (McCalpin's STREAM, read-only), plain
 * and with software prefetch, with the same thread count, after the context is freed and
 * peak RSS is recorded, so that the buffer does not count in it. */
#include "tools/cli.h"
#include "engine/quant.h"   /* the SIMD level the kernels run at, for the report */

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

typedef struct bench_options {
    int32_t n_prompt;     /* -p: prefill tokens */
    int32_t n_gen;        /* -n: decoded tokens */
    int32_t n_reps;       /* -r */
    int32_t ttft_tokens;  /* --ttft-tokens: the prompt whose first token is timed */
    int32_t n_seqs;       /* --seqs: sequences decoded together (sealm_context_eval_many); 0 off */
    bool json;
} bench_options;

/* min / median / max of a series of measurements. */
typedef struct stat3 {
    double min, median, max;
} stat3;

typedef struct bench_result {
    double load_s, context_s, cold_start_s;
    stat3 ttft_s, prefill_tps, decode_tps;
    stat3 decode_empty_tps;      /* n steps from an empty KV cache, the first input prompt token 0 */
    stat3 batched_tps;           /* --seqs: tokens/s over all sequences decoded together */
    uint64_t load_hwm_bytes;     /* VmHWM right after loading: the peak of the load itself */
    uint64_t peak_rss_bytes;     /* getrusage ru_maxrss before the bandwidth test */
    uint64_t vm_hwm_bytes;       /* /proc/self/status VmHWM before the bandwidth test */
    double read_gbs;             /* best read bandwidth of either test below, 1e9 bytes/s: the bound's base */
    double read_plain_gbs;       /* the STREAM-like read alone */
    double read_prefetch_gbs;    /* the same read with software prefetch ahead, as the decode kernels do */
    uint64_t read_buffer_bytes;
    uint64_t llc_bytes;
} bench_result;

enum { BENCH_MAX_SEQS = 64 };

static void usage(FILE *f) {
    fprintf(f, "usage: sealm bench -m FILE [-t THREADS] [-p PROMPT_TOKENS] [-n GEN_TOKENS] [-r REPS] [--json]\n"
               "  -p N             prefill tokens per repetition (default 128)\n"
               "  -n N             decoded tokens per repetition, end of generation ignored (default 64)\n"
               "  -r N             repetitions (default 3); min/median/max are reported\n"
               "  --ttft-tokens N  prompt length for time to first token (default 32)\n"
               "  --seqs N         also decode N sequences together (batched, as sealmd serves parallel\n"
               "                   requests; 2..64): their total tok/s\n"
               "  --json           one JSON object on stdout instead of a table (fields: docs/PERFORMANCE.md)\n"
               "  -c N             KV cache size (default and minimum: the longer of -p and --ttft-tokens,\n"
               "                   plus n, plus 1)\n");
    cli_print_run_options(f);
}

static bool parse_count(const char *v, int32_t lo, int32_t *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > 1 << 20) return false;
    *out = (int32_t)x;
    return true;
}

static int bench_option(void *ctx, int argc, char **argv, int *i) {
    bench_options *b = ctx;
    const char *a = argv[*i];
    int32_t *dst = !strcmp(a, "-p") ? &b->n_prompt : !strcmp(a, "-n") ? &b->n_gen : !strcmp(a, "-r") ? &b->n_reps
                 : !strcmp(a, "--ttft-tokens") ? &b->ttft_tokens : !strcmp(a, "--seqs") ? &b->n_seqs : NULL;
    if (!strcmp(a, "--json")) {
        b->json = true;
        return 1;
    }
    if (!dst) return 0;
    if (dst == &b->n_seqs) {
        if (*i + 1 >= argc || !parse_count(argv[*i + 1], 2, dst) || *dst > BENCH_MAX_SEQS) {
            cli_error("bench: --seqs needs an integer from 2 to %d", BENCH_MAX_SEQS);
            return -1;
        }
        (*i)++;
        return 1;
    }
    if (*i + 1 >= argc || !parse_count(argv[*i + 1], 1, dst)) {
        cli_error("bench: %s needs a positive integer", a);
        return -1;
    }
    (*i)++;
    return 1;
}

/* ---- clocks and memory ---- */

/* Seconds since this process started: /proc/self/stat's starttime (clock ticks after boot)
 * against CLOCK_BOOTTIME, so the cold start includes exec, dynamic linking and everything
 * before main. Resolution: one clock tick (10 ms at the usual USER_HZ of 100). -1 if unknown. */
static double seconds_since_process_start(void) {
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f) return -1.0;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');   /* the command name may hold spaces; fields follow the last ')' */
    if (!p) return -1.0;
    unsigned long long start_ticks = 0;
    /* after ')': state is field 3; starttime is field 22 */
    int field = 2;
    for (char *tok = strtok(p + 1, " "); tok; tok = strtok(NULL, " ")) {
        if (++field == 22) {
            start_ticks = strtoull(tok, NULL, 10);
            break;
        }
    }
    long hz = sysconf(_SC_CLK_TCK);
    struct timespec ts;
    if (field != 22 || hz <= 0 || clock_gettime(CLOCK_BOOTTIME, &ts) != 0) return -1.0;
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 - (double)start_ticks / (double)hz;
}

/* VmHWM (peak resident set) of this process in bytes, 0 if unknown. */
static uint64_t vm_hwm_bytes(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    uint64_t kib = 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) kib = strtoull(line + 6, NULL, 10);
    fclose(f);
    return kib * 1024;
}

static uint64_t max_rss_bytes(void) {
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? (uint64_t)ru.ru_maxrss * 1024 : 0;
}

/* The last-level cache in bytes (sysfs: the highest-level unified or data cache of cpu0). */
static uint64_t llc_bytes(void) {
    uint64_t best = 0;
    int best_level = 0;
    for (int idx = 0; idx < 8; idx++) {
        char path[128], text[64];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", idx);
        FILE *f = fopen(path, "r");
        if (!f) break;
        int level = fgets(text, sizeof text, f) ? atoi(text) : 0;
        fclose(f);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", idx);
        if (!(f = fopen(path, "r"))) continue;
        uint64_t size = 0;
        if (fgets(text, sizeof text, f)) {
            char *end;
            size = strtoull(text, &end, 10);
            if (*end == 'K') size <<= 10;
            else if (*end == 'M') size <<= 20;
        }
        fclose(f);
        if (level >= best_level && size > 0) best_level = level, best = size;
    }
    return best;
}

/* ---- the read-bandwidth test ----
 * Two reads of the same buffer: the plain STREAM-like loop (the hardware prefetchers
 * alone), and the same loop asking for the data READ_PREFETCH_BYTES ahead in software, as
 * the decode kernels do (simd_x86.h: on the machine of docs/PERFORMANCE.md one core then
 * reads ~1.5× what the hardware prefetchers alone fetch). The bound uses the faster of the
 * two, so that it stays an upper bound for code that prefetches: with the plain read alone,
 * decode measured up to 116% of "the bound". */

enum { READ_PREFETCH_BYTES = 4096 };

typedef struct read_slice {
    const uint64_t *p;
    size_t n;
    size_t prefetch_bytes;  /* 0: the plain read */
    const atomic_int *go;   /* 1: start reading; -1: give up (another thread could not start) */
    uint64_t sum;           /* kept, so the compiler cannot drop the reads */
} read_slice;

static void *read_slice_run(void *arg) {
    read_slice *s = arg;
    int go;
    while ((go = atomic_load_explicit(s->go, memory_order_acquire)) == 0) {
    }
    if (go < 0) return NULL;
    uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    size_t i = 0;
    if (s->prefetch_bytes > 0) {
        /* one prefetch per 64-byte line (8 words); addresses past the end never fault */
        const char *ahead = (const char *)s->p + s->prefetch_bytes;
        for (; i + 8 <= s->n; i += 8) {
            __builtin_prefetch(ahead + i * sizeof(uint64_t), 0, 3);
            a0 += s->p[i] + s->p[i + 4];
            a1 += s->p[i + 1] + s->p[i + 5];
            a2 += s->p[i + 2] + s->p[i + 6];
            a3 += s->p[i + 3] + s->p[i + 7];
        }
    }
    for (; i + 4 <= s->n; i += 4) {
        a0 += s->p[i];
        a1 += s->p[i + 1];
        a2 += s->p[i + 2];
        a3 += s->p[i + 3];
    }
    for (; i < s->n; i++) a0 += s->p[i];
    s->sum = a0 + a1 + a2 + a3;
    return NULL;
}

/* One pass: n_threads threads, each reading its share of buf[0..n), released together.
 * Returns the seconds from release to the last join, or -1 if the threads cannot start. */
static double read_pass(const uint64_t *buf, size_t n, int32_t n_threads, size_t prefetch_bytes, uint64_t *sum) {
    read_slice slices[256];
    pthread_t threads[256];
    atomic_int go = 0;
    int32_t started = 0;
    for (int32_t t = 0; t < n_threads; t++) {
        size_t lo = n * (size_t)t / (size_t)n_threads, hi = n * (size_t)(t + 1) / (size_t)n_threads;
        slices[t] = (read_slice){buf + lo, hi - lo, prefetch_bytes, &go, 0};
        if (pthread_create(&threads[t], NULL, read_slice_run, &slices[t]) != 0) break;
        started++;
    }
    atomic_store_explicit(&go, started == n_threads ? 1 : -1, memory_order_release);
    double t0 = cli_now_s();
    for (int32_t t = 0; t < started; t++) {
        pthread_join(threads[t], NULL);
        *sum += slices[t].sum;
    }
    return started == n_threads ? cli_now_s() - t0 : -1.0;
}

/* Best of several passes of each read (alternating, so both see the same neighbours), by
 * n_threads threads over a buffer of 4× the last-level cache (at least 256 MiB), in 1e9
 * bytes/s; 0 where it cannot run. */
static void measure_read_bandwidth(int32_t n_threads, uint64_t llc, bench_result *r) {
    r->read_gbs = r->read_plain_gbs = r->read_prefetch_gbs = 0.0;
    uint64_t bytes = llc * 4 > (256u << 20) ? llc * 4 : (256u << 20);
    if (n_threads < 1) n_threads = 1;
    if (n_threads > 256) n_threads = 256;
    size_t n = (size_t)(bytes / sizeof(uint64_t));
    uint64_t *buf = malloc(n * sizeof *buf);
    if (!buf) return;
    for (size_t i = 0; i < n; i++) buf[i] = i;   /* touch every page, so no pass counts page faults */
    r->read_buffer_bytes = (uint64_t)n * sizeof *buf;
    uint64_t sum = 0;
    for (int pass = 0; pass < 10; pass++) {
        const bool prefetch = pass & 1;
        double dt = read_pass(buf, n, n_threads, prefetch ? READ_PREFETCH_BYTES : 0, &sum);
        double gbs = dt > 0 ? (double)r->read_buffer_bytes / dt / 1e9 : 0.0;
        double *best = prefetch ? &r->read_prefetch_gbs : &r->read_plain_gbs;
        if (gbs > *best) *best = gbs;
    }
    r->read_gbs = r->read_plain_gbs > r->read_prefetch_gbs ? r->read_plain_gbs : r->read_prefetch_gbs;
    if (sum == 1) fprintf(stderr, " ");   /* uses the sums; never true for this buffer */
    free(buf);
}

/* ---- the model runs ---- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static stat3 stats_of(double *v, int32_t n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    stat3 s = {v[0], n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]), v[n - 1]};
    return s;
}

static int32_t argmax(const float *x, int32_t n) {
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* Evaluates tokens and returns the greedy next token, or -1 after printing the error. */
static int32_t eval_next(sealm_context *ctx, const int32_t *tokens, int32_t n, int32_t n_vocab) {
    sealm_error err = {0};
    if (sealm_context_eval(ctx, tokens, n, false, &err)) {
        cli_error("evaluation failed: %s", err.message);
        return -1;
    }
    return argmax(sealm_context_logits(ctx, -1), n_vocab);
}

/* Decodes n tokens after `next`, one at a time. Returns 0 or 1. */
static int decode(sealm_context *ctx, int32_t next, int32_t n, int32_t n_vocab) {
    for (int32_t i = 0; i < n && next >= 0; i++) next = eval_next(ctx, &next, 1, n_vocab);
    return next < 0;
}

static int run_reps(cli_model *cm, const bench_options *b, const int32_t *prompt, bench_result *r) {
    sealm_context *ctx = cm->ctx;
    const int32_t n_vocab = sealm_model_hparams(cm->model)->n_vocab;
    double *ttft = calloc((size_t)b->n_reps, sizeof *ttft), *pre = calloc((size_t)b->n_reps, sizeof *pre),
           *dec = calloc((size_t)b->n_reps, sizeof *dec), *dec0 = calloc((size_t)b->n_reps, sizeof *dec0);
    int rc = !ttft || !pre || !dec || !dec0;
    if (rc) cli_error("out of memory");

    /* warm-up: the first token this process produces gives the cold start */
    int32_t next = rc ? -1 : eval_next(ctx, prompt, b->ttft_tokens, n_vocab);
    r->cold_start_s = seconds_since_process_start();
    if (next < 0 || decode(ctx, next, 1, n_vocab)) rc = 1;

    for (int32_t rep = 0; !rc && rep < b->n_reps; rep++) {
        sealm_context_truncate(ctx, 0);
        double t0 = cli_now_s();
        next = eval_next(ctx, prompt, b->ttft_tokens, n_vocab);
        ttft[rep] = cli_now_s() - t0;

        sealm_context_truncate(ctx, 0);
        t0 = cli_now_s();
        next = next < 0 ? -1 : eval_next(ctx, prompt, b->n_prompt, n_vocab);
        double t1 = cli_now_s();
        if (next < 0 || decode(ctx, next, b->n_gen, n_vocab)) {
            rc = 1;
            break;
        }
        double t2 = cli_now_s();
        pre[rep] = (double)b->n_prompt / (t1 - t0);
        dec[rep] = (double)b->n_gen / (t2 - t1);

        /* the same n steps from an empty cache: attention then spans positions 0..n-1
         * instead of p..p+n-1, as in llama-bench's tg test (bench/compare.sh's ratio) */
        sealm_context_truncate(ctx, 0);
        t0 = cli_now_s();
        next = eval_next(ctx, prompt, 1, n_vocab);
        if (next < 0 || decode(ctx, next, b->n_gen - 1, n_vocab)) {
            rc = 1;
            break;
        }
        dec0[rep] = (double)b->n_gen / (cli_now_s() - t0);
    }
    if (!rc) {
        r->ttft_s = stats_of(ttft, b->n_reps);
        r->prefill_tps = stats_of(pre, b->n_reps);
        r->decode_tps = stats_of(dec, b->n_reps);
        r->decode_empty_tps = stats_of(dec0, b->n_reps);
    }
    free(ttft);
    free(pre);
    free(dec);
    free(dec0);
    return rc;
}

/* --seqs: b->n_seqs contexts (sharing the first one's thread pool, as sealmd's slots do),
 * each prefilled with the prompt rotated by its index, then b->n_gen steps in which every
 * sequence decodes its greedy next token, all in one sealm_context_eval_many call; b->n_reps
 * times. Runs after the single-sequence figures and the memory readings, which its KV
 * caches would otherwise inflate. */
static int run_batched(cli_model *cm, const bench_options *b, const int32_t *prompt, bench_result *r) {
    const int32_t n = b->n_seqs, n_vocab = sealm_model_hparams(cm->model)->n_vocab;
    sealm_context_params cp = sealm_context_params_default();
    cp.n_ctx = b->n_prompt + b->n_gen + 1;
    cp.n_threads = sealm_context_n_threads(cm->ctx);
    sealm_context *ctx[BENCH_MAX_SEQS] = {0};
    int32_t next[BENCH_MAX_SEQS];
    int32_t *rotated = malloc(sizeof *rotated * (size_t)b->n_prompt);
    double *tps = calloc((size_t)b->n_reps, sizeof *tps);
    sealm_error err = {0};
    int rc = !rotated || !tps;
    if (rc) cli_error("out of memory");
    for (int32_t i = 0; !rc && i < n; i++)
        if (sealm_context_new_sharing(cm->model, &cp, cm->ctx, &ctx[i], &err)) {
            cli_error("bench --seqs: %s", err.message);
            rc = 1;
        }
    for (int32_t rep = 0; !rc && rep < b->n_reps; rep++) {
        for (int32_t i = 0; !rc && i < n; i++) {
            for (int32_t k = 0; k < b->n_prompt; k++) rotated[k] = prompt[(k + i) % b->n_prompt];
            sealm_context_truncate(ctx[i], 0);
            next[i] = eval_next(ctx[i], rotated, b->n_prompt, n_vocab);
            rc = next[i] < 0;
        }
        const double t0 = cli_now_s();
        for (int32_t step = 0; !rc && step < b->n_gen; step++) {
            if (sealm_context_eval_many(ctx, next, n, &err)) {
                cli_error("batched decode failed: %s", err.message);
                rc = 1;
            }
            for (int32_t i = 0; !rc && i < n; i++) next[i] = argmax(sealm_context_logits(ctx[i], -1), n_vocab);
        }
        tps[rep] = (double)n * b->n_gen / (cli_now_s() - t0);
    }
    if (!rc) r->batched_tps = stats_of(tps, b->n_reps);
    for (int32_t i = 0; i < n; i++) sealm_context_free(ctx[i]);
    free(rotated);
    free(tps);
    return rc;
}

/* ---- report ---- */

/* The byte counts the report derives from the model. */
typedef struct bench_sizes {
    uint64_t model_bytes;        /* the GGUF image (plaintext, for a bundle) */
    uint64_t weight_bytes;       /* every weight tensor */
    uint64_t weight_read_bytes;  /* weights one decoded token reads (one embedding row when untied) */
    uint64_t kv_bytes;           /* the KV cache allocated for n_ctx */
    uint64_t kv_read_bytes;      /* KV read by a decoded token at the mean decode position */
    int32_t n_ctx;
    int32_t n_threads;
} bench_sizes;

static json_t *stat_json(stat3 s) { return json_pack("{s:f, s:f, s:f}", "min", s.min, "median", s.median, "max", s.max); }

static void print_json(const cli_model *cm, const bench_options *b, const bench_sizes *z, const bench_result *r,
                       bool sealed) {
    const sealm_hparams *hp = sealm_model_hparams(cm->model);
    double bytes_per_token = (double)(z->weight_read_bytes + z->kv_read_bytes);
    double bound = r->read_gbs > 0 ? r->read_gbs * 1e9 / bytes_per_token : 0.0;
    uint64_t rss_budget = z->model_bytes + z->kv_bytes + (UINT64_C(64) << 20);
    json_t *o = json_object();
    json_object_set_new(o, "model", json_string(cm->path));
    json_object_set_new(o, "sealed", json_boolean(sealed));
    json_object_set_new(o, "arch", json_string(hp->arch == SEALM_ARCH_QWEN2 ? "qwen2" : "llama"));
    json_object_set_new(o, "n_layer", json_integer(hp->n_layer));
    json_object_set_new(o, "n_embd", json_integer(hp->n_embd));
    json_object_set_new(o, "n_vocab", json_integer(hp->n_vocab));
    json_object_set_new(o, "threads", json_integer(z->n_threads));
    json_object_set_new(o, "simd", json_string(sealm_simd_level_name(sealm_kernels_init())));
    json_object_set_new(o, "n_prompt", json_integer(b->n_prompt));
    json_object_set_new(o, "n_gen", json_integer(b->n_gen));
    json_object_set_new(o, "ttft_tokens", json_integer(b->ttft_tokens));
    json_object_set_new(o, "reps", json_integer(b->n_reps));
    json_object_set_new(o, "n_ctx", json_integer(z->n_ctx));
    json_object_set_new(o, "prefill_tps", stat_json(r->prefill_tps));
    json_object_set_new(o, "decode_tps", stat_json(r->decode_tps));
    json_object_set_new(o, "decode_empty_tps", stat_json(r->decode_empty_tps));
    json_object_set_new(o, "ttft_s", stat_json(r->ttft_s));
    json_object_set_new(o, "load_s", json_real(r->load_s));
    json_object_set_new(o, "context_s", json_real(r->context_s));
    json_object_set_new(o, "cold_start_s", json_real(r->cold_start_s));
    json_object_set_new(o, "model_bytes", json_integer((json_int_t)z->model_bytes));
    json_object_set_new(o, "weight_bytes", json_integer((json_int_t)z->weight_bytes));
    json_object_set_new(o, "weight_read_bytes_per_token", json_integer((json_int_t)z->weight_read_bytes));
    json_object_set_new(o, "kv_bytes", json_integer((json_int_t)z->kv_bytes));
    json_object_set_new(o, "kv_read_bytes_per_token", json_integer((json_int_t)z->kv_read_bytes));
    json_object_set_new(o, "load_peak_rss_bytes", json_integer((json_int_t)r->load_hwm_bytes));
    json_object_set_new(o, "peak_rss_bytes", json_integer((json_int_t)r->peak_rss_bytes));
    json_object_set_new(o, "vm_hwm_bytes", json_integer((json_int_t)r->vm_hwm_bytes));
    json_object_set_new(o, "rss_budget_bytes", json_integer((json_int_t)rss_budget));
    json_object_set_new(o, "llc_bytes", json_integer((json_int_t)r->llc_bytes));
    json_object_set_new(o, "read_buffer_bytes", json_integer((json_int_t)r->read_buffer_bytes));
    json_object_set_new(o, "read_bandwidth_gbs", json_real(r->read_gbs));
    json_object_set_new(o, "read_bandwidth_plain_gbs", json_real(r->read_plain_gbs));
    json_object_set_new(o, "read_bandwidth_prefetch_gbs", json_real(r->read_prefetch_gbs));
    json_object_set_new(o, "decode_bound_tps", json_real(bound));
    json_object_set_new(o, "decode_pct_of_bound", json_real(bound > 0 ? 100.0 * r->decode_tps.median / bound : 0.0));
    if (b->n_seqs > 0)
        json_object_set_new(o, "batched_decode", json_pack("{s:i, s:o}", "seqs", (int)b->n_seqs, "tps", stat_json(r->batched_tps)));
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
    if (text) puts(text);
    free(text);
    json_decref(o);
}

static void print_table(const cli_model *cm, const bench_options *b, const bench_sizes *z, const bench_result *r) {
    const double MiB = 1024.0 * 1024.0;
    double bytes_per_token = (double)(z->weight_read_bytes + z->kv_read_bytes);
    double bound = r->read_gbs > 0 ? r->read_gbs * 1e9 / bytes_per_token : 0.0;
    printf("model        %s (%.1f MiB, weights read per token %.1f MiB)\n", cm->path, z->model_bytes / MiB,
           z->weight_read_bytes / MiB);
    printf("threads      %d, SIMD %s, KV cache %d tokens (%.1f MiB)\n", z->n_threads,
           sealm_simd_level_name(sealm_kernels_init()), z->n_ctx, z->kv_bytes / MiB);
    printf("%-26s %10s %10s %10s\n", "", "min", "median", "max");
    printf("%-26s %10.1f %10.1f %10.1f\n", "prefill tok/s", r->prefill_tps.min, r->prefill_tps.median, r->prefill_tps.max);
    printf("%-26s %10.1f %10.1f %10.1f\n", "decode tok/s", r->decode_tps.min, r->decode_tps.median, r->decode_tps.max);
    printf("%-26s %10.1f %10.1f %10.1f\n", "decode tok/s, empty KV", r->decode_empty_tps.min, r->decode_empty_tps.median,
           r->decode_empty_tps.max);
    char label[64];
    snprintf(label, sizeof label, "TTFT (%d tokens) ms", b->ttft_tokens);
    printf("%-26s %10.2f %10.2f %10.2f\n", label, r->ttft_s.min * 1e3, r->ttft_s.median * 1e3, r->ttft_s.max * 1e3);
    if (b->n_seqs > 0) {
        snprintf(label, sizeof label, "decode %d seqs tok/s", b->n_seqs);
        printf("%-26s %10.1f %10.1f %10.1f\n", label, r->batched_tps.min, r->batched_tps.median, r->batched_tps.max);
    }
    printf("prefill %d, decode %d tokens, %d repetitions\n", b->n_prompt, b->n_gen, b->n_reps);
    printf("load         %.3f s (context %.3f s); cold start to first token %.3f s\n", r->load_s, r->context_s,
           r->cold_start_s);
    printf("memory       peak RSS %.1f MiB (VmHWM %.1f MiB, after load %.1f MiB); model + KV + 64 MiB = %.1f MiB\n",
           r->peak_rss_bytes / MiB, r->vm_hwm_bytes / MiB, r->load_hwm_bytes / MiB,
           (z->model_bytes + z->kv_bytes) / MiB + 64.0);
    printf("bandwidth    %.1f GB/s read (plain %.1f, with software prefetch %.1f; %.0f MiB buffer, LLC %.0f MiB)"
           " → decode bound %.1f tok/s; median is %.0f%%\n",
           r->read_gbs, r->read_plain_gbs, r->read_prefetch_gbs, r->read_buffer_bytes / MiB, r->llc_bytes / MiB,
           bound, bound > 0 ? 100.0 * r->decode_tps.median / bound : 0.0);
}

static void sizes_of(const cli_model *cm, const bench_options *b, bench_sizes *z) {
    const sealm_hparams *hp = sealm_model_hparams(cm->model);
    size_t len = 0;
    (void)sealm_gguf_image(cm->gguf, &len);
    z->model_bytes = len;
    z->weight_bytes = sealm_model_weight_bytes(cm->model);
    z->weight_read_bytes = z->weight_bytes;
    const sealm_gguf_tensor *emb = sealm_gguf_find_tensor(cm->gguf, "token_embd.weight");
    if (emb && !hp->tied_output && emb->size_bytes <= z->weight_bytes)   /* decode reads one row of it */
        z->weight_read_bytes -= emb->size_bytes - emb->size_bytes / (uint64_t)hp->n_vocab;
    z->n_ctx = sealm_context_n_ctx(cm->ctx);
    z->n_threads = sealm_context_n_threads(cm->ctx);
    z->kv_bytes = sealm_model_kv_bytes(cm->model, z->n_ctx);
    z->kv_read_bytes = sealm_model_kv_bytes(cm->model, b->n_prompt + b->n_gen / 2);
}

int cmd_bench(int argc, char **argv) {
    cli_run_options o;
    cli_run_options_init(&o);
    bench_options b = {.n_prompt = 128, .n_gen = 64, .n_reps = 3, .ttft_tokens = 32};
    int status = cli_parse_command_args("bench", argc, argv, &o, usage, bench_option, &b);
    if (status >= 0) return status;

    cli_model cm;
    bench_result r = {0};
    double t0 = cli_now_s();
    if (cli_model_open(&cm, o.model_path, &o, false)) return 1;
    r.load_s = cli_now_s() - t0;
    r.load_hwm_bytes = vm_hwm_bytes();

    int32_t longest = b.n_prompt > b.ttft_tokens ? b.n_prompt : b.ttft_tokens;
    sealm_context_params cp = sealm_context_params_default();
    cp.n_ctx = o.n_ctx > 0 ? o.n_ctx : longest + b.n_gen + 1;
    cp.n_threads = o.n_threads;
    sealm_error err = {0};
    t0 = cli_now_s();
    if (sealm_context_new(cm.model, &cp, &cm.ctx, &err)) {
        cli_error("%s: %s", cm.path, err.message);
        cli_model_close(&cm);
        return 1;
    }
    r.context_s = cli_now_s() - t0;
    if (sealm_context_n_ctx(cm.ctx) < longest + b.n_gen + 1) {
        cli_error("bench: -c %d is too small for a %d-token prompt (the longer of -p and --ttft-tokens) and %d "
                  "generated tokens: it needs at least %d",
                  sealm_context_n_ctx(cm.ctx), longest, b.n_gen, longest + b.n_gen + 1);
        cli_model_close(&cm);
        return EXIT_USAGE;
    }

    /* synthetic prompt ids: a fixed-seed stream over the whole vocabulary */
    const int32_t n_vocab = sealm_model_hparams(cm.model)->n_vocab;
    int32_t *prompt = malloc(sizeof *prompt * (size_t)longest);
    int rc = !prompt;
    uint64_t state = 0x5EA1B5EEDull;
    for (int32_t i = 0; prompt && i < longest; i++) {
        state = state * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
        prompt[i] = (int32_t)((state >> 33) % (uint64_t)n_vocab);
    }
    if (rc) cli_error("out of memory");
    if (!rc) rc = run_reps(&cm, &b, prompt, &r);
    if (rc) {
        free(prompt);
        cli_model_close(&cm);
        return rc;
    }
    r.peak_rss_bytes = max_rss_bytes();
    r.vm_hwm_bytes = vm_hwm_bytes();
    if (b.n_seqs > 0 && run_batched(&cm, &b, prompt, &r)) {
        free(prompt);
        cli_model_close(&cm);
        return 1;
    }
    free(prompt);

    bench_sizes z = {0};
    sizes_of(&cm, &b, &z);
    bool sealed = cm.image != NULL;
    /* the context (worker threads, KV cache) goes before the bandwidth pass, so that the two
     * never compete for the cores; the model stays for the report */
    sealm_context_free(cm.ctx);
    cm.ctx = NULL;
    r.llc_bytes = llc_bytes();
    measure_read_bandwidth(z.n_threads, r.llc_bytes, &r);
    if (b.json) print_json(&cm, &b, &z, &r, sealed);
    else print_table(&cm, &b, &z, &r);
    cli_model_close(&cm);
    return 0;
}
