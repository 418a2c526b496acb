/* fbundle — named files in memory and their wire codec (see fbundle.h). */
#include "fbundle.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbuf.h"

struct fentry {
    char *path;
    char *data;     /* len bytes + NUL */
    size_t len;
};

struct fbundle {
    struct fentry *v;
    size_t n, cap;
    int replay;
};

struct fbundle *fbundle_new_recorder(void)
{
    return calloc(1, sizeof(struct fbundle));
}

static void entry_wipe(struct fentry *e)
{
    if (e->data) {
        /* volatile stores the optimiser keeps: these may be passwords */
        volatile char *p = e->data;
        for (size_t i = 0; i < e->len; i++)
            p[i] = 0;
    }
    free(e->data);
    free(e->path);
}

void fbundle_free(struct fbundle *fb)
{
    if (!fb)
        return;
    for (size_t i = 0; i < fb->n; i++)
        entry_wipe(&fb->v[i]);
    free(fb->v);
    free(fb);
}

static struct fentry *find(const struct fbundle *fb, const char *path)
{
    for (size_t i = 0; i < fb->n; i++)
        if (strcmp(fb->v[i].path, path) == 0)
            return &fb->v[i];
    return NULL;
}

int fbundle_put(struct fbundle *fb, const char *path, const char *data, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    if (len)
        memcpy(copy, data, len);
    copy[len] = '\0';
    struct fentry *e = find(fb, path);
    if (e) {
        char *keep = e->path;
        e->path = NULL;
        entry_wipe(e);
        e->path = keep;
    } else {
        if (fb->n == fb->cap) {
            size_t cap = fb->cap ? fb->cap * 2 : 4;
            struct fentry *v = realloc(fb->v, cap * sizeof *v);
            if (!v) {
                free(copy);
                return -1;
            }
            fb->v = v;
            fb->cap = cap;
        }
        e = &fb->v[fb->n];
        if (!(e->path = strdup(path))) {
            free(copy);
            return -1;
        }
        fb->n++;
    }
    e->data = copy;
    e->len = len;
    return 0;
}

const char *fbundle_get(const struct fbundle *fb, const char *path, size_t *len)
{
    const struct fentry *e = find(fb, path);
    if (!e)
        return NULL;
    if (len)
        *len = e->len;
    return e->data;
}

int fbundle_is_replay(const struct fbundle *fb)
{
    return fb->replay;
}

static void put_u32(struct sbuf *out, size_t v)
{
    uint32_t u = (uint32_t)v;
    sbuf_add(out, &u, sizeof u);
}

int fbundle_encode(const struct fbundle *fb, struct sbuf *out)
{
    for (size_t i = 0; i < fb->n; i++) {
        const struct fentry *e = &fb->v[i];
        size_t pl = strlen(e->path);
        if (pl > UINT32_MAX || e->len > UINT32_MAX)
            return -1;
        put_u32(out, pl);
        sbuf_add(out, e->path, pl);
        put_u32(out, e->len);
        sbuf_add(out, e->data, e->len);
    }
    return out->oom ? -1 : 0;
}

static int get_u32(const char *buf, size_t len, size_t *off, size_t *v)
{
    uint32_t u;
    if (len - *off < sizeof u)
        return -1;
    memcpy(&u, buf + *off, sizeof u);
    *off += sizeof u;
    *v = u;
    return 0;
}

struct fbundle *fbundle_decode(const char *buf, size_t len, char *err, size_t errlen)
{
    struct fbundle *fb = fbundle_new_recorder();
    if (!fb) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    fb->replay = 1;
    size_t off = 0;
    while (off < len) {
        size_t pl, dl;
        if (get_u32(buf, len, &off, &pl) < 0 || pl == 0 || pl > 4096 || len - off < pl)
            goto bad;
        if (memchr(buf + off, '\0', pl))
            goto bad;
        char path[4097];
        memcpy(path, buf + off, pl);
        path[pl] = '\0';
        off += pl;
        if (get_u32(buf, len, &off, &dl) < 0 || len - off < dl)
            goto bad;
        if (fbundle_put(fb, path, buf + off, dl) < 0) {
            snprintf(err, errlen, "out of memory");
            fbundle_free(fb);
            return NULL;
        }
        off += dl;
    }
    return fb;
bad:
    snprintf(err, errlen, "malformed file bundle at byte %zu of %zu", off, len);
    fbundle_free(fb);
    return NULL;
}
