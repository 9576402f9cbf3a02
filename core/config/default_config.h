/* The embedded default config `make run` starts: socks -> vmess -> vmess -> freedom
 * (socks -> freedom when the vmess plugin is not installed). */
#ifndef EVP_DEFAULT_CONFIG_H
#define EVP_DEFAULT_CONFIG_H

/* Returns a malloc'd config text with a fresh UUID, and prints what a client needs;
 * plugin_dir is where vmess.so is looked for. */
char *evp_default_config(const char *plugin_dir);

#endif
