/* The embedded default config `make run` starts: socks -> vmess -> vmess -> freedom. */
#ifndef EVP_DEFAULT_CONFIG_H
#define EVP_DEFAULT_CONFIG_H

/* Returns a malloc'd config text with a fresh UUID, and prints what a client needs. */
char *evp_default_config(void);

#endif
