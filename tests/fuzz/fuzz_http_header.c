/* Fuzz target: the "http-header" transport (plugin/http-header). Input: byte 0 chooses
 *   bits 0-1  0: a server with V2Ray's defaults reads the rest as a client's stream;
 *             1: a server serving the paths /a and /b/ (configured) reads it;
 *             2: a client reads it as the server's stream;
 *             3: the rest is tcpSettings JSON: built, a request and a response written;
 *   bits 2-7  the piece size (1..64) of a second run, which must agree with the first.
 * An accepted header is consumed exactly, every byte after it passed up unchanged; a
 * refused request gets V2Ray's 400 or 404 and nothing passes up. */
#include "fuzz_transport.h"

static const char *const configs[3] = {
    "{\"header\":{\"type\":\"http\"}}",
    ("{\"header\":{\"type\":\"http\",\"request\":{\"path\":[\"/a\",\"/b/\"],\"headers\":{"
     "\"Host\":\"x,y\"}},\"response\":{\"status\":\"404\",\"headers\":{\"Date\":\"d\"}}}}"),
    "{\"header\":{\"type\":\"http\"}}",
};
static void *instances[3];

static const evp_transport_ops *ops(void)
{
    return evp_plugin_entry()->transport;
}

static void *instance(int server, const char *json, size_t len)
{
    char err[256];
    char *text = strndup(json, len);
    if (text == NULL)
        abort();
    evp_transport_args a = {.size = sizeof(a),
                            .server = server,
                            .tag = "fuzz",
                            .settings_json = text,
                            .stream_json = "{}"};
    void *inst = ops()->instance_new(fuzz_host_get(), &a, err, sizeof(err));
    if (inst == NULL && (memchr(err, '\n', strlen(err)) != NULL || err[0] == '\0'))
        abort(); /* a refusal says why, on one line */
    free(text);
    return inst;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (int i = 0; i < 3; i++)
        if ((instances[i] = instance(i < 2, configs[i], strlen(configs[i]))) == NULL)
            abort();
    return 0;
}

static int starts(const evp_buf *b, const char *s)
{
    return b->len >= strlen(s) && memcmp(b->data, s, strlen(s)) == 0;
}

/* Builds settings from data; when they hold, a client's first write and a server's answer
 * are whole headers ending in a blank line, followed by the bytes written. */
static void settings(const uint8_t *data, size_t len)
{
    for (int server = 0; server < 2; server++) {
        void *inst = instance(server, (const char *)data, len);
        if (inst == NULL)
            continue;
        void *s = ops()->session_new(inst, NULL);
        evp_buf out = {0}, back = {0};
        evp_io io;
        if (s == NULL ||
            fuzz_call(ops()->encode, s, (const uint8_t *)"z", 1, 0, &out, &back, &io) != EVP_OK)
            abort();
        if (out.len < 5 || memcmp(out.data + out.len - 5, "\r\n\r\nz", 5) != 0)
            abort();
        fuzz_buf_free(&out);
        ops()->session_free(s);
        ops()->instance_free(inst);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    fuzz_host_reset();
    int mode = data[0] & 3;
    size_t piece = (size_t)(data[0] >> 2) + 1;
    data++;
    size--;
    if (mode == 3) {
        settings(data, size);
        return 0;
    }
    fuzz_run whole, split;
    fuzz_transport_run(ops(), instances[mode], data, size, 0, &whole);
    fuzz_transport_run(ops(), instances[mode], data, size, piece, &split);
    fuzz_same_runs(&whole, &split, 1);
    if (whole.targets != 0)
        abort();
    if (whole.status == EVP_ERR) {
        if (whole.out.len != 0)
            abort(); /* nothing passes before the header is whole */
        if (mode == 2 ? whole.back.len != 0
                      : !starts(&whole.back, "HTTP/1.1 400 Bad Request\r\n") &&
                            !starts(&whole.back, "HTTP/1.1 404 Not Found\r\n"))
            abort();
    } else if (whole.out.len > size || whole.back.len != 0 ||
               (whole.out.len &&
                memcmp(whole.out.data, data + size - whole.out.len, whole.out.len) != 0)) {
        abort(); /* after the header, the input's own tail, unchanged */
    }
    fuzz_run_free(&whole);
    fuzz_run_free(&split);
    return 0;
}
