/* The VMess request header plaintext (vmess-protocol.md §6): Version, IV, Key, V, Option,
 * padding/Security, Command, target, padding, FNV-1a. Both directions; no crypto here. */
#ifndef VMESS_REQUEST_H
#define VMESS_REQUEST_H

#include "body.h"
#include "evproxy/plugin.h"
#include <stddef.h>
#include <stdint.h>

/* The security nibble (enum vmess_security: VMESS_SEC_*) and the option bits
 * (VMESS_OPT_*) are declared once, in body.h, which uses them too. Aliases: */
#define VMESS_SEC_AES128_GCM VMESS_SEC_GCM
#define VMESS_SEC_CHACHA20_POLY1305 VMESS_SEC_CHACHA
#define VMESS_SEC_ZERO 6 /* config-only: sent as NONE with option 0; invalid on the wire */

enum vmess_command {
    VMESS_CMD_TCP = 1,
    VMESS_CMD_UDP = 2,
    VMESS_CMD_MUX = 3, /* target becomes v1.mux.cool:0 */
};

/* Results of vmess_request_decode(). */
enum vmess_req_result {
    VMESS_REQ_OK = 0,
    VMESS_REQ_SHORT = -1, /* fewer bytes than the header needs (legacy: a fuse-burning error) */
    VMESS_REQ_BAD_CHECKSUM = -2,  /* FNV-1a mismatch (legacy: fuse-burning) */
    VMESS_REQ_BAD_ADDR_TYPE = -3, /* address type not 1, 2 or 3 */
    VMESS_REQ_BAD_DOMAIN = -4,    /* empty, or a character outside [0-9A-Za-z._-] */
    VMESS_REQ_BAD_COMMAND = -5,   /* command not TCP, UDP or Mux */
    VMESS_REQ_BAD_SECURITY = -6,  /* security 2 (auto) or 6..15 */
    VMESS_REQ_BAD_OPTION = -7,    /* GlobalPadding without ChunkMasking (crashes V2Ray 4.34) */
    VMESS_REQ_TOO_LONG = -8,      /* encode: output buffer too small / bad field */
};

/* Fixed part: Version..Command. */
#define VMESS_REQUEST_FIXED 38
/* Largest header: fixed + port 2 + type 1 + len 1 + domain 255 + padding 15 + FNV 4. */
#define VMESS_REQUEST_MAX (VMESS_REQUEST_FIXED + 2 + 1 + 1 + 255 + 15 + 4)

typedef struct vmess_request {
    uint8_t version;     /* 1 when sending; stored, not checked, when receiving */
    uint8_t iv[16];      /* request body IV (comes first on the wire) */
    uint8_t key[16];     /* request body key */
    uint8_t v;           /* response auth byte, echoed by the server */
    uint8_t option;      /* VMESS_OPT_* bits */
    uint8_t padding_len; /* 0..15 */
    uint8_t security;    /* enum vmess_security (decoded 0 is reported as 1) */
    uint8_t command;     /* enum vmess_command */
    evp_addr target;     /* port in host order; Mux: domain v1.mux.cool, port 0 */
} vmess_request;

/* Encodes r into out[0..cap) with padding bytes pad[0..r->padding_len) (random, caller's),
 * then the FNV-1a. Returns the length (<= VMESS_REQUEST_MAX) or VMESS_REQ_TOO_LONG when cap
 * is short or a field is out of range. Mux writes no address. */
int vmess_request_encode(const vmess_request *r, const uint8_t *pad, uint8_t *out, size_t cap);
/* Total header length implied by the plaintext prefix p[0..len): if the result is > len,
 * that many bytes are needed (so far); if <= len, the header is exactly that long.
 * Returns 0 for an address type that cannot be parsed (the header is bad).
 * Lets a legacy (CFB, unframed) reader decrypt exactly the header and nothing more. */
size_t vmess_request_length(const uint8_t *p, size_t len);
/* Decodes a whole header p[0..len) (len as vmess_request_length said, or the AEAD length;
 * bytes after the FNV are ignored) into r. Checks in V2Ray 4.34's order: address type and
 * domain, length, FNV, command, security, options. A domain that is an IP literal (incl.
 * "[v6]") becomes an IP target. Returns VMESS_REQ_OK or a VMESS_REQ_* error (r is then
 * unspecified). */
int vmess_request_decode(vmess_request *r, const uint8_t *p, size_t len);
/* A short English name of a VMESS_REQ_* result, for logs and io->reason. */
const char *vmess_request_strerror(int result);

#endif
