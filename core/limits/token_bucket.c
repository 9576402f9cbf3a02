/* Token buckets for the per-user rate limits. */
#include "token_bucket.h"

/* A quarter second of traffic: small enough that a rate measured over a few seconds is the
 * set one, large enough that a loop held up that long (a busy machine) loses no tokens. */
#define BURST_SECONDS 0.25
#define MIN_BURST 16384.0

static double burst_of(double rate)
{
    double b = rate * BURST_SECONDS;
    return b < MIN_BURST ? MIN_BURST : b;
}

void evp_tb_init(evp_token_bucket *tb, uint64_t rate, double now)
{
    tb->rate = (double)rate;
    tb->burst = burst_of(tb->rate);
    tb->tokens = tb->burst;
    tb->at = now;
}

void evp_tb_set_rate(evp_token_bucket *tb, uint64_t rate, double now)
{
    evp_tb_wait(tb, now); /* brings tokens up to now at the old rate */
    tb->rate = (double)rate;
    tb->burst = burst_of(tb->rate);
    if (tb->tokens > tb->burst)
        tb->tokens = tb->burst;
}

static void refill(evp_token_bucket *tb, double now)
{
    /* Workers' loops see slightly different times: a clock going back refills nothing. */
    if (now > tb->at) {
        tb->tokens += (now - tb->at) * tb->rate;
        if (tb->tokens > tb->burst)
            tb->tokens = tb->burst;
        tb->at = now;
    }
}

double evp_tb_wait(evp_token_bucket *tb, double now)
{
    if (tb->rate <= 0)
        return 0;
    refill(tb, now);
    return tb->tokens >= 0 ? 0 : -tb->tokens / tb->rate;
}

double evp_tb_take(evp_token_bucket *tb, uint64_t n, double now)
{
    if (tb->rate <= 0)
        return 0;
    refill(tb, now);
    tb->tokens -= (double)n;
    return tb->tokens >= 0 ? 0 : -tb->tokens / tb->rate;
}
