/* Shadowsocks AEAD methods (SIP004) and their keys: the master key from the password
 * (OpenSSL's EVP_BytesToKey with MD5, as ss-libev and V2Ray derive it) and the per-salt
 * subkey HKDF-SHA1(key, salt, "ss-subkey"). */
#ifndef SS_METHOD_H
#define SS_METHOD_H

#include <stddef.h>
#include <stdint.h>

enum ss_method {
    SS_METHOD_NONE = 0, /* not a method: a name we do not know */
    SS_AES_128_GCM = 1,
    SS_AES_256_GCM = 2,
    SS_CHACHA20_POLY1305 = 3,
};

#define SS_KEY_MAX 32  /* longest key and salt, bytes */
#define SS_TAG_SIZE 16 /* every method's tag */

/* The method a name means (case-insensitive; ss-libev's and V2Ray's spellings), or
 * SS_METHOD_NONE. */
int ss_method_parse(const char *name);
/* ss-libev's name of m. */
const char *ss_method_name(int m);
/* Key size of m, which is also its salt size: 16 or 32. */
size_t ss_key_size(int m);
/* The master key of a password: EVP_BytesToKey(MD5, no salt, one round), ss_key_size(m)
 * bytes into key. */
void ss_password_key(int m, const char *password, size_t len, uint8_t key[SS_KEY_MAX]);
/* subkey = HKDF-SHA1(key, salt, "ss-subkey"), ss_key_size(m) bytes; salt is as long. */
void ss_subkey(int m, const uint8_t *key, const uint8_t *salt, uint8_t subkey[SS_KEY_MAX]);

#endif
