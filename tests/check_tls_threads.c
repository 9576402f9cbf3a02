/* One client and one server instance of the tls layer shared by sessions on several threads
 * while the main thread reloads both (instance_update), as workers and the reload thread do:
 * every handshake succeeds, the client's saved session (locked) is used across threads, and
 * a configuration swapped out stays alive for the sessions that hold it (ASan/TSan builds
 * check the rest). */
#include "tls_fixture.h"

#include <pthread.h>

#define THREADS 3
#define LINKS_PER_THREAD 12
#define UPDATES 8

static tls_certs certs;

static void setup(void)
{
    tls_certs_make(&certs);
}

static void teardown(void)
{
    tls_certs_clean(&certs);
}

typedef struct worker {
    void *cli, *srv;
    int up;      /* handshakes that completed */
    int resumed; /* of those, resumed by the client */
    char reason[128];
} worker;

/* Check's assertions are not thread-safe: workers only count, the main thread asserts. */
static void *work(void *p)
{
    worker *w = p;
    for (int i = 0; i < LINKS_PER_THREAD; i++) {
        tls_link l;
        memset(&l, 0, sizeof l);
        evp_addr dom = {EVP_ADDR_DOMAIN, 12, 443, "example.test"};
        evp_addr from = {EVP_ADDR_IPV4, 4, 1000, {127, 0, 0, 1}};
        l.cli.sess = tls_ops()->session_new(w->cli, &dom);
        l.srv.sess = tls_ops()->session_new(w->srv, &from);
        l.step = l.app_step = 1 << 20;
        if (l.cli.sess == NULL || l.srv.sess == NULL)
            break;
        int settled = tls_link_step_all(&l) == 0;
        if (settled && tls_link_up(&l) && !l.cli.failed && !l.srv.failed) {
            w->up++;
            w->resumed += tls_session_resumed(l.cli.sess);
        } else {
            snprintf(w->reason, sizeof w->reason, "%s",
                     !settled       ? "did not settle"
                     : l.cli.failed ? l.cli.reason
                                    : l.srv.reason);
        }
        tls_link_close(&l);
    }
    return NULL;
}

START_TEST(sessions_on_threads_while_reloading)
{
    char crt[256], key[256], json[1024], err[256] = "";
    tls_write_file(&certs, "s.crt", certs.server.cert, crt, sizeof crt);
    tls_write_file(&certs, "s.key", certs.server.key, key, sizeof key);
    snprintf(json, sizeof json,
             "{\"certificates\":[{\"certificateFile\":\"%s\",\"keyFile\":\"%s\"}]}", crt, key);
    evp_transport_args sargs = {sizeof sargs, 1, "in", json, "{}"};
    void *srv = tls_ops()->instance_new(test_host_get(), &sargs, err, sizeof err);
    ck_assert_msg(srv != NULL, "%s", err);
    void *cli = tls_client_ca(&certs, "example.test", NULL, NULL);
    worker w[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].cli = cli;
        w[i].srv = srv;
        ck_assert_int_eq(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < UPDATES; i++) { /* renewals, both certificates from the same CA */
        const tls_pem *pem = i % 2 ? &certs.server : &certs.renewed;
        tls_write_file(&certs, "s.crt", pem->cert, crt, sizeof crt);
        tls_write_file(&certs, "s.key", pem->key, key, sizeof key);
        int rc = tls_ops()->instance_update(srv, &sargs, err, sizeof err);
        /* The files are swapped one at a time: between the two, the pair may not match. */
        ck_assert_msg(rc == 0 || strstr(err, "do not match"), "update %d: %s", i, err);
    }
    int up = 0, resumed = 0;
    for (int i = 0; i < THREADS; i++) {
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        ck_assert_msg(w[i].up == LINKS_PER_THREAD, "thread %d: %d up; %s", i, w[i].up, w[i].reason);
        up += w[i].up;
        resumed += w[i].resumed;
    }
    ck_assert_int_eq(up, THREADS * LINKS_PER_THREAD);
    ck_assert_int_gt(resumed, 0); /* the saved session crossed threads */
    tls_ops()->instance_free(cli);
    tls_ops()->instance_free(srv);
}
END_TEST

Suite *tls_threads_suite(void)
{
    Suite *s = suite_create("tls_threads");
    TCase *tc = tcase_create("threads");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, sessions_on_threads_while_reloading);
    suite_add_tcase(s, tc);
    return s;
}
