/* Unit tests of logic.c, natively (./test.sh compiles and runs them). */
#include "logic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;

#define CHECK(cond)                                                      \
    do {                                                                 \
        if (cond) passed++;                                              \
        else { failed++; fprintf(stderr, "%d: failed: %s\n", __LINE__, #cond); } \
    } while (0)

static decision decide(const filter_config *cfg, const char *v) {
    return filter_decide(cfg, (const uint8_t *)v, v ? strlen(v) : 0, v != NULL);
}

static int refused(const char *text) {
    filter_config cfg;
    char *err;
    if (filter_config_parse((const uint8_t *)text, strlen(text), &cfg, &err) == 0) {
        filter_config_free(&cfg);
        return 0;
    }
    free(err);
    return 1;
}

int main(void) {
    filter_config cfg;
    char *err;
    const char *text = "{\"field\":\"level\",\"drop\":[\"debug\"]}";
    if (filter_config_parse((const uint8_t *)text, strlen(text), &cfg, &err)) {
        fprintf(stderr, "config refused: %s\n", err);
        return 1;
    }
    CHECK(decide(&cfg, "{\"level\":\"debug\"}") == DECIDE_DROP);
    CHECK(decide(&cfg, "{\"level\":\"info\"}") == DECIDE_PASS);
    CHECK(decide(&cfg, "{\"msg\":\"x\"}") == DECIDE_PASS);
    CHECK(decide(&cfg, "{\"level\":1}") == DECIDE_PASS);
    CHECK(decide(&cfg, "not json") == DECIDE_REJECT);
    CHECK(decide(&cfg, "[1]") == DECIDE_REJECT);
    CHECK(decide(&cfg, "") == DECIDE_REJECT);
    CHECK(decide(&cfg, NULL) == DECIDE_REJECT);
    filter_config_free(&cfg);
    CHECK(refused("{\"feild\":\"x\"}"));
    CHECK(refused("{\"drop\":\"debug\"}"));
    CHECK(!refused(""));
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
