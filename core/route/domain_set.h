/* A set of domain matchers as V2Ray's routing reads them (a rule's domain list, a geosite
 * tag): Full names in a hash, Domain suffixes in a hash looked up once per label of the name,
 * Plain substrings and Regex patterns (PCRE2) tried in turn. Names are matched lowercased. */
#ifndef EVP_DOMAIN_SET_H
#define EVP_DOMAIN_SET_H

#include <stddef.h>

/* The kinds, numbered as in V2Ray's Domain.Type (geosite.dat stores these numbers). */
enum evp_domain_kind { EVP_DOM_PLAIN = 0, EVP_DOM_REGEX = 1, EVP_DOM_SUFFIX = 2, EVP_DOM_FULL = 3 };

typedef struct evp_domain_set evp_domain_set;

evp_domain_set *evp_domain_set_new(void);
void evp_domain_set_free(evp_domain_set *s);
/* Adds one matcher (value copied); -1 on an unknown kind, a regex that does not compile or
 * out of memory. */
int evp_domain_set_add(evp_domain_set *s, int kind, const char *value);
/* 1 when name (len bytes, any case) meets one of the matchers. */
int evp_domain_set_has(const evp_domain_set *s, const char *name, size_t len);
/* How name (len bytes, any case) meets the set, for ordering as V2Ray's MatcherGroup returns
 * its matches: 0 not at all; EVP_DOM_RANK_FULL a Full name; EVP_DOM_RANK_SUFFIX plus the
 * length of the longest Domain suffix met (a deeper suffix ranks higher); EVP_DOM_RANK_OTHER
 * a Plain substring or a Regex only. */
#define EVP_DOM_RANK_OTHER 1
#define EVP_DOM_RANK_SUFFIX 256
#define EVP_DOM_RANK_FULL 512
int evp_domain_set_rank(const evp_domain_set *s, const char *name, size_t len);
/* How many matchers were added (for the tests). */
size_t evp_domain_set_size(const evp_domain_set *s);

#endif
