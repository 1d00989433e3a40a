/* A small, strict JSON reader and writer that behaves like Rust's
 * serde_json 1 (with `preserve_order` and `float_roundtrip`), so the C
 * scale plugin gives the same bytes as the Rust json-transform plugin.
 *
 * - parsing refuses what serde_json refuses: trailing commas, leading zeros,
 *   NaN/Infinity, numbers out of the f64 range, lone UTF-16 surrogates,
 *   raw control characters and invalid UTF-8 in strings, trailing
 *   characters, and nesting 128 levels deep or more;
 * - integers keep serde_json's ranges: `-0` and integers outside
 *   [-2^63, 2^64) become floats;
 * - objects keep key order; a repeated key keeps its first position and
 *   its last value;
 * - floats print with the shortest digits that read back to the same
 *   double, in fixed notation for decimal exponents -5..=15 (`100.0`,
 *   `0.00001`) and else as `1.5e+16` / `1e-7`.
 */
#ifndef WASP_JSON_H
#define WASP_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    JSON_NULL,
    JSON_FALSE,
    JSON_TRUE,
    JSON_UINT,  /* 0 ..= 2^64-1 */
    JSON_INT,   /* -2^63 ..= -1 */
    JSON_FLOAT,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT
} json_kind;

typedef struct json_value json_value;
typedef struct json_member json_member;

struct json_value {
    json_kind kind;
    union {
        uint64_t u;
        int64_t i;
        double f;
        struct { char *ptr; size_t len; } str;          /* UTF-8, may hold NUL */
        struct { json_value *items; size_t len, cap; } arr;
        struct { json_member *items; size_t len, cap; } obj;
    } as;
};

struct json_member {
    char *key;
    size_t key_len;
    json_value value;
};

/* Parse `len` bytes. Returns 0 on success; else -1 with a message in
 * `err` (at most `err_cap` bytes, NUL-terminated). */
int json_parse(const uint8_t *text, size_t len, json_value *out, char *err, size_t err_cap);

/* Free what a value owns (not the value itself). */
void json_free(json_value *v);

/* The member named `key`, or NULL. */
json_value *json_get(json_value *obj, const char *key, size_t key_len);

/* 1 and the number in `*x` if `v` is a number, else 0. */
int json_as_double(const json_value *v, double *x);

/* A growable byte buffer. */
typedef struct {
    uint8_t *ptr;
    size_t len, cap;
} json_buf;

void json_buf_push(json_buf *b, const void *bytes, size_t n);

/* Append `v` as compact JSON. */
void json_write(json_buf *b, const json_value *v);

/* Append a finite double the way serde_json prints it. */
void json_write_float(json_buf *b, double x);

#endif
