/* The VMess response header plaintext and its commands (vmess-protocol.md §7):
 * V || Opt || Cmd || CmdLen || CmdData, with CmdData = BE32(FNV1a(payload)) || payload. */
#ifndef VMESS_COMMAND_H
#define VMESS_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#define VMESS_RESP_CMD_NONE 0x00
#define VMESS_RESP_CMD_SWITCH_ACCOUNT 0x01
#define VMESS_RESP_HEADER_MAX (4 + 255)
#define VMESS_SWITCH_ACCOUNT_MIN 23 /* payload bytes with an empty host */

/* SwitchAccount (Cmd 0x01): a detour account the client may use for valid_min minutes. */
typedef struct vmess_switch_account {
    uint8_t host_len; /* 0: the same server address */
    char host[256];   /* host_len bytes, NUL-terminated */
    uint16_t port;
    uint8_t uuid[16];
    uint16_t alter_id;
    uint8_t level;
    uint8_t valid_min;
} vmess_switch_account;

/* A decoded response header; payload points into the decoded buffer (borrowed). */
typedef struct vmess_resp_header {
    uint8_t v;
    uint8_t opt;
    uint8_t cmd;            /* VMESS_RESP_CMD_NONE when there is no usable command */
    const uint8_t *payload; /* the command payload after the FNV, or NULL */
    size_t payload_len;
} vmess_resp_header;

/* Encodes a SwitchAccount payload into out[0..cap); returns its length or -1 if cap is
 * short. */
int vmess_switch_account_encode(const vmess_switch_account *sa, uint8_t *out, size_t cap);
/* Decodes a SwitchAccount payload p[0..len); 0, or -1 when it is shorter than
 * host_len + 23 bytes or its host holds a NUL byte. */
int vmess_switch_account_decode(vmess_switch_account *sa, const uint8_t *p, size_t len);

/* Encodes the response header plaintext V || opt || cmd || CmdLen || FNV || payload into
 * out[0..cap); cmd VMESS_RESP_CMD_NONE writes "V opt 00 00" and ignores payload. Returns the
 * length or -1 (cap short, or payload longer than 251). */
int vmess_resp_header_encode(uint8_t *out, size_t cap, uint8_t v, uint8_t opt, uint8_t cmd,
                             const uint8_t *payload, size_t payload_len);
/* Header length implied by the plaintext prefix p[0..len): 4 until 4 bytes are known, then
 * 4 + CmdLen (for the unframed legacy response). */
size_t vmess_resp_header_length(const uint8_t *p, size_t len);
/* Decodes a whole response header p[0..len) into h. 0, or -1 when len does not match
 * CmdLen. A command with CmdLen <= 4 or a bad FNV is ignored (cmd set to NONE), as V2Ray
 * does; an unknown cmd value is passed on for the caller to ignore. Checking h->v against
 * the request's V is the caller's job. */
int vmess_resp_header_decode(vmess_resp_header *h, const uint8_t *p, size_t len);

#endif
