/* Drops records whose JSON field `field` holds one of the strings in
 * `drop`, forwards every other JSON object unchanged and rejects values
 * that are not JSON objects. JSON parsing: json.c (strict, like serde_json). */
#include "logic.h"

#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_n(const char *s, size_t n) {
    char *r = malloc(n + 1);
    if (!r) abort();
    memcpy(r, s, n);
    r[n] = 0;
    return r;
}

static char *message(const char *text) { return dup_n(text, strlen(text)); }

int filter_config_parse(const uint8_t *text, size_t len, filter_config *cfg, char **err) {
    memset(cfg, 0, sizeof *cfg);
    *err = NULL;
    json_value root;
    char perr[160];
    int blank = 1;
    for (size_t i = 0; i < len; i++)
        if (text[i] != ' ' && text[i] != '\n' && text[i] != '\t' && text[i] != '\r') blank = 0;
    if (blank) {
        text = (const uint8_t *)"{}";
        len = 2;
    }
    if (json_parse(text, len, &root, perr, sizeof perr)) {
        char buf[200];
        snprintf(buf, sizeof buf, "config is not valid JSON: %s", perr);
        *err = message(buf);
        return -1;
    }
    if (root.kind != JSON_OBJECT) {
        json_free(&root);
        *err = message("config must be a table (JSON object)");
        return -1;
    }
    cfg->field = message("level");
    for (size_t i = 0; i < root.as.obj.len && !*err; i++) {
        json_member *m = &root.as.obj.items[i];
        json_value *v = &m->value;
        if (m->key_len == 5 && memcmp(m->key, "field", 5) == 0) {
            if (v->kind != JSON_STRING) { *err = message("'field' must be a field name"); break; }
            free(cfg->field);
            cfg->field = dup_n(v->as.str.ptr, v->as.str.len);
        } else if (m->key_len == 4 && memcmp(m->key, "drop", 4) == 0) {
            if (v->kind != JSON_ARRAY) { *err = message("'drop' must be a list of strings"); break; }
            cfg->drop = calloc(v->as.arr.len + 1, sizeof(char *));
            if (!cfg->drop) abort();
            for (size_t j = 0; j < v->as.arr.len; j++) {
                json_value *d = &v->as.arr.items[j];
                if (d->kind != JSON_STRING) { *err = message("'drop' must be a list of strings"); break; }
                cfg->drop[cfg->drop_len++] = dup_n(d->as.str.ptr, d->as.str.len);
            }
        } else {
            char buf[200];
            snprintf(buf, sizeof buf, "unknown config key '%.*s': expected field or drop", (int)m->key_len, m->key);
            *err = message(buf);
        }
    }
    json_free(&root);
    if (*err) {
        filter_config_free(cfg);
        return -1;
    }
    return 0;
}

void filter_config_free(filter_config *cfg) {
    for (size_t i = 0; i < cfg->drop_len; i++) free(cfg->drop[i]);
    free(cfg->drop);
    free(cfg->field);
    memset(cfg, 0, sizeof *cfg);
}

decision filter_decide(const filter_config *cfg, const uint8_t *value, size_t len, int present) {
    json_value record;
    char perr[160];
    if (!present || json_parse(value, len, &record, perr, sizeof perr)) return DECIDE_REJECT;
    decision d = DECIDE_PASS;
    if (record.kind != JSON_OBJECT) {
        d = DECIDE_REJECT;
    } else {
        json_value *v = json_get(&record, cfg->field, strlen(cfg->field));
        if (v && v->kind == JSON_STRING) {
            for (size_t i = 0; i < cfg->drop_len; i++)
                if (strlen(cfg->drop[i]) == v->as.str.len && memcmp(cfg->drop[i], v->as.str.ptr, v->as.str.len) == 0)
                    d = DECIDE_DROP;
        }
    }
    json_free(&record);
    return d;
}
