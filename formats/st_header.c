/* st_header.c — the first checks of the safetensors reader: the 8-byte
 * length field, UTF-8, the JSON text and its space padding (see st_parse.c
 * for the entries). */
#include "st_internal.h"

#include <inttypes.h>
#include <string.h>

static uint64_t load_le64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

const char *st_show_name(const char *name, char *out, size_t cap)
{
	size_t i = 0;
	for (; name[i] && i + 4 < cap; i++)
		out[i] = (name[i] >= 0x20 && name[i] < 0x7f) ? name[i] : '?';
	if (name[i]) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
	return out;
}

int st_header_check_length(const unsigned char *b, size_t len, uint64_t *n, ct_err *e)
{
	if (len < 8)
		return ct_errf(e, CT_ECORRUPT,
			       "file is %zu bytes, shorter than the 8-byte header length field",
			       len);
	*n = load_le64(b);
	if (*n == 0)
		return ct_errf(e, CT_ECORRUPT, "header length 0");
	if (*n < 2)
		return ct_errf(e, CT_ECORRUPT,
			       "header length %" PRIu64 " is below the minimum of 2", *n);
	if (*n > len - 8)
		return ct_errf(e, CT_ECORRUPT, "header length %" PRIu64 " exceeds file size %zu",
			       *n, len);
	if (*n > CT_ST_MAX_HEADER)
		return ct_errf(e, CT_ECORRUPT,
			       "header length %" PRIu64 " exceeds the limit of %llu bytes", *n,
			       CT_ST_MAX_HEADER);
	return 0;
}

/* jansson's text for a duplicate is "duplicate object key near '\"k\"'":
 * turn it into "duplicate key 'k'". */
static int duplicate_error(const json_error_t *je, ct_err *e)
{
	const char *p = strstr(je->text, "near '");
	char tok[JSON_ERROR_TEXT_LENGTH] = "?", buf[80];
	if (p) {
		snprintf(tok, sizeof tok, "%s", p + 6);
		size_t m = strlen(tok);
		if (m && tok[m - 1] == '\'')
			tok[--m] = '\0';
		if (m >= 2 && tok[0] == '"' && tok[m - 1] == '"') {
			tok[m - 1] = '\0';
			memmove(tok, tok + 1, m - 1);
		}
	}
	return ct_errf(e, CT_ECORRUPT, "duplicate key '%s'", st_show_name(tok, buf, sizeof buf));
}

int st_header_load(const unsigned char *h, size_t n, json_t **root, ct_err *e)
{
	if (h[0] != '{')
		return ct_errf(e, CT_ECORRUPT, "header does not start with '{' (byte 0 is 0x%02x)",
			       h[0]);
	size_t bad = ct_utf8_bad_at(h, n);
	if (bad < n)
		return ct_errf(e, CT_ECORRUPT, "header is not valid UTF-8 (byte %zu)", bad);
	json_error_t je;
	*root = json_loadb((const char *)h, n, JSON_REJECT_DUPLICATES | JSON_DISABLE_EOF_CHECK,
			   &je);
	if (!*root) {
		char txt[JSON_ERROR_TEXT_LENGTH + 8];
		switch (json_error_code(&je)) {
		case json_error_duplicate_key: return duplicate_error(&je, e);
		case json_error_out_of_memory:
			return ct_errf(e, CT_ENOMEM, "out of memory parsing the header");
		case json_error_numeric_overflow:
			return ct_errf(e, CT_ECORRUPT,
				       "header has an integer that overflows 64 bits (%s)",
				       st_show_name(je.text, txt, sizeof txt));
		default: /* jansson quotes the offending bytes: sanitise them */
			return ct_errf(e, CT_ECORRUPT, "header is not valid JSON: %s (byte %d)",
				       st_show_name(je.text, txt, sizeof txt), je.position);
		}
	}
	/* With JSON_DISABLE_EOF_CHECK, position is the number of bytes used;
	 * the format allows only spaces after the object. */
	for (size_t i = (size_t)je.position; i < n; i++) {
		if (h[i] != ' ') {
			json_decref(*root);
			*root = NULL;
			return ct_errf(e, CT_ECORRUPT,
				       "header padding byte %zu is 0x%02x, not a space", i, h[i]);
		}
	}
	CT_ASSERT(json_is_object(*root)); /* it started with '{' and parsed */
	return 0;
}
