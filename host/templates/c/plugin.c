/* {{name}} as a wasp component: the contract's C bindings (generated into
 * build/ by ./build.sh with `wit-bindgen c`) adapted to logic.c.
 *
 * Ownership (wit-bindgen's C rules): the arguments of an exported function
 * belong to it and are freed here; what it returns is freed by the
 * generated post-return functions, so returned buffers are malloc'd.
 */
#include "plugin.h"
#include "logic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static filter_config CONFIG;
static int CONFIGURED;

void exports_wasp_plugin_processor_info(exports_wasp_plugin_processor_plugin_info_t *ret) {
    plugin_string_dup(&ret->name, "{{name}}");
    plugin_string_dup(&ret->version, "0.1.0");
    plugin_string_dup(&ret->description, "drops records by the value of a field");
}

bool exports_wasp_plugin_processor_init(plugin_string_t *config, plugin_string_t *err) {
    filter_config cfg;
    char *message;
    int rc = filter_config_parse(config->ptr, config->len, &cfg, &message);
    plugin_string_free(config);
    if (rc) {
        plugin_string_dup(err, message); /* refuses the config; shown to the user */
        free(message);
        return false;
    }
    if (CONFIGURED) filter_config_free(&CONFIG);
    CONFIG = cfg;
    CONFIGURED = 1;
    char line[160];
    snprintf(line, sizeof line, "{{name}}: dropping %zu values of '%s'", CONFIG.drop_len, CONFIG.field);
    plugin_string_t s;
    plugin_string_set(&s, line);
    wasp_plugin_log_log(WASP_PLUGIN_TYPES_LEVEL_INFO, &s);
    return true;
}

void exports_wasp_plugin_processor_process(exports_wasp_plugin_processor_batch_info_t *info,
                                           exports_wasp_plugin_processor_list_message_t *batch,
                                           exports_wasp_plugin_processor_list_verdict_t *ret) {
    ret->len = batch->len;
    ret->ptr = calloc(batch->len ? batch->len : 1, sizeof *ret->ptr);
    if (!ret->ptr) abort();
    for (size_t i = 0; i < batch->len; i++) {
        exports_wasp_plugin_processor_message_t *m = &batch->ptr[i];
        switch (filter_decide(&CONFIG, m->value.val.ptr, m->value.val.len, m->value.is_some)) {
        case DECIDE_PASS: ret->ptr[i].tag = WASP_PLUGIN_TYPES_VERDICT_PASS; break;
        case DECIDE_DROP: ret->ptr[i].tag = WASP_PLUGIN_TYPES_VERDICT_DROP; break;
        case DECIDE_REJECT:
            ret->ptr[i].tag = WASP_PLUGIN_TYPES_VERDICT_REJECT;
            plugin_string_dup(&ret->ptr[i].val.reject, "value is not a JSON object");
            break;
        }
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
