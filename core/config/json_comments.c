/* V2Ray's comment-stripping JSON reader, as a state machine over the file's bytes. */
#include "json_comments.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum strip_state { CONTENT, ESCAPE, DQUOTE, DQUOTE_ESC, SQUOTE, SQUOTE_ESC, LINE_COMMENT, SLASH,
                   BLOCK, BLOCK_STAR };

size_t evp_json_strip_comments(const char *text, size_t len, char *out)
{
    size_t n = 0;
    int st = CONTENT;
    for (size_t i = 0; i < len; i++) {
        char x = text[i];
        switch (st) {
        case CONTENT:
            if (x == '#' || x == '/' || x == '\\') {
                st = x == '#' ? LINE_COMMENT : x == '/' ? SLASH : ESCAPE;
                continue;
            }
            st = x == '"' ? DQUOTE : x == '\'' ? SQUOTE : CONTENT;
            out[n++] = x;
            break;
        case ESCAPE: case DQUOTE_ESC: case SQUOTE_ESC:
            /* a backslash and the byte after it are kept as they are */
            out[n++] = '\\';
            out[n++] = x;
            st = st == ESCAPE ? CONTENT : st == DQUOTE_ESC ? DQUOTE : SQUOTE;
            break;
        case DQUOTE: case SQUOTE:
            if (x == '\\') {
                st = st == DQUOTE ? DQUOTE_ESC : SQUOTE_ESC;
                continue;
            }
            if (x == (st == DQUOTE ? '"' : '\''))
                st = CONTENT;
            out[n++] = x;
            break;
        case LINE_COMMENT:
            if (x == '\n') {
                st = CONTENT;
                out[n++] = x;
            }
            break;
        case SLASH:
            if (x == '/' || x == '*') {
                st = x == '/' ? LINE_COMMENT : BLOCK;
                continue;
            }
            out[n++] = '/'; /* a lone slash: JSON will refuse it where it stands */
            out[n++] = x;
            st = CONTENT;
            break;
        default: /* BLOCK, BLOCK_STAR */
            if (x == '\n')
                out[n++] = x;
            else if (st == BLOCK_STAR && x == '/')
                st = CONTENT;
            else
                st = x == '*' ? BLOCK_STAR : BLOCK;
            break;
        }
    }
    return n;
}

json_t *evp_json_load_commented(const char *path, size_t flags, json_error_t *je)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL, *clean = NULL;
    long size = -1;
    if (f != NULL && fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (text = malloc((size_t)size + 1)) != NULL &&
        (clean = malloc((size_t)size + 1)) != NULL &&
        fread(text, 1, (size_t)size, f) == (size_t)size) {
        fclose(f);
        size_t n = evp_json_strip_comments(text, (size_t)size, clean);
        json_t *root = json_loadb(clean, n, flags, je);
        if (root == NULL)
            snprintf(je->source, sizeof je->source, "%s", path);
        free(text);
        free(clean);
        return root;
    }
    int err = errno;
    if (f != NULL)
        fclose(f);
    free(text);
    free(clean);
    memset(je, 0, sizeof *je);
    snprintf(je->source, sizeof je->source, "%s", path);
    snprintf(je->text, sizeof je->text, "unable to open %s: %s", path, strerror(err));
    je->line = -1;
    je->column = -1;
    return NULL;
}
