/* VMess response header plaintext and SwitchAccount (vmess-protocol.md §7). */
#include "command.h"

#include "fnv1a.h"

#include <string.h>

#define FNV_SIZE 4
#define MAX_PAYLOAD (255 - FNV_SIZE)

int vmess_switch_account_encode(const vmess_switch_account *sa, uint8_t *out, size_t cap)
{
    size_t n = 0, need = (size_t)VMESS_SWITCH_ACCOUNT_MIN + sa->host_len;
    if (cap < need)
        return -1;
    out[n++] = sa->host_len;
    memcpy(out + n, sa->host, sa->host_len);
    n += sa->host_len;
    out[n++] = (uint8_t)(sa->port >> 8);
    out[n++] = (uint8_t)sa->port;
    memcpy(out + n, sa->uuid, 16);
    n += 16;
    out[n++] = (uint8_t)(sa->alter_id >> 8);
    out[n++] = (uint8_t)sa->alter_id;
    out[n++] = sa->level;
    out[n++] = sa->valid_min;
    return (int)n;
}

int vmess_switch_account_decode(vmess_switch_account *sa, const uint8_t *p, size_t len)
{
    /* V2Ray's own bound is one byte short; require the whole payload. */
    if (len < 1 || len < (size_t)VMESS_SWITCH_ACCOUNT_MIN + p[0])
        return -1;
    /* A NUL in the host would cut the name the client dials short (found by fuzzing):
     * ignore such a command, as one that fails its checks. */
    if (memchr(p + 1, '\0', p[0]) != NULL)
        return -1;
    memset(sa, 0, sizeof *sa);
    size_t n = 0;
    sa->host_len = p[n++];
    memcpy(sa->host, p + n, sa->host_len);
    sa->host[sa->host_len] = '\0';
    n += sa->host_len;
    sa->port = (uint16_t)(p[n] << 8 | p[n + 1]);
    n += 2;
    memcpy(sa->uuid, p + n, 16);
    n += 16;
    sa->alter_id = (uint16_t)(p[n] << 8 | p[n + 1]);
    n += 2;
    sa->level = p[n++];
    sa->valid_min = p[n];
    return 0;
}

int vmess_resp_header_encode(uint8_t *out, size_t cap, uint8_t v, uint8_t opt, uint8_t cmd,
                             const uint8_t *payload, size_t payload_len)
{
    if (cmd == VMESS_RESP_CMD_NONE)
        payload_len = 0;
    if (payload_len > MAX_PAYLOAD)
        return -1;
    size_t cmd_len = cmd == VMESS_RESP_CMD_NONE ? 0 : FNV_SIZE + payload_len;
    if (cap < 4 + cmd_len)
        return -1;
    out[0] = v;
    out[1] = opt;
    out[2] = cmd;
    out[3] = (uint8_t)cmd_len;
    if (cmd_len) {
        memmove(out + 8, payload, payload_len); /* first: payload may overlap out */
        uint32_t f = vmess_fnv1a32(out + 8, payload_len);
        out[4] = (uint8_t)(f >> 24);
        out[5] = (uint8_t)(f >> 16);
        out[6] = (uint8_t)(f >> 8);
        out[7] = (uint8_t)f;
    }
    return (int)(4 + cmd_len);
}

size_t vmess_resp_header_length(const uint8_t *p, size_t len)
{
    return len < 4 ? 4 : 4 + (size_t)p[3];
}

int vmess_resp_header_decode(vmess_resp_header *h, const uint8_t *p, size_t len)
{
    if (len < 4 || len != 4 + (size_t)p[3])
        return -1;
    memset(h, 0, sizeof *h);
    h->v = p[0];
    h->opt = p[1];
    size_t cmd_len = p[3];
    if (p[2] == VMESS_RESP_CMD_NONE || cmd_len <= FNV_SIZE)
        return 0;
    const uint8_t *payload = p + 4 + FNV_SIZE;
    size_t payload_len = cmd_len - FNV_SIZE;
    uint32_t f = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
    if (vmess_fnv1a32(payload, payload_len) != f)
        return 0; /* V2Ray ignores a command that fails its check */
    h->cmd = p[2];
    h->payload = payload;
    h->payload_len = payload_len;
    return 0;
}
