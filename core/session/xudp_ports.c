/* XUDP Global IDs: the table of outbound sockets by ID, held or kept (see xudp_ports.h). A
 * fixed table under one lock: it is touched as a full-cone sub-stream starts and ends, never
 * per datagram. */
#include "xudp_ports.h"

#include <fcntl.h>
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
    atomic_int *holder; /* the running sub-stream's flag, or NULL: kept, nobody holds it */
    double until;       /* kept: when it is closed */
} kept_port;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static kept_port kept[KEPT_MAX];
static unsigned n_used;
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

/* Frees a slot; a kept socket is closed unless handed over (a held one is its holder's). */
static void slot_free(kept_port *k, int handed_over)
{
    if (k->holder == NULL && !handed_over)
        close(k->fd);
    k->fd = -1;
    k->holder = NULL;
    n_used--;
}

static void slot_drop(kept_port *k)
{
    slot_free(k, 0);
}

/* Closes what was kept too long; called under the lock. */
static void sweep(double now)
{
    for (unsigned i = 0; i < KEPT_MAX && n_used > 0; i++)
        if (kept[i].fd != -1 && kept[i].holder == NULL && kept[i].until <= now)
            slot_drop(&kept[i]);
}

static kept_port *slot_of(const uint8_t id[EVP_XUDP_ID_LEN])
{
    for (unsigned i = 0; i < KEPT_MAX; i++)
        if (kept[i].fd != -1 && memcmp(kept[i].id, id, EVP_XUDP_ID_LEN) == 0)
            return &kept[i];
    return NULL;
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
    kept_port *k = slot_of(id);
    if (k && k->family != family) {
        slot_drop(k); /* the target changed family: that port is no use */
    } else if (k && k->holder) {
        fd = fcntl(k->fd, F_DUPFD_CLOEXEC, 0); /* the holder lets go at its next look */
        if (fd != -1) {
            atomic_store(k->holder, 1);
            slot_drop(k);
        }
    } else if (k) {
        fd = k->fd;
        slot_free(k, 1); /* the caller's now */
    }
    pthread_mutex_unlock(&lock);
    return fd;
}

void evp_xudp_port_hold(const uint8_t id[EVP_XUDP_ID_LEN], int fd, atomic_int *stolen)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
        return;
    pthread_mutex_lock(&lock);
    slots_init();
    kept_port *k = slot_of(id);
    if (k)
        slot_drop(k); /* one socket per ID: the newest sub-stream's */
    for (unsigned i = 0; i < KEPT_MAX && k == NULL; i++)
        if (kept[i].fd == -1)
            k = &kept[i];
    if (k && k->fd == -1) {
        memcpy(k->id, id, EVP_XUDP_ID_LEN);
        k->fd = fd;
        k->family = ss.ss_family;
        k->holder = stolen;
        n_used++;
    }
    pthread_mutex_unlock(&lock);
}

void evp_xudp_port_release(const uint8_t id[EVP_XUDP_ID_LEN], int fd, atomic_int *stolen)
{
    int keep = 0;
    pthread_mutex_lock(&lock);
    slots_init();
    sweep(now_mono());
    kept_port *k = slot_of(id);
    if (k && k->holder == stolen && k->fd == fd) {
        k->holder = NULL;
        k->until = now_mono() + EVP_XUDP_LINGER;
        keep = 1;
    }
    pthread_mutex_unlock(&lock);
    if (!keep)
        close(fd); /* taken by another sub-stream, or never recorded (the table was full) */
}

unsigned evp_xudp_ports_kept(void)
{
    unsigned n = 0;
    pthread_mutex_lock(&lock);
    for (unsigned i = 0; i < KEPT_MAX && slots_ready; i++)
        n += kept[i].fd != -1 && kept[i].holder == NULL;
    pthread_mutex_unlock(&lock);
    return n;
}

void evp_xudp_ports_clear(void)
{
    pthread_mutex_lock(&lock);
    for (unsigned i = 0; i < KEPT_MAX && slots_ready; i++)
        if (kept[i].fd != -1 && kept[i].holder == NULL)
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
