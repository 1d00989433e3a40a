/* The scale plugin as a wasp component: the contract's C bindings
 * (generated into build/ by scripts/build-c-plugins with `wit-bindgen c`)
 * adapted to the logic in scale.c.
 *
 * Ownership follows wit-bindgen's C rules: the arguments of an exported
 * function belong to it (freed here), and what it returns is freed by the
 * generated post-return functions, so every returned buffer is malloc'd.
 */
#include "plugin.h"
#include "scale.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The configured stage; the host calls init before anything else. */
static scale_config CONFIG;
static int CONFIGURED;

static void log_info(const char *text) {
    plugin_string_t s;
    plugin_string_set(&s, text); /* borrowed: the host copies it */
    wasp_plugin_log_log(WASP_PLUGIN_TYPES_LEVEL_INFO, &s);
}

void exports_wasp_plugin_processor_info(exports_wasp_plugin_processor_plugin_info_t *ret) {
    plugin_string_dup(&ret->name, "scale-c");
    plugin_string_dup(&ret->version, "0.1.0");
    plugin_string_dup(&ret->description,
                      "multiply/offset numeric fields of JSON records (C twin of json-transform's scale)");
}

bool exports_wasp_plugin_processor_init(plugin_string_t *config, plugin_string_t *err) {
    scale_config cfg;
    char *message = NULL;
    int rc = scale_config_parse(config->ptr, config->len, &cfg, &message);
    plugin_string_free(config);
    if (rc) {
        plugin_string_dup(err, message);
        free(message);
        return false; /* a refused config keeps the previous one */
    }
    if (CONFIGURED) scale_config_free(&CONFIG);
    CONFIG = cfg;
    CONFIGURED = 1;
    char line[96];
    snprintf(line, sizeof line, "scale-c configured: %zu scale fields", CONFIG.len);
    log_info(line);
    return true;
}

static void reject(exports_wasp_plugin_processor_verdict_t *v, char *reason) {
    v->tag = WASP_PLUGIN_TYPES_VERDICT_REJECT;
    v->val.reject.ptr = (uint8_t *)reason; /* malloc'd; freed by post-return */
    v->val.reject.len = strlen(reason);
}

void exports_wasp_plugin_processor_process(exports_wasp_plugin_processor_batch_info_t *info,
                                           exports_wasp_plugin_processor_list_message_t *batch,
                                           exports_wasp_plugin_processor_list_verdict_t *ret) {
    if (!CONFIGURED) abort(); /* a host bug: trap */
    ret->len = batch->len;
    ret->ptr = calloc(batch->len ? batch->len : 1, sizeof *ret->ptr);
    if (!ret->ptr) abort();
    uint64_t scaled = 0;
    for (size_t i = 0; i < batch->len; i++) {
        exports_wasp_plugin_processor_message_t *m = &batch->ptr[i];
        exports_wasp_plugin_processor_verdict_t *v = &ret->ptr[i];
        uint8_t *out;
        size_t out_len;
        char *reason;
        if (scale_transform(&CONFIG, m->value.val.ptr, m->value.val.len, m->value.is_some, &out,
                            &out_len, &reason)) {
            reject(v, reason);
            continue;
        }
        v->tag = WASP_PLUGIN_TYPES_VERDICT_VALUE;
        v->val.value.ptr = out;
        v->val.value.len = out_len;
        scaled++;
    }
    if (scaled) {
        plugin_string_t name;
        plugin_string_set(&name, "scaled");
        wasp_plugin_metrics_counter_add(&name, scaled);
    }
    exports_wasp_plugin_processor_batch_info_free(info);
    exports_wasp_plugin_processor_list_message_free(batch);
}

void exports_wasp_plugin_processor_learn(exports_wasp_plugin_processor_batch_info_t *info,
                                         exports_wasp_plugin_processor_list_message_t *batch,
                                         exports_wasp_plugin_processor_list_verdict_t *ret) {
    ret->len = batch->len;
    ret->ptr = calloc(batch->len ? batch->len : 1, sizeof *ret->ptr);
    if (!ret->ptr) abort();
    for (size_t i = 0; i < batch->len; i++) ret->ptr[i].tag = WASP_PLUGIN_TYPES_VERDICT_DROP;
    exports_wasp_plugin_processor_batch_info_free(info);
    exports_wasp_plugin_processor_list_message_free(batch);
}
