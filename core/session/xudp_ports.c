/* XUDP Global IDs: the table of kept outbound sockets (see xudp_ports.h). A fixed table under
 * one lock: it is touched once per full-cone sub-stream, never per datagram. */
#include "xudp_ports.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define KEPT_MAX 512

typedef struct kept_port {
    uint8_t id[EVP_XUDP_ID_LEN];
    int fd; /* -1: a free slot */
    int family;
    double until;
} kept_port;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static kept_port kept[KEPT_MAX];
static unsigned n_kept;
static int slots_ready;

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void slots_init(void)
{
    if (slots_ready)
        return;
    for (unsigned i = 0; i < KEPT_MAX; i++)
        kept[i].fd = -1;
    slots_ready = 1;
}

static void slot_drop(kept_port *k)
{
    close(k->fd);
    k->fd = -1;
    n_kept--;
}

/* Closes what waited too long; called under the lock. */
static void sweep(double now)
{
    for (unsigned i = 0; i < KEPT_MAX && n_kept > 0; i++)
        if (kept[i].fd != -1 && kept[i].until <= now)
            slot_drop(&kept[i]);
}

int evp_xudp_id_set(const uint8_t id[EVP_XUDP_ID_LEN])
{
    static const uint8_t zero[EVP_XUDP_ID_LEN];
    return memcmp(id, zero, EVP_XUDP_ID_LEN) != 0;
}

int evp_xudp_port_take(const uint8_t id[EVP_XUDP_ID_LEN], int family)
{
    int fd = -1;
    pthread_mutex_lock(&lock);
    slots_init();
    sweep(now_mono());
    for (unsigned i = 0; i < KEPT_MAX && fd == -1; i++)
        if (kept[i].fd != -1 && memcmp(kept[i].id, id, EVP_XUDP_ID_LEN) == 0) {
            if (kept[i].family == family) {
                fd = kept[i].fd;
                kept[i].fd = -1;
                n_kept--;
            } else {
                slot_drop(&kept[i]); /* the target changed family: that port is no use */
            }
        }
    pthread_mutex_unlock(&lock);
    return fd;
}

void evp_xudp_port_keep(const uint8_t id[EVP_XUDP_ID_LEN], int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
        close(fd);
        return;
    }
    double now = now_mono();
    kept_port *slot = NULL;
    pthread_mutex_lock(&lock);
    slots_init();
    sweep(now);
    for (unsigned i = 0; i < KEPT_MAX; i++) {
        if (kept[i].fd != -1 && memcmp(kept[i].id, id, EVP_XUDP_ID_LEN) == 0)
            slot_drop(&kept[i]); /* one socket per ID: the newest one's */
        if (kept[i].fd == -1 && slot == NULL)
            slot = &kept[i];
    }
    if (slot) {
        memcpy(slot->id, id, EVP_XUDP_ID_LEN);
        slot->fd = fd;
        slot->family = ss.ss_family;
        slot->until = now + EVP_XUDP_LINGER;
        n_kept++;
    }
    pthread_mutex_unlock(&lock);
    if (slot == NULL)
        close(fd); /* full: this ID starts afresh next time */
}

unsigned evp_xudp_ports_kept(void)
{
    pthread_mutex_lock(&lock);
    unsigned n = n_kept;
    pthread_mutex_unlock(&lock);
    return n;
}

void evp_xudp_ports_clear(void)
{
    pthread_mutex_lock(&lock);
    for (unsigned i = 0; i < KEPT_MAX && slots_ready; i++)
        if (kept[i].fd != -1)
            slot_drop(&kept[i]);
    pthread_mutex_unlock(&lock);
}

static uint8_t id_key[crypto_generichash_KEYBYTES];
static pthread_once_t id_key_once = PTHREAD_ONCE_INIT;

static void id_key_make(void)
{
    randombytes_buf(id_key, sizeof id_key);
}

void evp_xudp_id_for(const char *material, uint8_t out[EVP_XUDP_ID_LEN])
{
    pthread_once(&id_key_once, id_key_make);
    crypto_generichash(out, EVP_XUDP_ID_LEN, (const uint8_t *)material, strlen(material), id_key,
                       sizeof id_key);
    if (!evp_xudp_id_set(out))
        out[0] = 1; /* all zero would read as no ID */
}
