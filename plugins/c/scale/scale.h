/* The scale plugin's logic, free of the component bindings so it can be
 * tested natively (test_scale.c).
 *
 * It is the C twin of the Rust json-transform plugin restricted to its
 * `scale` step: for each configured field present in a JSON object record,
 * `value * multiply + offset` (defaults 1 and 0) replaces the value, as a
 * float. Every other field passes through. Outputs and reasons match the
 * Rust plugin byte for byte, except the detail after
 * "value is not valid JSON: ".
 */
#ifndef WASP_SCALE_H
#define WASP_SCALE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *field;
    size_t field_len;
    double multiply, offset;
} scale_rule;

typedef struct {
    scale_rule *rules;
    size_t len;
} scale_config;

/* Parse the stage config (JSON). 0 on success; else -1 and a malloc'd,
 * NUL-terminated message in *err saying what to fix. */
int scale_config_parse(const uint8_t *text, size_t len, scale_config *cfg, char **err);

void scale_config_free(scale_config *cfg);

/* Transform one record value (NULL for a tombstone). 0 and malloc'd bytes
 * in *out and *out_len on success; else -1 and a malloc'd reason in *reason. */
int scale_transform(const scale_config *cfg, const uint8_t *value, size_t len, int present,
                    uint8_t **out, size_t *out_len, char **reason);

#endif
