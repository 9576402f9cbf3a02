/* Regexes for JSON Schema. Schemas use ECMA-262 syntax; PCRE2 is much closer to it than POSIX
 * ERE (\d, \w, non-greedy and non-capturing groups, lookahead), so it is the engine when the
 * build links libpcre2-8 (-DEVP_HAVE_PCRE2). Without it we fall back to glibc's POSIX ERE with
 * the common ECMA escapes rewritten, which covers the simple patterns config schemas use. */
#include "jsonschema_regex.h"

#include <stdlib.h>
#include <string.h>

#ifdef EVP_HAVE_PCRE2
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

struct evp_js_regex {
    pcre2_code *code;
};

evp_js_regex *evp_js_regex_compile(const char *pattern, size_t len)
{
    int errcode;
    PCRE2_SIZE erroff;
    /* ECMA: "$" matches only at the very end; \uHHHH escapes; patterns and strings are UTF-8. */
    uint32_t opts = PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_ALT_BSUX | PCRE2_MATCH_INVALID_UTF;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, len, opts, &errcode, &erroff, NULL);
    if (code == NULL)
        return NULL;
    evp_js_regex *re = malloc(sizeof *re);
    if (re == NULL) {
        pcre2_code_free(code);
        return NULL;
    }
    re->code = code;
    return re;
}

int evp_js_regex_search(const evp_js_regex *re, const char *s, size_t len)
{
    /* Match data per call keeps a compiled pattern shareable between threads. */
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re->code, NULL);
    if (md == NULL)
        return -1;
    int rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, 0, md, NULL);
    pcre2_match_data_free(md);
    if (rc >= 0)
        return 1;
    return rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

void evp_js_regex_free(evp_js_regex *re)
{
    if (re == NULL)
        return;
    pcre2_code_free(re->code);
    free(re);
}

#else /* POSIX ERE fallback */
#include <regex.h>

struct evp_js_regex {
    regex_t rx;
};

/* Appends n bytes to the growing output; 0 on allocation failure. */
static int put(char **out, size_t *olen, size_t *ocap, const char *s, size_t n)
{
    if (*olen + n + 1 > *ocap) {
        size_t cap = (*ocap ? *ocap * 2 : 64) + n;
        char *t = realloc(*out, cap);
        if (t == NULL)
            return 0;
        *out = t;
        *ocap = cap;
    }
    memcpy(*out + *olen, s, n);
    *olen += n;
    (*out)[*olen] = '\0';
    return 1;
}

/* Rewrites ECMA syntax into ERE; NULL when it uses something ERE cannot say. */
static char *to_ere(const char *p, size_t len)
{
    char *out = NULL;
    size_t olen = 0, ocap = 0;
    int in_class = 0, ok = 1;
    for (size_t i = 0; ok && i < len; i++) {
        char ch = p[i];
        if (ch == '\0') {
            ok = 0;
        } else if (ch == '\\' && i + 1 < len) {
            char e = p[++i];
            const char *rep = NULL;
            if (e == 'd')
                rep = in_class ? "0-9" : "[0-9]";
            else if (e == 'D' && !in_class)
                rep = "[^0-9]";
            else if (e == 'w')
                rep = in_class ? "A-Za-z0-9_" : "[A-Za-z0-9_]";
            else if (e == 'W' && !in_class)
                rep = "[^A-Za-z0-9_]";
            else if (e == 's')
                rep = in_class ? "[:space:]" : "[[:space:]]";
            else if (e == 'S' && !in_class)
                rep = "[^[:space:]]";
            else if (e == 'n')
                rep = "\n";
            else if (e == 't')
                rep = "\t";
            else if (e == 'r')
                rep = "\r";
            if (rep) {
                ok = put(&out, &olen, &ocap, rep, strlen(rep));
            } else if (in_class) {
                /* A backslash is literal inside an ERE bracket: keep only the escaped char. */
                ok = strchr("DWSbBu", e) == NULL && put(&out, &olen, &ocap, &e, 1);
            } else if (strchr(".[]{}()*+?^$|\\/-", e)) {
                char two[2] = {'\\', e};
                ok = e == '/' || e == '-' ? put(&out, &olen, &ocap, &e, 1)
                                          : put(&out, &olen, &ocap, two, 2);
            } else {
                ok = 0; /* \b, \u, backreferences...: not expressible here */
            }
        } else if (in_class) {
            if (ch == ']')
                in_class = 0;
            ok = put(&out, &olen, &ocap, &ch, 1);
        } else if (ch == '[') {
            in_class = 1;
            ok = put(&out, &olen, &ocap, &ch, 1);
            if (ok && i + 1 < len && p[i + 1] == '^')
                ok = put(&out, &olen, &ocap, &p[++i], 1);
            if (ok && i + 1 < len && p[i + 1] == ']')
                ok = put(&out, &olen, &ocap, &p[++i], 1); /* a leading ] is literal */
        } else if (ch == '(' && i + 2 < len && p[i + 1] == '?') {
            ok = p[i + 2] == ':' && put(&out, &olen, &ocap, "(", 1);
            i += 2;
        } else if ((ch == '?' || ch == '+') && i > 0 && strchr("*+?}", p[i - 1]) &&
                   (i < 2 || p[i - 2] != '\\')) {
            ok = 0; /* lazy or possessive quantifier */
        } else {
            ok = put(&out, &olen, &ocap, &ch, 1);
        }
    }
    if (ok && out == NULL)
        ok = put(&out, &olen, &ocap, "", 0);
    if (!ok) {
        free(out);
        return NULL;
    }
    return out;
}

evp_js_regex *evp_js_regex_compile(const char *pattern, size_t len)
{
    char *ere = to_ere(pattern, len);
    if (ere == NULL)
        return NULL;
    evp_js_regex *re = malloc(sizeof *re);
    if (re != NULL && regcomp(&re->rx, ere, REG_EXTENDED | REG_NOSUB) != 0) {
        free(re);
        re = NULL;
    }
    free(ere);
    return re;
}

int evp_js_regex_search(const evp_js_regex *re, const char *s, size_t len)
{
    regmatch_t m = {.rm_so = 0, .rm_eo = (regoff_t)len};
    int rc = regexec(&re->rx, s, 1, &m, REG_STARTEND);
    if (rc == 0)
        return 1;
    return rc == REG_NOMATCH ? 0 : -1;
}

void evp_js_regex_free(evp_js_regex *re)
{
    if (re == NULL)
        return;
    regfree(&re->rx);
    free(re);
}
#endif
