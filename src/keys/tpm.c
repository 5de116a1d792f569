/* TPM 2.0 through tpm2-tss (ESAPI): a device secret sealed by the TPM, and a monotonic NV
 * counter. Facts from the TCG TPM 2.0 Library specification, Part 3 (TPM2_CreatePrimary,
 * TPM2_Create, TPM2_Load, TPM2_Unseal, TPM2_NV_DefineSpace, TPM2_NV_Increment, TPM2_NV_Read)
 * and the TCG "TPM 2.0 Provisioning Guidance" storage-key template (ECC NIST P-256, AES-128-CFB).
 *
 * Why the primary key is re-created on every use instead of being made persistent: a
 * primary key is a deterministic function of the owner hierarchy's seed and the template, so
 * re-creating it gives the same key on the same TPM, needs no NV slot and no provisioning
 * step, and on any other TPM (another seed) the sealed blob does not load. */
#include "keys_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

/* An open connection to one TPM. */
typedef struct tpm_session {
    TSS2_TCTI_CONTEXT *tcti;
    ESYS_CONTEXT *esys;
    ESYS_TR primary;
} tpm_session;

static sealm_status tpm_fail(sealm_error *err, const char *tcti, const char *what, TSS2_RC rc) {
    return sealm_error_set(err, SEALM_E_AUTH, "TPM %s: %s failed (%s)", tcti, what, Tss2_RC_Decode(rc));
}

bool sealm_keys_tpm_tcti_ok(const char *tcti) {
    size_t n = tcti ? strlen(tcti) : 0;
    if (n == 0 || n > SEALM_KEYS_TPM_TCTI_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)tcti[i] <= 0x20 || (unsigned char)tcti[i] > 0x7e) return false;
    return true;
}

static void tpm_close(tpm_session *s) {
    if (s->esys) {
        if (s->primary != ESYS_TR_NONE) Esys_FlushContext(s->esys, s->primary);
        Esys_Finalize(&s->esys);
    }
    if (s->tcti) Tss2_TctiLdr_Finalize(&s->tcti);
    memset(s, 0, sizeof *s);
}

static sealm_status tpm_open(const char *tcti, tpm_session *s, sealm_error *err) {
    memset(s, 0, sizeof *s);
    s->primary = ESYS_TR_NONE;
    if (!sealm_keys_tpm_tcti_ok(tcti))
        return sealm_error_set(err, SEALM_E_INVALID, "TPM TCTI must be 1..%d printable characters without spaces, "
                               "e.g. device:/dev/tpmrm0 or swtpm:host=127.0.0.1,port=2321", SEALM_KEYS_TPM_TCTI_MAX);
    TSS2_RC rc = Tss2_TctiLdr_Initialize(tcti, &s->tcti);
    if (rc == TSS2_RC_SUCCESS) rc = Esys_Initialize(&s->esys, s->tcti, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        tpm_close(s);
        return sealm_error_set(err, SEALM_E_IO, "cannot reach the TPM at %s (%s): is the TPM device present, or "
                               "swtpm/tpm2-abrmd running?", tcti, Tss2_RC_Decode(rc));
    }
    /* A TPM that was already started answers TPM2_RC_INITIALIZE: that is fine. */
    rc = Esys_Startup(s->esys, TPM2_SU_CLEAR);
    if (rc != TSS2_RC_SUCCESS && (rc & ~TSS2_RC_LAYER_MASK) != TPM2_RC_INITIALIZE) {
        sealm_status st = sealm_error_set(err, SEALM_E_IO, "cannot reach the TPM at %s (%s): is the TPM device "
                                          "present, or swtpm/tpm2-abrmd running?", tcti, Tss2_RC_Decode(rc));
        tpm_close(s);
        return st;
    }
    return SEALM_OK;
}

/* The storage root key under the owner hierarchy (TCG provisioning template, ECC P-256). */
static sealm_status tpm_primary(tpm_session *s, const char *tcti, sealm_error *err) {
    TPM2B_PUBLIC tmpl = {0};
    TPMT_PUBLIC *p = &tmpl.publicArea;
    p->type = TPM2_ALG_ECC;
    p->nameAlg = TPM2_ALG_SHA256;
    p->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                          TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
    p->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
    p->parameters.eccDetail.symmetric.keyBits.aes = 128;
    p->parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
    p->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
    p->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    p->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    TPM2B_SENSITIVE_CREATE sens = {0};
    TPM2B_DATA outside = {0};
    TPML_PCR_SELECTION pcrs = {0};
    TSS2_RC rc = Esys_CreatePrimary(s->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens,
                                    &tmpl, &outside, &pcrs, &s->primary, NULL, NULL, NULL, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        s->primary = ESYS_TR_NONE;
        return tpm_fail(err, tcti, "creating the storage key", rc);
    }
    return SEALM_OK;
}

/* Opens the TPM and re-creates its storage key: what sealing and unsealing both start with. */
static sealm_status tpm_open_storage(const char *tcti, tpm_session *s, sealm_error *err) {
    sealm_status st = tpm_open(tcti, s, err);
    if (st == SEALM_OK && (st = tpm_primary(s, tcti, err)) != SEALM_OK) tpm_close(s);
    return st;
}

/* The template of a sealed data object: a keyed-hash object with no sign/decrypt use, bound
 * to this TPM and parent (fixedTPM, fixedParent), opened with an empty auth value. */
static TPM2B_PUBLIC sealed_template(void) {
    TPM2B_PUBLIC t = {0};
    t.publicArea.type = TPM2_ALG_KEYEDHASH;
    t.publicArea.nameAlg = TPM2_ALG_SHA256;
    t.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_USERWITHAUTH |
                                    TPMA_OBJECT_NODA;
    t.publicArea.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL;
    return t;
}

sealm_status sealm_keys_tpm_seal(const char *tcti, const uint8_t secret[SEALM_KEYS_SECRET_BYTES], uint8_t *pub_blob,
                                 size_t *pub_len, uint8_t *priv_blob, size_t *priv_len, sealm_error *err) {
    tpm_session s;
    sealm_status st = tpm_open_storage(tcti, &s, err);
    if (st != SEALM_OK) return st;
    TPM2B_SENSITIVE_CREATE *sens = sodium_malloc(sizeof *sens);
    if (!sens) {
        tpm_close(&s);
        return sealm_error_set(err, SEALM_E_NOMEM, "out of secure memory");
    }
    memset(sens, 0, sizeof *sens);
    sens->sensitive.data.size = SEALM_KEYS_SECRET_BYTES;
    memcpy(sens->sensitive.data.buffer, secret, SEALM_KEYS_SECRET_BYTES);
    TPM2B_PUBLIC tmpl = sealed_template();
    TPM2B_DATA outside = {0};
    TPML_PCR_SELECTION pcrs = {0};
    TPM2B_PRIVATE *priv = NULL;
    TPM2B_PUBLIC *pub = NULL;
    TSS2_RC rc = Esys_Create(s.esys, s.primary, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, sens, &tmpl, &outside,
                             &pcrs, &priv, &pub, NULL, NULL, NULL);
    sodium_free(sens);   /* wipes the copy of the secret */
    if (rc != TSS2_RC_SUCCESS) {
        st = tpm_fail(err, tcti, "sealing the device key", rc);
    } else {
        size_t off_pub = 0, off_priv = 0;
        if (Tss2_MU_TPM2B_PUBLIC_Marshal(pub, pub_blob, SEALM_KEYS_TPM_BLOB_MAX, &off_pub) != TSS2_RC_SUCCESS ||
            Tss2_MU_TPM2B_PRIVATE_Marshal(priv, priv_blob, SEALM_KEYS_TPM_BLOB_MAX, &off_priv) != TSS2_RC_SUCCESS)
            st = sealm_error_set(err, SEALM_E_NOMEM, "TPM object does not fit %d bytes", SEALM_KEYS_TPM_BLOB_MAX);
        *pub_len = off_pub;
        *priv_len = off_priv;
    }
    Esys_Free(priv);
    Esys_Free(pub);
    tpm_close(&s);
    return st;
}

sealm_status sealm_keys_tpm_unseal(const char *path, const char *tcti, const uint8_t *pub_blob, size_t pub_len,
                                   const uint8_t *priv_blob, size_t priv_len, uint8_t *secret, sealm_error *err) {
    TPM2B_PUBLIC pub = {0};
    TPM2B_PRIVATE priv = {0};
    size_t off = 0;
    if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(pub_blob, pub_len, &off, &pub) != TSS2_RC_SUCCESS || off != pub_len)
        return sealm_error_set(err, SEALM_E_FORMAT, "%s: tpm-public is not a TPM2B_PUBLIC", path);
    off = 0;
    if (Tss2_MU_TPM2B_PRIVATE_Unmarshal(priv_blob, priv_len, &off, &priv) != TSS2_RC_SUCCESS || off != priv_len)
        return sealm_error_set(err, SEALM_E_FORMAT, "%s: tpm-private is not a TPM2B_PRIVATE", path);
    tpm_session s;
    sealm_status st = tpm_open_storage(tcti, &s, err);
    if (st != SEALM_OK) return st;
    ESYS_TR obj = ESYS_TR_NONE;
    TPM2B_SENSITIVE_DATA *data = NULL;
    TSS2_RC rc = Esys_Load(s.esys, s.primary, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &priv, &pub, &obj);
    if (rc != TSS2_RC_SUCCESS) {
        st = sealm_error_set(err, SEALM_E_AUTH,
                             "%s: the TPM at %s cannot load this sealed key (%s): it was sealed by another TPM, "
                             "the TPM was cleared, or the file was modified", path, tcti, Tss2_RC_Decode(rc));
    } else if ((rc = Esys_Unseal(s.esys, obj, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &data)) != TSS2_RC_SUCCESS) {
        st = tpm_fail(err, tcti, "unsealing the device key", rc);
    } else if (data->size != SEALM_KEYS_SECRET_BYTES) {
        st = sealm_error_set(err, SEALM_E_FORMAT, "%s: the TPM returned %u bytes, not a 32-byte key", path, data->size);
    } else {
        memcpy(secret, data->buffer, SEALM_KEYS_SECRET_BYTES);
    }
    if (data) {
        sodium_memzero(data, sizeof *data);
        Esys_Free(data);
    }
    if (obj != ESYS_TR_NONE) Esys_FlushContext(s.esys, obj);
    tpm_close(&s);
    return st;
}

/* ---- NV counter ---- */

static sealm_status counter_handle(tpm_session *s, const char *tcti, uint32_t index, bool create, ESYS_TR *nv,
                                   bool *created, sealm_error *err) {
    *created = false;
    TSS2_RC rc = Esys_TR_FromTPMPublic(s->esys, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, nv);
    if (rc == TSS2_RC_SUCCESS) {
        TPM2B_NV_PUBLIC *pub = NULL;
        rc = Esys_NV_ReadPublic(s->esys, *nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL);
        bool counter = rc == TSS2_RC_SUCCESS &&
                       ((pub->nvPublic.attributes & TPMA_NV_TPM2_NT_MASK) >> TPMA_NV_TPM2_NT_SHIFT) == TPM2_NT_COUNTER;
        Esys_Free(pub);
        if (!counter)
            return sealm_error_set(err, SEALM_E_FORMAT, "TPM %s: NV index 0x%08x exists but is not a counter: pick "
                                   "another index", tcti, index);
        return SEALM_OK;
    }
    if (!create)
        return sealm_error_set(err, SEALM_E_NOT_FOUND, "TPM %s: NV counter 0x%08x is not defined", tcti, index);
    TPM2B_NV_PUBLIC pub = {0};
    pub.nvPublic.nvIndex = index;
    pub.nvPublic.nameAlg = TPM2_ALG_SHA256;
    pub.nvPublic.attributes = TPMA_NV_OWNERWRITE | TPMA_NV_OWNERREAD | TPMA_NV_NO_DA |
                              ((TPMA_NV)TPM2_NT_COUNTER << TPMA_NV_TPM2_NT_SHIFT);
    pub.nvPublic.dataSize = 8;
    TPM2B_AUTH auth = {0};
    rc = Esys_NV_DefineSpace(s->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &auth, &pub, nv);
    if (rc != TSS2_RC_SUCCESS) return tpm_fail(err, tcti, "defining the NV counter", rc);
    /* A counter reads only after its first increment (it then starts at the highest count the
     * TPM ever had, so a re-defined counter can never go back). */
    rc = Esys_NV_Increment(s->esys, ESYS_TR_RH_OWNER, *nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE);
    if (rc != TSS2_RC_SUCCESS) return tpm_fail(err, tcti, "initializing the NV counter", rc);
    *created = true;
    return SEALM_OK;
}

static sealm_status counter_read(tpm_session *s, const char *tcti, ESYS_TR nv, uint64_t *value, sealm_error *err) {
    TPM2B_MAX_NV_BUFFER *d = NULL;
    TSS2_RC rc = Esys_NV_Read(s->esys, ESYS_TR_RH_OWNER, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, 8, 0, &d);
    if (rc != TSS2_RC_SUCCESS) return tpm_fail(err, tcti, "reading the NV counter", rc);
    uint64_t v = 0;
    for (int i = 0; i < 8 && i < d->size; i++) v = v << 8 | d->buffer[i];   /* TPM integers are big-endian */
    Esys_Free(d);
    *value = v;
    return SEALM_OK;
}

sealm_status sealm_tpm_counter_read(const char *tcti, uint32_t nv_index, bool create, uint64_t *value, bool *created,
                                    sealm_error *err) {
    if (!value || !created || nv_index < SEALM_TPM_NV_INDEX_MIN || nv_index > SEALM_TPM_NV_INDEX_MAX)
        return sealm_error_set(err, SEALM_E_INVALID, "NV index must be in the owner range 0x%08x..0x%08x",
                               SEALM_TPM_NV_INDEX_MIN, SEALM_TPM_NV_INDEX_MAX);
    tpm_session s;
    sealm_status st = tpm_open(tcti, &s, err);
    if (st != SEALM_OK) return st;
    ESYS_TR nv;
    st = counter_handle(&s, tcti, nv_index, create, &nv, created, err);
    if (st == SEALM_OK) st = counter_read(&s, tcti, nv, value, err);
    tpm_close(&s);
    return st;
}

sealm_status sealm_tpm_counter_increment(const char *tcti, uint32_t nv_index, uint64_t *value, sealm_error *err) {
    if (!value || nv_index < SEALM_TPM_NV_INDEX_MIN || nv_index > SEALM_TPM_NV_INDEX_MAX)
        return sealm_error_set(err, SEALM_E_INVALID, "NV index must be in the owner range 0x%08x..0x%08x",
                               SEALM_TPM_NV_INDEX_MIN, SEALM_TPM_NV_INDEX_MAX);
    tpm_session s;
    sealm_status st = tpm_open(tcti, &s, err);
    if (st != SEALM_OK) return st;
    ESYS_TR nv;
    bool created;
    st = counter_handle(&s, tcti, nv_index, false, &nv, &created, err);
    if (st == SEALM_OK) {
        TSS2_RC rc = Esys_NV_Increment(s.esys, ESYS_TR_RH_OWNER, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE);
        st = rc == TSS2_RC_SUCCESS ? counter_read(&s, tcti, nv, value, err)
                                   : tpm_fail(err, tcti, "incrementing the NV counter", rc);
    }
    tpm_close(&s);
    return st;
}
