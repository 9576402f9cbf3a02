/* The host's own codec for sessions whose target is known before they start: a SOCKS UDP
 * destination (session_udp.c), a Mux sub-stream (session_sub.c) and a proxySettings hop
 * (session_chain.c). The target goes to the
 * router at once; then bytes pass unchanged. */
#include "session_int.h"

int evp_sess_fixed_decode(void *sess, evp_io *io)
{
    evp_session *s = sess;
    if (!s->target_named) {
        s->target_named = 1;
        io->target = s->target;
        io->network = (uint8_t)s->network;
        return EVP_TARGET;
    }
    return evp_sess_fixed_encode(sess, io);
}

int evp_sess_fixed_encode(void *sess, evp_io *io)
{
    if (io->in_len && evp_buf_append(io->out, io->in, io->in_len) != 0)
        return EVP_ERR;
    io->consumed = io->in_len;
    return EVP_OK;
}

static void fixed_free(void *sess)
{
}

/* The level its creator gave it (a proxySettings hop: its session's), else 0. */
static uint32_t fixed_level(void *sess)
{
    const evp_session *s = sess;
    return s->level;
}

const evp_inbound_ops evp_sess_fixed_ops = {
    .size = sizeof(evp_inbound_ops),
    .session_free = fixed_free,
    .decode = evp_sess_fixed_decode,
    .encode = evp_sess_fixed_encode,
    .session_level = fixed_level,
    .flags = EVP_IN_PASS,
};
