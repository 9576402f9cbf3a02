/* Random bytes that guard no secret (chunk padding), without a syscall per call. */
#ifndef VMESS_NONKEY_RANDOM_H
#define VMESS_NONKEY_RANDOM_H

#include <stddef.h>

/* Fills buf with len bytes from this thread's ChaCha20 stream. Never for keys, IVs or
 * nonces: those come from the host's random_bytes. */
void vmess_nonkey_random(void *buf, size_t len);

#endif
