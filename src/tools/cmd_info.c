/* sealm info: a model's metadata, tensor table and memory estimate. */
#include "tools/cli.h"

#include <string.h>

static void usage(FILE *f) {
    fprintf(f, "usage: sealm info -m FILE [-c CTX] [-t THREADS] [--device-key KEY --trust FILE --state FILE]\n"
               "  prints metadata, the tensor table, and the memory a context of CTX tokens needs\n"
               "  (per-thread scratch counted for THREADS, default the physical cores);\n"
               "  FILE may be a sealed bundle (decrypted in locked memory)\n");
}

int cmd_info(int argc, char **argv) {
    cli_run_options o;
    cli_run_options_init(&o);
    int status = cli_parse_command_args("info", argc, argv, &o, usage, NULL, NULL);
    if (status >= 0) return status;
    cli_model cm;
    int status_open = cli_gguf_open(&cm, o.model_path, &o);
    if (status_open) return status_open;
    sealm_error err = {0};
    const sealm_gguf *g = cm.gguf;
    size_t image_len = 0;
    sealm_gguf_image(g, &image_len);
    printf("file: %s\nformat: GGUF v%u, %zu bytes, alignment %llu\n", o.model_path, sealm_gguf_version(g), image_len,
           (unsigned long long)sealm_gguf_alignment(g));

    printf("\nmetadata (%llu keys):\n", (unsigned long long)sealm_gguf_kv_count(g));
    char buf[512];
    for (uint64_t i = 0; i < sealm_gguf_kv_count(g); i++) {
        sealm_gguf_str key = sealm_gguf_kv_key(g, i);
        sealm_gguf_kv_format(g, i, buf, sizeof buf, 120);
        printf("  %-44.*s %s\n", (int)(key.len > 200 ? 200 : key.len), key.ptr, buf);
    }

    printf("\ntensors (%llu):\n", (unsigned long long)sealm_gguf_tensor_count(g));
    printf("  %-36s %-6s %-28s %12s\n", "name", "type", "shape", "bytes");
    uint64_t total = 0;
    for (uint64_t i = 0; i < sealm_gguf_tensor_count(g); i++) {
        const sealm_gguf_tensor *t = sealm_gguf_tensor_at(g, i);
        char shape[64];
        int len = snprintf(shape, sizeof shape, "[%lld", (long long)t->ne[0]);
        for (uint32_t d = 1; d < t->n_dims && len < (int)sizeof shape; d++)
            len += snprintf(shape + len, sizeof shape - (size_t)len, ", %lld", (long long)t->ne[d]);
        if (len < (int)sizeof shape) snprintf(shape + len, sizeof shape - (size_t)len, "]");
        printf("  %-36.*s %-6s %-28s %12llu\n", (int)(t->name.len > 200 ? 200 : t->name.len), t->name.ptr,
               sealm_tensor_type_name(t->type), shape, (unsigned long long)t->size_bytes);
        total += t->size_bytes;
    }
    printf("  total tensor bytes: %llu (%.1f MiB)\n", (unsigned long long)total, (double)total / 1048576.0);

    sealm_model *m = NULL;
    int rc = 0;
    if (sealm_model_load(g, &m, &err)) {
        printf("\nmodel: cannot be run by this engine: %s\n", err.message);
        rc = 1;
    } else {
        const sealm_hparams *hp = sealm_model_hparams(m);
        int32_t n_ctx = o.n_ctx > 0 ? o.n_ctx : (hp->n_ctx_train < 4096 ? hp->n_ctx_train : 4096);
        printf("\nmodel: %s, %d layers, width %d, ffn %d, %d heads (%d KV), head size %d, vocab %d, "
               "trained context %d, RoPE base %g%s\n",
               hp->arch == SEALM_ARCH_QWEN2 ? "qwen2" : "llama", hp->n_layer, hp->n_embd, hp->n_ff, hp->n_head,
               hp->n_head_kv, hp->head_dim, hp->n_vocab, hp->n_ctx_train, (double)hp->rope_freq_base,
               hp->tied_output ? ", tied output" : "");
        sealm_context_params cp = sealm_context_params_default();
        cp.n_ctx = n_ctx;
        cp.n_threads = o.n_threads;
        sealm_context_memory mem;
        if (sealm_context_memory_plan(m, &cp, &mem, &err)) {
            fprintf(stderr, "sealm info: %s\n", err.message);
            rc = 1;
        } else {
            const double w = (double)sealm_model_weight_bytes(m), kv = (double)mem.kv_bytes, buf = (double)mem.buffer_bytes;
            printf("memory estimate for a context of %d tokens (batch %d, %d threads): weights %.1f MiB (mapped from "
                   "the file) + KV cache %.1f MiB (F16) + buffers %.1f MiB (activations, attention scratch, logits) "
                   "= %.1f MiB\n", mem.params.n_ctx, mem.params.n_batch, mem.params.n_threads, w / 1048576.0,
                   kv / 1048576.0, buf / 1048576.0, (w + kv + buf) / 1048576.0);
        }
    }
    sealm_model_free(m);
    cli_model_close(&cm);
    return rc;
}
