/* A token bucket that may go into debt: a reader takes what it read (a read cannot be made
 * smaller after the fact), and the debt says how long to pause before the next read. */
#ifndef EVP_TOKEN_BUCKET_H
#define EVP_TOKEN_BUCKET_H

#include <stdint.h>

typedef struct evp_token_bucket {
    double rate;   /* bytes per second; 0: no limit */
    double burst;  /* the most tokens it holds */
    double tokens; /* below 0: debt */
    double at;     /* when tokens was last brought up to date (seconds, any clock) */
} evp_token_bucket;

/* A full bucket of rate bytes/s at time now (rate 0: unlimited). */
void evp_tb_init(evp_token_bucket *tb, uint64_t rate, double now);
/* A new rate, keeping the tokens held (capped at the new burst). */
void evp_tb_set_rate(evp_token_bucket *tb, uint64_t rate, double now);
/* Takes n bytes at time now; returns the seconds to wait before reading again (0: none). */
double evp_tb_take(evp_token_bucket *tb, uint64_t n, double now);
/* The seconds to wait at time now before reading again (0: none). */
double evp_tb_wait(evp_token_bucket *tb, double now);

#endif
