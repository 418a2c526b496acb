#include "addrlist.h"

#include <stdlib.h>
#include <string.h>

int addrlist_parse(const char *s, size_t len,
                   void (*cb)(const char *addr, size_t n, void *arg), void *arg)
{
    /* neither part can grow past the input */
    char *plain = malloc(len + 1), *angle = malloc(len + 1);
    if (!plain || !angle) {
        free(plain);
        free(angle);
        return -1;
    }
    size_t pl = 0, al = 0;
    int quote = 0, comment = 0, literal = 0, in_angle = 0, had_angle = 0, count = 0;
    for (size_t i = 0; i <= len; i++) {
        char c = i < len ? s[i] : ',';     /* the end closes the last element */
        char *cur = in_angle ? angle : plain;
        size_t *cl = in_angle ? &al : &pl;
        if (i < len && comment) {
            if (c == '\\' && i + 1 < len)
                i++;
            else if (c == '(')
                comment++;
            else if (c == ')')
                comment--;
            continue;
        }
        if (i < len && quote) {
            cur[(*cl)++] = c;
            if (c == '\\' && i + 1 < len)
                cur[(*cl)++] = s[++i];
            else if (c == '"')
                quote = 0;
            continue;
        }
        if (i < len && literal) {
            cur[(*cl)++] = c;                 /* [IPv6:::1]: no groups, no commas */
            if (c == ']')
                literal = 0;
            continue;
        }
        if (c == '"') {
            quote = 1;
            cur[(*cl)++] = c;
        } else if (c == '[') {
            literal = 1;
            cur[(*cl)++] = c;
        } else if (c == '(') {
            comment = 1;
        } else if (c == '<' && !in_angle) {
            in_angle = had_angle = 1;
            al = 0;
        } else if (c == '>' && in_angle) {
            in_angle = 0;
        } else if (c == ':' && !in_angle) {
            pl = 0;                           /* "group name:" */
        } else if ((c == ',' || c == ';') && (!in_angle || i == len)) {
            const char *p = had_angle ? angle : plain;
            size_t n = had_angle ? al : pl;
            if (had_angle && n && p[0] == '@') {
                const char *colon = memchr(p, ':', n);
                if (colon) {
                    n -= (size_t)(colon + 1 - p);
                    p = colon + 1;
                }
            }
            if (n > 0) {
                cb(p, n, arg);
                count++;
            }
            pl = al = 0;
            had_angle = in_angle = 0;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            /* folding white space outside quotes means nothing */
        } else {
            cur[(*cl)++] = c;
        }
    }
    free(plain);
    free(angle);
    return count;
}
