/* Growable byte buffers. */
#include "buf.h"

#include <stdlib.h>
#include <string.h>

uint8_t *evp_buf_reserve(evp_buf *b, size_t n)
{
    if (b->cap - b->len >= n)
        return b->data + b->len;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < n) {
        if (cap > SIZE_MAX / 2)
            return NULL;
        cap *= 2;
    }
    uint8_t *p = realloc(b->data, cap);
    if (p == NULL)
        return NULL;
    b->data = p;
    b->cap = cap;
    return b->data + b->len;
}

int evp_buf_append(evp_buf *b, const void *p, size_t n)
{
    uint8_t *dst = evp_buf_reserve(b, n);
    if (dst == NULL)
        return -1;
    if (n)
        memcpy(dst, p, n);
    b->len += n;
    return 0;
}

void evp_buf_consume(evp_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

void evp_buf_free(evp_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void evp_buf_trim(evp_buf *b)
{
    if (b->len == 0 && b->cap > 0)
        evp_buf_free(b);
}
