/* The {{name}} logic, free of the component bindings so it is unit-tested
 * natively (test_logic.c). */
#ifndef LOGIC_H
#define LOGIC_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *field;
    char **drop;
    size_t drop_len;
} filter_config;

typedef enum { DECIDE_PASS, DECIDE_DROP, DECIDE_REJECT } decision;

/* 0 on success; else -1 and a malloc'd message in *err. */
int filter_config_parse(const uint8_t *text, size_t len, filter_config *cfg, char **err);
void filter_config_free(filter_config *cfg);

/* The decision for one record value (present = 0 for a tombstone). */
decision filter_decide(const filter_config *cfg, const uint8_t *value, size_t len, int present);

#endif
