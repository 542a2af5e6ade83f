/* st_internal.h — shared between the files of the safetensors reader
 * (st_header.c checks the length field and the JSON text, st_parse.c the
 * entries); not for use outside formats/st_*.c and formats/safetensors.c. */
#ifndef CT_ST_INTERNAL_H
#define CT_ST_INTERNAL_H

#include <jansson.h>
#include <stdint.h>
#include <string.h>

#include "../util/util.h"
#include "safetensors.h"

/* Copies text from a file into out (cap >= 8) for an error message: at most
 * cap - 4 bytes then "...", anything but printable ASCII shown as '?', so that
 * a hostile name can neither flood nor drive the terminal.  Returns out. */
const char *st_show_name(const char *name, char *out, size_t cap);

/* 1 if the NUL-terminated s is valid UTF-8. */
static inline int st_utf8_ok(const char *s)
{
	size_t n = strlen(s);
	return ct_utf8_bad_at((const unsigned char *)s, n) == n;
}

/* Checks the 8-byte length field of a len-byte image; *n receives it. */
int st_header_check_length(const unsigned char *b, size_t len, uint64_t *n, ct_err *e);

/* Checks and parses the n header bytes at h (UTF-8, JSON without duplicate
 * keys, only spaces after the object) into *root, a JSON object. */
int st_header_load(const unsigned char *h, size_t n, json_t **root, ct_err *e);

#endif
