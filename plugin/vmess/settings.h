/* The vmess inbound and outbound "settings" objects, read as V2Ray 4.34 reads them
 * (infra/conf/vmess.go), with two additions: the outbound honours "aes-128-cfb" and
 * "zero" as real choices. */
#ifndef VMESS_SETTINGS_H
#define VMESS_SETTINGS_H

#include "evproxy/plugin.h"

#include <stddef.h>
#include <stdint.h>

/* Configured security "zero": security none (5) without ChunkStream (option 0x00). The
 * other values are the §6 nibbles of body.h (1 cfb, 3 gcm, 4 chacha, 5 none). */
#define VMESS_CFG_ZERO 6

/* One user: an outbound vnext user or an inbound client. */
typedef struct vmess_user_cfg {
    uint8_t id[16];    /* the primary UUID's bytes */
    uint16_t alter_id; /* missing: 0 */
    uint32_t level;    /* local policy level (a uint32 in V2Ray's User) */
    uint8_t security;  /* outbound: nibble or VMESS_CFG_ZERO ("auto" resolved); inbound: 0 */
    char *email;       /* owned, NUL-terminated, "" when missing */
} vmess_user_cfg;

/* One vnext entry. */
typedef struct vmess_server_cfg {
    evp_addr addr;         /* address and port to dial */
    vmess_user_cfg *users; /* owned array */
    size_t n_users;
} vmess_server_cfg;

typedef struct vmess_outbound_cfg {
    vmess_server_cfg *servers; /* owned array, at least one */
    size_t n_servers;
} vmess_outbound_cfg;

typedef struct vmess_inbound_cfg {
    vmess_user_cfg *clients; /* owned array, may be empty */
    size_t n_clients;
    uint8_t default_level; /* "default": users auto-created for a detour */
    uint16_t default_alter_id;
    char *detour_to;          /* owned; NULL without "detour" */
    uint8_t disable_insecure; /* disableInsecureEncryption */
    /* aeadForced (V2Ray >= 4.35's v2ray.vmess.aead.forced as a setting): legacy headers are
     * refused like a wrong user. The environment flag is added by the inbound, not here. */
    uint8_t aead_forced;
    /* Not a V2Ray key (V2Ray takes it from the inbound's "port"): the port a detour's
     * SwitchAccount names when this inbound is the detour target; 0 if unknown. */
    uint16_t port;
} vmess_inbound_cfg;

/* The nibble "auto" means on this machine: gcm where AES is fast, as V2Ray's GOARCH rule. */
uint8_t vmess_security_auto(void);

/* Maps a security string as V2Ray does (case-insensitive; unknown or NULL -> auto). */
uint8_t vmess_security_parse(const char *s);

/* V2Ray reads an environment flag by its dotted name, then as upper case with '_' (e.g.
 * "v2ray.vmess.aead.forced", "V2RAY_VMESS_AEAD_FORCED"); NULL when neither is set. */
const char *vmess_env_flag(const char *dotted, const char *upper);

/* Parses outbound settings JSON text into *cfg (zeroed first); 0, or -1 with err. */
int vmess_outbound_cfg_parse(const char *json, vmess_outbound_cfg *cfg, char *err, size_t errlen);
/* Frees what *cfg owns and zeroes it. */
void vmess_outbound_cfg_free(vmess_outbound_cfg *cfg);

/* Parses inbound settings JSON text into *cfg (zeroed first); 0, or -1 with err. */
int vmess_inbound_cfg_parse(const char *json, vmess_inbound_cfg *cfg, char *err, size_t errlen);
/* Frees what *cfg owns and zeroes it. */
void vmess_inbound_cfg_free(vmess_inbound_cfg *cfg);

#endif
