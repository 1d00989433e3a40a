/* See json.h. */
#include "json.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* serde_json's recursion limit: 128 nested arrays/objects is an error. */
#define MAX_DEPTH 128

typedef struct {
    const uint8_t *s;
    size_t len, pos;
    int depth;
    char *err;
    size_t err_cap;
    int failed;
} parser;

static void *xrealloc(void *p, size_t n) {
    void *r = realloc(p, n ? n : 1);
    if (!r) abort();
    return r;
}

static int fail(parser *p, const char *fmt, ...) {
    if (!p->failed) {
        /* Line and column like serde_json: 1-based, column counts bytes. */
        size_t line = 1, col = 0;
        for (size_t i = 0; i < p->pos && i < p->len; i++) {
            if (p->s[i] == '\n') { line++; col = 0; } else col++;
        }
        if (p->pos < p->len) col++;
        char msg[160];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        snprintf(p->err, p->err_cap, "%s at line %zu column %zu", msg, line, col);
        p->failed = 1;
    }
    return -1;
}

static void skip_ws(parser *p) {
    while (p->pos < p->len) {
        uint8_t c = p->s[p->pos];
        if (c == ' ' || c == '\n' || c == '\t' || c == '\r') p->pos++;
        else break;
    }
}

static int peek(parser *p) { return p->pos < p->len ? p->s[p->pos] : -1; }

static int parse_value(parser *p, json_value *out);

static int expect_word(parser *p, const char *w) {
    size_t n = strlen(w);
    for (size_t i = 0; i < n; i++) {
        if (p->pos >= p->len) return fail(p, "EOF while parsing a value");
        if (p->s[p->pos] != (uint8_t)w[i]) return fail(p, "expected ident");
        p->pos++;
    }
    return 0;
}

static void buf_utf8(json_buf *b, uint32_t cp) {
    uint8_t t[4];
    size_t n;
    if (cp < 0x80) { t[0] = (uint8_t)cp; n = 1; }
    else if (cp < 0x800) { t[0] = 0xC0 | (cp >> 6); t[1] = 0x80 | (cp & 0x3F); n = 2; }
    else if (cp < 0x10000) {
        t[0] = 0xE0 | (cp >> 12); t[1] = 0x80 | ((cp >> 6) & 0x3F); t[2] = 0x80 | (cp & 0x3F); n = 3;
    } else {
        t[0] = 0xF0 | (cp >> 18); t[1] = 0x80 | ((cp >> 12) & 0x3F);
        t[2] = 0x80 | ((cp >> 6) & 0x3F); t[3] = 0x80 | (cp & 0x3F); n = 4;
    }
    json_buf_push(b, t, n);
}

void json_buf_push(json_buf *b, const void *bytes, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        while (cap < b->len + n) cap *= 2;
        b->ptr = xrealloc(b->ptr, cap);
        b->cap = cap;
    }
    if (n) memcpy(b->ptr + b->len, bytes, n);
    b->len += n;
}

static int hex4(parser *p, uint32_t *out) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        if (p->pos >= p->len) return fail(p, "EOF while parsing a string");
        uint8_t c = p->s[p->pos++];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= c - '0';
        else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
        else return fail(p, "invalid escape");
    }
    *out = v;
    return 0;
}

/* Length of a valid UTF-8 sequence starting at s[0] (non-ASCII), or 0. */
static size_t utf8_len(const uint8_t *s, size_t avail) {
    uint8_t c = s[0];
    size_t n;
    uint32_t cp, min;
    if (c >= 0xC2 && c <= 0xDF) { n = 2; cp = c & 0x1F; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { n = 3; cp = c & 0x0F; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 4; cp = c & 0x07; min = 0x10000; }
    else return 0;
    if (avail < n) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

/* After the opening quote; decoded bytes into b. */
static int parse_string_into(parser *p, json_buf *b) {
    for (;;) {
        if (p->pos >= p->len) return fail(p, "EOF while parsing a string");
        uint8_t c = p->s[p->pos];
        if (c == '"') { p->pos++; return 0; }
        if (c < 0x20) return fail(p, "control character (\\u0000-\\u001F) found while parsing a string");
        if (c == '\\') {
            p->pos++;
            if (p->pos >= p->len) return fail(p, "EOF while parsing a string");
            uint8_t e = p->s[p->pos++];
            switch (e) {
            case '"': json_buf_push(b, "\"", 1); break;
            case '\\': json_buf_push(b, "\\", 1); break;
            case '/': json_buf_push(b, "/", 1); break;
            case 'b': json_buf_push(b, "\b", 1); break;
            case 'f': json_buf_push(b, "\f", 1); break;
            case 'n': json_buf_push(b, "\n", 1); break;
            case 'r': json_buf_push(b, "\r", 1); break;
            case 't': json_buf_push(b, "\t", 1); break;
            case 'u': {
                uint32_t cp;
                if (hex4(p, &cp)) return -1;
                if (cp >= 0xDC00 && cp <= 0xDFFF) return fail(p, "lone leading surrogate in hex escape");
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (p->pos + 1 >= p->len || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u')
                        return fail(p, "unexpected end of hex escape");
                    p->pos += 2;
                    uint32_t lo;
                    if (hex4(p, &lo)) return -1;
                    if (lo < 0xDC00 || lo > 0xDFFF) return fail(p, "lone leading surrogate in hex escape");
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                buf_utf8(b, cp);
                break;
            }
            default:
                return fail(p, "invalid escape");
            }
            continue;
        }
        if (c < 0x80) { json_buf_push(b, &c, 1); p->pos++; continue; }
        size_t n = utf8_len(p->s + p->pos, p->len - p->pos);
        if (!n) return fail(p, "invalid unicode code point");
        json_buf_push(b, p->s + p->pos, n);
        p->pos += n;
    }
}

static int parse_number(parser *p, json_value *out) {
    size_t start = p->pos;
    int neg = 0, is_float = 0, overflow = 0;
    uint64_t sig = 0;
    if (peek(p) == '-') { neg = 1; p->pos++; }
    int c = peek(p);
    if (c == '0') {
        p->pos++;
        c = peek(p);
        if (c >= '0' && c <= '9') return fail(p, "invalid number");
    } else if (c >= '1' && c <= '9') {
        while ((c = peek(p)) >= '0' && c <= '9') {
            unsigned d = (unsigned)(c - '0');
            if (sig > (UINT64_MAX - d) / 10) overflow = 1;
            else sig = sig * 10 + d;
            p->pos++;
        }
    } else {
        return fail(p, "invalid number");
    }
    if (peek(p) == '.') {
        is_float = 1;
        p->pos++;
        c = peek(p);
        if (!(c >= '0' && c <= '9')) return fail(p, "EOF while parsing a value");
        while ((c = peek(p)) >= '0' && c <= '9') p->pos++;
    }
    c = peek(p);
    if (c == 'e' || c == 'E') {
        is_float = 1;
        p->pos++;
        c = peek(p);
        if (c == '+' || c == '-') { p->pos++; c = peek(p); }
        if (!(c >= '0' && c <= '9')) return fail(p, "EOF while parsing a value");
        while ((c = peek(p)) >= '0' && c <= '9') p->pos++;
    }
    if (!is_float && !overflow) {
        if (!neg) { out->kind = JSON_UINT; out->as.u = sig; return 0; }
        if (sig == 0) { out->kind = JSON_FLOAT; out->as.f = -0.0; return 0; }
        if (sig <= (uint64_t)1 << 63) {
            out->kind = JSON_INT;
            out->as.i = (int64_t)(0 - sig);
            return 0;
        }
        out->kind = JSON_FLOAT;
        out->as.f = -(double)sig;
        return 0;
    }
    size_t n = p->pos - start;
    char small[64];
    char *tmp = n < sizeof small ? small : xrealloc(NULL, n + 1);
    memcpy(tmp, p->s + start, n);
    tmp[n] = 0;
    errno = 0;
    double x = strtod(tmp, NULL);
    if (tmp != small) free(tmp);
    if (isinf(x)) {
        p->pos = start;
        return fail(p, "number out of range");
    }
    out->kind = JSON_FLOAT;
    out->as.f = x;
    return 0;
}

static int parse_array(parser *p, json_value *out) {
    out->kind = JSON_ARRAY;
    out->as.arr.items = NULL;
    out->as.arr.len = out->as.arr.cap = 0;
    p->pos++; /* [ */
    skip_ws(p);
    if (peek(p) == ']') { p->pos++; return 0; }
    for (;;) {
        if (out->as.arr.len == out->as.arr.cap) {
            out->as.arr.cap = out->as.arr.cap ? out->as.arr.cap * 2 : 4;
            out->as.arr.items = xrealloc(out->as.arr.items, out->as.arr.cap * sizeof(json_value));
        }
        json_value *v = &out->as.arr.items[out->as.arr.len];
        if (parse_value(p, v)) { json_free(v); return -1; }
        out->as.arr.len++;
        skip_ws(p);
        int c = peek(p);
        if (c == ',') {
            p->pos++;
            skip_ws(p);
            if (peek(p) == ']') return fail(p, "trailing comma");
            continue;
        }
        if (c == ']') { p->pos++; return 0; }
        if (c < 0) return fail(p, "EOF while parsing a list");
        return fail(p, "expected `,` or `]`");
    }
}

static int parse_object(parser *p, json_value *out) {
    out->kind = JSON_OBJECT;
    out->as.obj.items = NULL;
    out->as.obj.len = out->as.obj.cap = 0;
    p->pos++; /* { */
    skip_ws(p);
    if (peek(p) == '}') { p->pos++; return 0; }
    for (;;) {
        int c = peek(p);
        if (c < 0) return fail(p, "EOF while parsing an object");
        if (c != '"') return fail(p, "key must be a string");
        p->pos++;
        json_buf key = {0};
        if (parse_string_into(p, &key)) { free(key.ptr); return -1; }
        skip_ws(p);
        if (peek(p) != ':') {
            free(key.ptr);
            return fail(p, peek(p) < 0 ? "EOF while parsing an object" : "expected `:`");
        }
        p->pos++;
        json_value v;
        if (parse_value(p, &v)) { json_free(&v); free(key.ptr); return -1; }
        json_value *old = json_get(out, key.ptr ? (char *)key.ptr : "", key.len);
        if (old) {
            /* serde_json with preserve_order: first position, last value. */
            json_free(old);
            *old = v;
            free(key.ptr);
        } else {
            if (out->as.obj.len == out->as.obj.cap) {
                out->as.obj.cap = out->as.obj.cap ? out->as.obj.cap * 2 : 4;
                out->as.obj.items = xrealloc(out->as.obj.items, out->as.obj.cap * sizeof(json_member));
            }
            json_member *m = &out->as.obj.items[out->as.obj.len++];
            m->key = key.ptr ? (char *)key.ptr : xrealloc(NULL, 1);
            m->key_len = key.len;
            m->value = v;
        }
        skip_ws(p);
        c = peek(p);
        if (c == ',') {
            p->pos++;
            skip_ws(p);
            if (peek(p) == '}') return fail(p, "trailing comma");
            continue;
        }
        if (c == '}') { p->pos++; return 0; }
        if (c < 0) return fail(p, "EOF while parsing an object");
        return fail(p, "expected `,` or `}`");
    }
}

static int parse_value(parser *p, json_value *out) {
    out->kind = JSON_NULL;
    skip_ws(p);
    int c = peek(p);
    switch (c) {
    case -1: return fail(p, "EOF while parsing a value");
    case 'n': if (expect_word(p, "null")) return -1; out->kind = JSON_NULL; return 0;
    case 't': if (expect_word(p, "true")) return -1; out->kind = JSON_TRUE; return 0;
    case 'f': if (expect_word(p, "false")) return -1; out->kind = JSON_FALSE; return 0;
    case '"': {
        p->pos++;
        json_buf b = {0};
        if (parse_string_into(p, &b)) { free(b.ptr); return -1; }
        out->kind = JSON_STRING;
        out->as.str.ptr = b.ptr ? (char *)b.ptr : xrealloc(NULL, 1);
        out->as.str.len = b.len;
        return 0;
    }
    case '[':
    case '{': {
        if (++p->depth >= MAX_DEPTH) return fail(p, "recursion limit exceeded");
        int r = c == '[' ? parse_array(p, out) : parse_object(p, out);
        p->depth--;
        return r;
    }
    default:
        if (c == '-' || (c >= '0' && c <= '9')) return parse_number(p, out);
        return fail(p, "expected value");
    }
}

int json_parse(const uint8_t *text, size_t len, json_value *out, char *err, size_t err_cap) {
    parser p = {text, len, 0, 0, err, err_cap, 0};
    if (err_cap) err[0] = 0;
    if (parse_value(&p, out)) {
        json_free(out);
        out->kind = JSON_NULL;
        return -1;
    }
    skip_ws(&p);
    if (p.pos != p.len) {
        fail(&p, "trailing characters");
        json_free(out);
        out->kind = JSON_NULL;
        return -1;
    }
    return 0;
}

void json_free(json_value *v) {
    switch (v->kind) {
    case JSON_STRING: free(v->as.str.ptr); break;
    case JSON_ARRAY:
        for (size_t i = 0; i < v->as.arr.len; i++) json_free(&v->as.arr.items[i]);
        free(v->as.arr.items);
        break;
    case JSON_OBJECT:
        for (size_t i = 0; i < v->as.obj.len; i++) {
            free(v->as.obj.items[i].key);
            json_free(&v->as.obj.items[i].value);
        }
        free(v->as.obj.items);
        break;
    default: break;
    }
    v->kind = JSON_NULL;
}

json_value *json_get(json_value *obj, const char *key, size_t key_len) {
    if (obj->kind != JSON_OBJECT) return NULL;
    for (size_t i = 0; i < obj->as.obj.len; i++) {
        json_member *m = &obj->as.obj.items[i];
        if (m->key_len == key_len && memcmp(m->key, key, key_len) == 0) return &m->value;
    }
    return NULL;
}

int json_as_double(const json_value *v, double *x) {
    switch (v->kind) {
    case JSON_UINT: *x = (double)v->as.u; return 1;
    case JSON_INT: *x = (double)v->as.i; return 1;
    case JSON_FLOAT: *x = v->as.f; return 1;
    default: return 0;
    }
}

/* --- writing --------------------------------------------------------- */

static void push_str(json_buf *b, const char *s) { json_buf_push(b, s, strlen(s)); }

static void write_string(json_buf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    json_buf_push(b, "\"", 1);
    size_t run = 0; /* bytes copied as they are, pending */
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        const char *esc = NULL;
        char u[7];
        if (c == '"') esc = "\\\"";
        else if (c == '\\') esc = "\\\\";
        else if (c == '\n') esc = "\\n";
        else if (c == '\r') esc = "\\r";
        else if (c == '\t') esc = "\\t";
        else if (c == '\b') esc = "\\b";
        else if (c == '\f') esc = "\\f";
        else if (c < 0x20) {
            u[0] = '\\'; u[1] = 'u'; u[2] = '0'; u[3] = '0';
            u[4] = hex[c >> 4]; u[5] = hex[c & 15]; u[6] = 0;
            esc = u;
        }
        if (esc) {
            json_buf_push(b, s + i - run, run);
            run = 0;
            push_str(b, esc);
        } else {
            run++;
        }
    }
    json_buf_push(b, s + n - run, run);
    json_buf_push(b, "\"", 1);
}

/* Shortest decimal digits of x (> 0, finite) that read back to x:
 * digits into d (NUL-terminated, no trailing zeros), returns the decimal
 * exponent e such that x = 0.d1d2d3... * 10^(e+1) = d1.d2d3... * 10^e. */
/* The digits of buf ("d.ddde[+-]xx" or "de[+-]xx") into d without trailing
 * zeros; returns the exponent. */
static int digits_of(const char *buf, char *d) {
    const char *e = strchr(buf, 'e');
    size_t n = 0;
    for (const char *q = buf; q < e; q++)
        if (*q >= '0' && *q <= '9') d[n++] = *q;
    while (n > 1 && d[n - 1] == '0') n--;
    d[n] = 0;
    return atoi(e + 1);
}

static int shortest(double x, char *d) {
    char buf[40];
    int start = 1;
    /* Most doubles have a form of at most 15 digits. For a normal double
     * such a form lies within half an ulp (2^-53 of x) of x, far inside half
     * a step of the 15-digit grid (over 5e-16 of x), so x rounded to 15
     * digits is that form padded with zeros: one try instead of up to 15.
     * When it does not read back, no form of 15 digits or fewer does.
     * (Subnormals have wider ulps and take the long way.) */
    if (x >= DBL_MIN) {
        snprintf(buf, sizeof buf, "%.14e", x);
        if (strtod(buf, NULL) == x) return digits_of(buf, d);
        start = 16;
    }
    for (int prec = start; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec - 1, x);
        if (strtod(buf, NULL) != x) {
            /* The correctly rounded prec-digit number misses; a neighbour
             * one unit away in the last digit may still read back. */
            char *e = strchr(buf, 'e');
            int exp = atoi(e + 1);
            uint64_t m = 0;
            for (char *q = buf; q < e; q++)
                if (*q >= '0' && *q <= '9') m = m * 10 + (uint64_t)(*q - '0');
            int found = 0;
            for (int delta = -1; delta <= 1 && !found; delta += 2) {
                uint64_t mm = m + (uint64_t)(int64_t)delta;
                char cand[48];
                snprintf(cand, sizeof cand, "%llue%d", (unsigned long long)mm, exp - (prec - 1));
                if (mm && strtod(cand, NULL) == x) {
                    /* Renormalise: digits of mm, exponent of its first digit. */
                    char digits[24];
                    int nd = snprintf(digits, sizeof digits, "%llu", (unsigned long long)mm);
                    snprintf(buf, sizeof buf, "%c.%se%d", digits[0], digits + 1,
                             exp - (prec - 1) + nd - 1);
                    found = 1;
                }
            }
            if (!found) continue;
        }
        return digits_of(buf, d);
    }
    /* Unreachable: 17 significant digits always round-trip. */
    snprintf(buf, sizeof buf, "%.16e", x);
    return digits_of(buf, d);
}

void json_write_float(json_buf *b, double x) {
    if (x == 0) {
        push_str(b, signbit(x) ? "-0.0" : "0.0");
        return;
    }
    if (x < 0) {
        json_buf_push(b, "-", 1);
        x = -x;
    }
    char d[24];
    int e = shortest(x, d);
    int n = (int)strlen(d);
    if (e >= 0 && e <= 15) {
        if (n <= e + 1) {
            json_buf_push(b, d, (size_t)n);
            for (int i = n; i < e + 1; i++) json_buf_push(b, "0", 1);
            push_str(b, ".0");
        } else {
            json_buf_push(b, d, (size_t)e + 1);
            json_buf_push(b, ".", 1);
            json_buf_push(b, d + e + 1, (size_t)(n - e - 1));
        }
    } else if (e < 0 && e >= -5) {
        push_str(b, "0.");
        for (int i = 0; i < -e - 1; i++) json_buf_push(b, "0", 1);
        json_buf_push(b, d, (size_t)n);
    } else {
        char tail[16];
        json_buf_push(b, d, 1);
        if (n > 1) {
            json_buf_push(b, ".", 1);
            json_buf_push(b, d + 1, (size_t)n - 1);
        }
        snprintf(tail, sizeof tail, "e%c%d", e < 0 ? '-' : '+', e < 0 ? -e : e);
        push_str(b, tail);
    }
}

void json_write(json_buf *b, const json_value *v) {
    char num[32];
    switch (v->kind) {
    case JSON_NULL: push_str(b, "null"); break;
    case JSON_FALSE: push_str(b, "false"); break;
    case JSON_TRUE: push_str(b, "true"); break;
    case JSON_UINT:
        snprintf(num, sizeof num, "%llu", (unsigned long long)v->as.u);
        push_str(b, num);
        break;
    case JSON_INT:
        snprintf(num, sizeof num, "%lld", (long long)v->as.i);
        push_str(b, num);
        break;
    case JSON_FLOAT: json_write_float(b, v->as.f); break;
    case JSON_STRING: write_string(b, v->as.str.ptr, v->as.str.len); break;
    case JSON_ARRAY:
        json_buf_push(b, "[", 1);
        for (size_t i = 0; i < v->as.arr.len; i++) {
            if (i) json_buf_push(b, ",", 1);
            json_write(b, &v->as.arr.items[i]);
        }
        json_buf_push(b, "]", 1);
        break;
    case JSON_OBJECT:
        json_buf_push(b, "{", 1);
        for (size_t i = 0; i < v->as.obj.len; i++) {
            if (i) json_buf_push(b, ",", 1);
            write_string(b, v->as.obj.items[i].key, v->as.obj.items[i].key_len);
            json_buf_push(b, ":", 1);
            json_write(b, &v->as.obj.items[i].value);
        }
        json_buf_push(b, "}", 1);
        break;
    }
}
