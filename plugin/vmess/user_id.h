/* VMess user identities: UUID text <-> 16 bytes, cmdKey, and the alterId chain of
 * alternative ids (vmess-protocol.md §2). */
#ifndef VMESS_USER_ID_H
#define VMESS_USER_ID_H

#include <stddef.h>
#include <stdint.h>

#define VMESS_UUID_STR_LEN 36 /* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" without the NUL */

/* Parses a UUID: 36 chars with dashes at 8/13/18/23, or 32 hex digits; any hex case.
 * 0 and out filled, or -1 (out untouched) when s is not a UUID. */
int vmess_uuid_parse(uint8_t out[16], const char *s);
/* Writes the lower-case 36-char form of uuid plus a NUL into out. */
void vmess_uuid_format(char out[VMESS_UUID_STR_LEN + 1], const uint8_t uuid[16]);
/* cmd_key = MD5(uuid || "c48619fe-8f02-49e0-b9e9-edf763e17e21"). */
void vmess_cmd_key(uint8_t cmd_key[16], const uint8_t uuid[16]);
/* Fills out[0..n) with the first n alternative ids derived from primary (the alterId
 * chain; out[0] is alternative #1). The caller owns out (n * 16 bytes). */
void vmess_alter_ids(uint8_t (*out)[16], const uint8_t primary[16], size_t n);

#endif
