/* Native tests of the scale logic (no Wasm needed):
 *
 *   cc -std=c11 -Wall -ffp-contract=off -o /tmp/test_scale test_scale.c scale.c json.c -lm && /tmp/test_scale
 *
 * Expected bytes are what the Rust json-transform plugin (serde_json)
 * writes for the same input and config.
 */
#include "scale.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures, checks;

static void check_str(const char *what, const char *got, const char *want, int line) {
    checks++;
    if (strcmp(got, want) != 0) {
        failures++;
        fprintf(stderr, "line %d: %s\n  got:  %s\n  want: %s\n", line, what, got, want);
    }
}

static scale_config config(const char *text) {
    scale_config cfg;
    char *err;
    if (scale_config_parse((const uint8_t *)text, strlen(text), &cfg, &err)) {
        fprintf(stderr, "config %s refused: %s\n", text, err);
        exit(1);
    }
    return cfg;
}

/* The output, or "reject: <reason>". Caller frees. */
static char *run(const char *cfg_text, const char *value) {
    scale_config cfg = config(cfg_text);
    uint8_t *out;
    size_t len;
    char *reason;
    char *result;
    if (scale_transform(&cfg, (const uint8_t *)value, value ? strlen(value) : 0, value != NULL, &out,
                        &len, &reason)) {
        result = malloc(strlen(reason) + 9);
        sprintf(result, "reject: %s", reason);
        free(reason);
    } else {
        result = malloc(len + 1);
        memcpy(result, out, len);
        result[len] = 0;
        free(out);
    }
    scale_config_free(&cfg);
    return result;
}

#define EXPECT(cfg, value, want)                      \
    do {                                              \
        char *got_ = run(cfg, value);                 \
        check_str(value ? value : "(none)", got_, want, __LINE__); \
        free(got_);                                   \
    } while (0)

static void expect_prefix(const char *cfg, const char *value, const char *prefix, int line) {
    char *got = run(cfg, value);
    checks++;
    if (strncmp(got, prefix, strlen(prefix)) != 0) {
        failures++;
        fprintf(stderr, "line %d: %s\n  got:  %s\n  want prefix: %s\n", line, value, got, prefix);
    }
    free(got);
}

static void expect_config_error(const char *text, const char *want, int line) {
    scale_config cfg;
    char *err = NULL;
    checks++;
    if (!scale_config_parse((const uint8_t *)text, strlen(text), &cfg, &err)) {
        failures++;
        fprintf(stderr, "line %d: config %s accepted\n", line, text);
        scale_config_free(&cfg);
        return;
    }
    if (strncmp(err, want, strlen(want)) != 0) {
        failures++;
        fprintf(stderr, "line %d: config %s\n  got:  %s\n  want: %s\n", line, text, err, want);
    }
    free(err);
}

int main(void) {
    const char *T = "{\"scale\":{\"temperature\":{\"multiply\":2,\"offset\":0.5}}}";

    /* The contract test's records. */
    EXPECT(T, "{\"id\":1,\"temperature\":20,\"humidity\":40,\"site\":\"a\"}",
           "{\"id\":1,\"temperature\":40.5,\"humidity\":40,\"site\":\"a\"}");
    EXPECT(T, "{\"id\":2,\"temperature\":21.5,\"humidity\":41.25,\"site\":\"b\"}",
           "{\"id\":2,\"temperature\":43.5,\"humidity\":41.25,\"site\":\"b\"}");
    EXPECT(T, "{\"id\":3,\"humidity\":50}", "{\"id\":3,\"humidity\":50}");
    EXPECT(T, "{\"id\":4,\"temperature\":\"hot\",\"humidity\":1}", "reject: field 'temperature' is not a number");
    EXPECT(T, "{\"id\":5,\"temperature\":-3,\"humidity\":0}", "{\"id\":5,\"temperature\":-5.5,\"humidity\":0}");

    /* Rejections. */
    EXPECT(T, NULL, "reject: empty value: expected a JSON object");
    EXPECT(T, "", "reject: empty value: expected a JSON object");
    EXPECT(T, "[1,2]", "reject: value is not a JSON object");
    EXPECT(T, "null", "reject: value is not a JSON object");
    const char *bad[] = {"{oops", "{", "{\"a\":1}x", " ", "{\"a\":NaN}", "{\"a\":Infinity}", "{\"a\":1e400}",
                         "{\"a\":01}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}", "{\"a\":\"\x01\"}",
                         "\xef\xbb\xbf{}", "{\"a\":1,}", "{'a':1}", "[1,]", "{\"a\":\"\xff\"}",
                         "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xc0\xaf\"}", "{\"a\":-}", "{\"a\":1.}",
                         "{\"a\":1e}", "{\"a\":.5}", "{\"a\":\"\\x\"}", "{\"a\" 1}", "{1:2}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        expect_prefix(T, bad[i], "reject: value is not valid JSON: ", __LINE__);
    {
        /* 127 nested arrays parse; 128 do not (serde_json's limit). */
        char deep[600];
        char *q = deep;
        q += sprintf(q, "{\"a\":");
        for (int i = 0; i < 126; i++) *q++ = '[';
        for (int i = 0; i < 126; i++) *q++ = ']';
        strcpy(q, "}");
        char *got = run("{}", deep);
        check_str("127 levels", got, deep, __LINE__);
        free(got);
        q = deep + sprintf(deep, "{\"a\":");
        for (int i = 0; i < 127; i++) *q++ = '[';
        for (int i = 0; i < 127; i++) *q++ = ']';
        strcpy(q, "}");
        expect_prefix("{}", deep, "reject: value is not valid JSON: recursion limit exceeded", __LINE__);
    }

    /* Scale semantics. */
    EXPECT("{\"scale\":{\"a\":{}}}", "{\"a\":7,\"b\":7}", "{\"a\":7.0,\"b\":7}");
    EXPECT("{\"scale\":{\"a\":{\"offset\":-1}}}", "{\"a\":1}", "{\"a\":0.0}");
    EXPECT("{\"scale\":{\"a\":{\"multiply\":3}}}", "{\"a\":3.4}", "{\"a\":10.2}");
    EXPECT("{\"scale\":{\"a\":{\"multiply\":0.1,\"offset\":0.2}}}", "{\"a\":1}", "{\"a\":0.30000000000000004}");
    EXPECT("{\"scale\":{\"a\":{\"multiply\":1e308}}}", "{\"a\":10}", "reject: field 'a' scaled to a non-finite number");
    EXPECT("{\"scale\":{\"a\":{\"multiply\":2}}}", "{\"a\":true}", "reject: field 'a' is not a number");
    EXPECT("{\"scale\":{\"a\":{\"multiply\":2},\"b\":{\"offset\":1}}}", "{\"b\":1,\"a\":2}", "{\"b\":2.0,\"a\":4.0}");

    /* Pass-through bytes: key order, duplicates, nesting, strings, numbers. */
    EXPECT("{}", "{\"b\":1, \"a\": [true, null]}", "{\"b\":1,\"a\":[true,null]}");
    EXPECT("{}", "{\"a\":1,\"b\":2,\"a\":3}", "{\"a\":3,\"b\":2}");
    EXPECT("{}", "{\"a\":{\"b\":[1,-2,3.5,{\"c\":null}],\"d\":\"\"},\"e\":[]}",
           "{\"a\":{\"b\":[1,-2,3.5,{\"c\":null}],\"d\":\"\"},\"e\":[]}");
    EXPECT("{}", "{\"\xc3\xa9\":\"\xc3\xbc \\u20ac \\ud83d\\ude00 \\\" \\\\ \\/ \\n\\r\\t\\b\\f \\u0001 \\u001f \x7f\"}",
           "{\"\xc3\xa9\":\"\xc3\xbc \xe2\x82\xac \xf0\x9f\x98\x80 \\\" \\\\ / \\n\\r\\t\\b\\f \\u0001 \\u001f \x7f\"}");
    const char *numbers[][2] = {
        {"0", "0"}, {"-0", "-0.0"}, {"-1", "-1"}, {"1.0", "1.0"}, {"1e2", "100.0"}, {"1E+2", "100.0"},
        {"1.5e300", "1.5e+300"}, {"1e16", "1e+16"}, {"1e15", "1000000000000000.0"}, {"0.0001", "0.0001"},
        {"0.00001", "0.00001"}, {"0.000012345", "0.000012345"}, {"1e-6", "1e-6"}, {"-1.5e-7", "-1.5e-7"},
        {"5e-324", "5e-324"}, {"1e-400", "0.0"}, {"18446744073709551615", "18446744073709551615"},
        {"18446744073709551616", "1.8446744073709552e+19"}, {"-9223372036854775808", "-9223372036854775808"},
        {"-9223372036854775809", "-9.223372036854776e+18"}, {"0.1", "0.1"}, {"123456789.125", "123456789.125"},
        {"1.7976931348623157e308", "1.7976931348623157e+308"}, {"2.2250738585072014e-308", "2.2250738585072014e-308"},
        {"9007199254740993", "9007199254740993"}, {"9007199254740993.0", "9007199254740992.0"},
        {"0.3", "0.3"}, {"2.5e-5", "0.000025"}, {"123e-20", "1.23e-18"}, {"1.23456789012345678", "1.2345678901234567"},
        /* Around the 15-digit fast path: subnormals take the long way. */
        {"4.9406564584124654e-324", "5e-324"}, {"2.225073858507201e-308", "2.225073858507201e-308"},
        {"1e23", "1e+23"}, {"0.1e-307", "1e-308"}, {"123456789012345.6", "123456789012345.6"},
    };
    for (size_t i = 0; i < sizeof numbers / sizeof *numbers; i++) {
        char in[96], want[96];
        snprintf(in, sizeof in, "{\"n\":%s}", numbers[i][0]);
        snprintf(want, sizeof want, "{\"n\":%s}", numbers[i][1]);
        char *got = run("{}", in);
        check_str(in, got, want, __LINE__);
        free(got);
    }

    /* Config. */
    expect_config_error("{oops", "config is not valid JSON: ", __LINE__);
    expect_config_error("[]", "config must be a table (JSON object)", __LINE__);
    expect_config_error("{\"scael\":{}}", "unknown config key 'scael': the C scale plugin implements only 'scale'", __LINE__);
    expect_config_error("{\"scale\":[]}", "'scale' must be a table of field names", __LINE__);
    expect_config_error("{\"scale\":{\"a\":2}}", "'scale.a' must be a table with multiply and/or offset", __LINE__);
    expect_config_error("{\"scale\":{\"a\":{\"multiply\":\"2\"}}}", "'scale.a.multiply' must be a number", __LINE__);
    expect_config_error("{\"scale\":{\"a\":{\"times\":2}}}", "unknown key 'scale.a.times': expected multiply or offset", __LINE__);
    {
        scale_config cfg = config("  ");
        checks++;
        if (cfg.len != 0) failures++;
        scale_config_free(&cfg);
    }

    printf("%d passed, %d failed\n", checks - failures, failures);
    return failures ? 1 : 0;
}
