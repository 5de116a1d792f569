/* sealm guard: finds personal data and secrets in a text (a file or stdin) and prints the
 * findings as JSON, or the text with the findings replaced by placeholders. */
#include "tools/cli.h"

#include "sealm/guard.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

typedef struct guard_options {
    bool redact;          /* --redact */
    bool json;            /* --json */
    bool injection;       /* --injection: also screen for prompt injection */
    size_t stream_chunk;  /* --stream N: feed the text through the streaming filter in N-byte pieces */
    float min_score;      /* --min-score */
    const char *path;     /* FILE or "-" */
} guard_options;

static void guard_usage(FILE *f) {
    fprintf(f,
            "usage: sealm guard [--redact] [--json] [--min-score S] [--stream N] [FILE|-]\n\n"
            "Finds personal data and secrets (email, phone, card, IBAN, SSN, national IDs, IPs, MAC,\n"
            "URL credentials, API keys, dates of birth, addresses, names) in FILE or stdin.\n\n"
            "  (default)      one JSON object per finding and line: type, start, end (byte offsets),\n"
            "                 score, rule; the matched text itself is never printed\n"
            "  --json         one JSON object {\"findings\": [...]} (with --redact also \"text\")\n"
            "  --redact       print the text with findings replaced by [EMAIL_1]-style placeholders\n"
            "  --min-score S  drop findings scoring below S (0..1, default 0.5)\n"
            "  --injection    also screen the text for prompt injection: INJECTION findings (one per\n"
            "                 rule, whole-text span when normalization changed the text); with --json\n"
            "                 also \"injection\": {\"score\": 0..1, \"verdict\": \"none\"|\"detect\"|\"block\"}\n"
            "  --stream N     redact through the streaming output filter, N bytes at a time\n"
            "                 (gives the same text as the one-shot redaction)\n");
}

/* Reads a whole file (or stdin for "-") into a malloc'd buffer. */
static char *read_all(const char *path, size_t *len) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        cli_error("cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) break;
        char *p = cap < SIZE_MAX / 4 ? realloc(buf, cap * 2 + 1) : NULL;
        if (!p) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = p;
        cap *= 2;
    }
    bool failed = ferror(f);
    if (f != stdin) fclose(f);
    if (!buf) {
        cli_error("out of memory reading %s", path);
        return NULL;
    }
    if (failed) {
        free(buf);
        cli_error("cannot read %s", path);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

static json_t *findings_json(const sealm_guard_findings *f) {
    json_t *arr = json_array();
    for (size_t i = 0; i < f->n; i++) {
        const sealm_guard_finding *x = &f->items[i];
        json_array_append_new(arr, json_pack("{s:s, s:I, s:I, s:f, s:s}", "type", sealm_guard_kind_name(x->kind),
                                             "start", (json_int_t)x->start, "end", (json_int_t)x->end, "score",
                                             (double)((int)(x->score * 1000.0f + 0.5f)) / 1000.0, "rule", x->rule));
    }
    return arr;
}

/* Appends what the stream released to the output buffer (kept NUL-terminable). */
static sealm_status append_emitted(char **buf, size_t *n, size_t *cap, const char *emit, size_t n_emit,
                                   sealm_error *err) {
    if (*n + n_emit >= *cap) {
        size_t want = (*n + n_emit) * 2 + 64;
        char *p = realloc(*buf, want);
        if (!p) return sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
        *buf = p;
        *cap = want;
    }
    memcpy(*buf + *n, emit, n_emit);
    *n += n_emit;
    return SEALM_OK;
}

/* Runs the text through the streaming filter chunk bytes at a time. */
static int redact_streaming(const sealm_guard_pii *d, sealm_guard_vault *v, const char *text, size_t len,
                            size_t chunk, char **out, size_t *out_len, sealm_guard_findings *found) {
    sealm_error err = {0};
    sealm_guard_stream_config cfg = {.pii = d, .pii_action = SEALM_GUARD_REDACT, .vault = v};
    sealm_guard_stream *s = NULL;
    if (sealm_guard_stream_new(&cfg, &s, &err) != SEALM_OK) {
        cli_error("%s", err.message);
        return 1;
    }
    size_t cap = len * 2 + 64, n = 0;
    char *buf = malloc(cap);
    int rc = buf ? 0 : 1;
    for (size_t at = 0; rc == 0 && at <= len; at += chunk) {
        bool last = at + chunk >= len;
        const char *emit;
        size_t n_emit;
        bool blocked;
        size_t piece = last ? len - at : chunk;
        sealm_status st = sealm_guard_stream_push(s, text + at, piece, &emit, &n_emit, &blocked, &err);
        if (st == SEALM_OK) st = append_emitted(&buf, &n, &cap, emit, n_emit, &err);
        if (st == SEALM_OK && last) {
            st = sealm_guard_stream_finish(s, &emit, &n_emit, &blocked, &err);
            if (st == SEALM_OK) st = append_emitted(&buf, &n, &cap, emit, n_emit, &err);
        }
        if (st != SEALM_OK) {
            cli_error("%s", err.message);
            rc = 1;
        }
        if (last) break;
    }
    if (rc == 0) {
        const sealm_guard_findings *all = sealm_guard_stream_findings(s);
        for (size_t i = 0; i < all->n; i++) sealm_guard_findings_push(found, all->items[i], NULL);
        buf[n] = 0;
        *out = buf;
        *out_len = n;
    } else {
        free(buf);
    }
    sealm_guard_stream_free(s);
    return rc;
}

static int parse_args(guard_options *o, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            guard_usage(stdout);
            return 0;
        } else if (strcmp(a, "--redact") == 0) {
            o->redact = true;
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (strcmp(a, "--injection") == 0) {
            o->injection = true;
        } else if (strcmp(a, "--min-score") == 0 && i + 1 < argc) {
            char *end;
            o->min_score = strtof(argv[++i], &end);
            if (*end || !(o->min_score >= 0.0f && o->min_score <= 1.0f)) {
                cli_error("--min-score takes a number from 0 to 1, not '%s'", argv[i]);
                return EXIT_USAGE;
            }
        } else if (strcmp(a, "--stream") == 0 && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > (1 << 20)) {
                cli_error("--stream takes a chunk size in bytes from 1 to 1048576, not '%s'", argv[i]);
                return EXIT_USAGE;
            }
            o->stream_chunk = (size_t)v;
        } else if ((a[0] != '-' || strcmp(a, "-") == 0) && !o->path) {
            o->path = a;
        } else {
            cli_error("guard: unknown option or extra argument '%s'", a);
            guard_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (!o->path) o->path = "-";
    return -1;
}

int cmd_guard(int argc, char **argv) {
    guard_options o = {.min_score = 0.5f};
    int rc = parse_args(&o, argc, argv);
    if (rc >= 0) return rc;
    size_t len = 0;
    char *text = read_all(o.path, &len);
    if (!text) return 1;

    sealm_error err = {0};
    sealm_guard_pii_config cfg = sealm_guard_pii_config_default();
    cfg.min_score = o.min_score;
    sealm_guard_pii *d = NULL;
    sealm_guard_vault *v = NULL;
    sealm_guard_findings found = {0};
    char *red = NULL;
    size_t red_len = 0;
    rc = 1;
    if (sealm_guard_pii_new(&cfg, &d, &err) != SEALM_OK || sealm_guard_vault_new(&v, &err) != SEALM_OK) {
        cli_error("%s", err.message);
        goto done;
    }
    if (o.redact || o.stream_chunk) {
        if (o.stream_chunk) {
            if (redact_streaming(d, v, text, len, o.stream_chunk, &red, &red_len, &found) != 0) goto done;
        } else if (sealm_guard_redact(d, v, text, len, &red, &red_len, &found, &err) != SEALM_OK) {
            cli_error("%s", err.message);
            goto done;
        }
    } else if (sealm_guard_pii_scan(d, text, len, &found, &err) != SEALM_OK) {
        cli_error("%s", err.message);
        goto done;
    }

    /* injection screening (docs/guard.md, "Injection screening"): findings appended after PII */
    float inj_score = 0.0f;
    sealm_guard_injector *inj = NULL;
    if (o.injection) {
        sealm_status st = sealm_guard_injector_new(NULL, &inj, &err);
        if (st == SEALM_OK) st = sealm_guard_screen_injection(inj, text, len, &inj_score, &found, &err);
        if (st != SEALM_OK) {
            sealm_guard_injector_free(inj);
            cli_error("%s", err.message);
            goto done;
        }
    }
    if (o.json) {
        json_t *root = json_object();
        json_object_set_new(root, "findings", findings_json(&found));
        if (o.injection) {
            sealm_guard_action a = sealm_guard_injection_verdict(inj, inj_score);
            json_object_set_new(root, "injection",
                                json_pack("{s:f, s:s}", "score", (double)inj_score, "verdict",
                                          a == SEALM_GUARD_BLOCK ? "block" : a == SEALM_GUARD_DETECT ? "detect" : "none"));
        }
        if (red) json_object_set_new(root, "text", json_stringn_nocheck(red, red_len));
        json_dumpf(root, stdout, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(4));
        fputc('\n', stdout);
        json_decref(root);
    } else if (red) {
        fwrite(red, 1, red_len, stdout);
    } else {
        json_t *arr = findings_json(&found);
        for (size_t i = 0; i < json_array_size(arr); i++) {
            json_dumpf(json_array_get(arr, i), stdout, JSON_COMPACT | JSON_REAL_PRECISION(4));
            fputc('\n', stdout);
        }
        json_decref(arr);
    }
    sealm_guard_injector_free(inj);
    rc = fflush(stdout) == 0 ? 0 : 1;

done:
    if (red) sodium_memzero(red, red_len);
    free(red);
    sealm_guard_findings_free(&found);
    sealm_guard_vault_free(v);
    sealm_guard_pii_free(d);
    free(text);
    return rc;
}
