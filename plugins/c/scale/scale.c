/* See scale.h. */
#include "scale.h"

#include "json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *msg(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = malloc((size_t)n + 1);
    if (!s) abort();
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* Field names are printed with %.*s: a name holding NUL is cut there, which
 * only affects the message. */
#define NAME(m) (int)(m)->key_len, (m)->key

static int is_blank(const uint8_t *t, size_t n) {
    /* Rust's str::trim: ASCII whitespace is what a config can hold here. */
    for (size_t i = 0; i < n; i++)
        if (!(t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r' || t[i] == '\v' || t[i] == '\f'))
            return 0;
    return 1;
}

int scale_config_parse(const uint8_t *text, size_t len, scale_config *cfg, char **err) {
    cfg->rules = NULL;
    cfg->len = 0;
    *err = NULL;
    json_value root;
    char perr[200];
    if (is_blank(text, len)) {
        text = (const uint8_t *)"{}";
        len = 2;
    }
    if (json_parse(text, len, &root, perr, sizeof perr)) {
        *err = msg("config is not valid JSON: %s", perr);
        return -1;
    }
    if (root.kind != JSON_OBJECT) {
        json_free(&root);
        *err = msg("config must be a table (JSON object)");
        return -1;
    }
    for (size_t i = 0; i < root.as.obj.len && !*err; i++) {
        json_member *m = &root.as.obj.items[i];
        if (!(m->key_len == 5 && memcmp(m->key, "scale", 5) == 0)) {
            *err = msg("unknown config key '%.*s': the C scale plugin implements only 'scale' "
                       "(json-transform has require, select, rename and set too)", NAME(m));
            break;
        }
        if (m->value.kind != JSON_OBJECT) {
            *err = msg("'scale' must be a table of field names");
            break;
        }
        json_value *table = &m->value;
        for (size_t j = 0; j < table->as.obj.len && !*err; j++) {
            json_member *f = &table->as.obj.items[j];
            if (f->value.kind != JSON_OBJECT) {
                *err = msg("'scale.%.*s' must be a table with multiply and/or offset", NAME(f));
                break;
            }
            scale_rule r = {NULL, f->key_len, 1.0, 0.0};
            for (size_t k = 0; k < f->value.as.obj.len; k++) {
                json_member *e = &f->value.as.obj.items[k];
                double x;
                if (!json_as_double(&e->value, &x)) {
                    *err = msg("'scale.%.*s.%.*s' must be a number", NAME(f), NAME(e));
                    break;
                }
                if (e->key_len == 8 && memcmp(e->key, "multiply", 8) == 0) r.multiply = x;
                else if (e->key_len == 6 && memcmp(e->key, "offset", 6) == 0) r.offset = x;
                else {
                    *err = msg("unknown key 'scale.%.*s.%.*s': expected multiply or offset", NAME(f), NAME(e));
                    break;
                }
            }
            if (*err) break;
            r.field = malloc(f->key_len + 1);
            if (!r.field) abort();
            memcpy(r.field, f->key, f->key_len);
            r.field[f->key_len] = 0;
            cfg->rules = realloc(cfg->rules, (cfg->len + 1) * sizeof(scale_rule));
            if (!cfg->rules) abort();
            cfg->rules[cfg->len++] = r;
        }
    }
    json_free(&root);
    if (*err) {
        scale_config_free(cfg);
        return -1;
    }
    return 0;
}

void scale_config_free(scale_config *cfg) {
    for (size_t i = 0; i < cfg->len; i++) free(cfg->rules[i].field);
    free(cfg->rules);
    cfg->rules = NULL;
    cfg->len = 0;
}

int scale_transform(const scale_config *cfg, const uint8_t *value, size_t len, int present,
                    uint8_t **out, size_t *out_len, char **reason) {
    *out = NULL;
    *out_len = 0;
    *reason = NULL;
    if (!present || len == 0) {
        *reason = msg("empty value: expected a JSON object");
        return -1;
    }
    json_value rec;
    char perr[200];
    if (json_parse(value, len, &rec, perr, sizeof perr)) {
        *reason = msg("value is not valid JSON: %s", perr);
        return -1;
    }
    if (rec.kind != JSON_OBJECT) {
        json_free(&rec);
        *reason = msg("value is not a JSON object");
        return -1;
    }
    for (size_t i = 0; i < cfg->len; i++) {
        const scale_rule *r = &cfg->rules[i];
        json_value *v = json_get(&rec, r->field, r->field_len);
        if (!v) continue;
        double x;
        if (!json_as_double(v, &x)) {
            *reason = msg("field '%s' is not a number", r->field);
            break;
        }
        double y = x * r->multiply + r->offset;
        if (!isfinite(y)) {
            *reason = msg("field '%s' scaled to a non-finite number", r->field);
            break;
        }
        v->kind = JSON_FLOAT;
        v->as.f = y;
    }
    if (*reason) {
        json_free(&rec);
        return -1;
    }
    json_buf b = {0};
    json_write(&b, &rec);
    json_free(&rec);
    *out = b.ptr;
    *out_len = b.len;
    return 0;
}
