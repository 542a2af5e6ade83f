#include "replica.h"

#include <inttypes.h>
#include <string.h>

int ct_dist_exchange_init(ct_dist_exchange *x, const ct_shard_layout *l, int ranks, ct_err *e)
{
	CT_ASSERT(ct_shard_count_valid(ranks));
	memset(x, 0, sizeof *x);
	x->l = *l;
	x->ranks = ranks;
	if (ranks == 1)
		return 0;
	x->gathered = ct_aligned_alloc(64, (size_t)ranks * l->bytes);
	if (!x->gathered)
		return ct_errf(e, CT_ENOMEM, "out of memory for %d exchanged nodes of %zu bytes",
			       ranks, l->bytes);
	return 0;
}

void ct_dist_exchange_release(ct_dist_exchange *x)
{
	free(x->gathered);
	memset(x, 0, sizeof *x);
}

int ct_dist_step_exchange(ct_comm *c, ct_dist_exchange *x, void *mine, int stop, void **root,
			  ct_err *e)
{
	CT_ASSERT(c->size == x->ranks);
	ct_shard_set_stop(&x->l, mine, stop);
	if (x->ranks == 1) {
		*root = mine;
		return 0;
	}
	int rc = ct_comm_allgather(c, mine, x->gathered, x->l.bytes, e);
	if (rc < 0)
		return ct_err_prefix(e, "gradient exchange");
	ct_shard_reduce_levels(&x->l, x->gathered, x->ranks);
	*root = x->gathered;
	return 0;
}

static uint64_t rotl64(uint64_t v, int k) { return (v << k) | (v >> (64 - k)); }

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t ct_dist_digest(const void *buf, size_t bytes)
{
	static const uint64_t prime = 0x9e3779b97f4a7c15ull;
	uint64_t h[4] = {0x243f6a8885a308d3ull, 0x13198a2e03707344ull, 0xa4093822299f31d0ull,
			 0x082efa98ec4e6c89ull};
	const unsigned char *p = buf;
	size_t i = 0;
	for (; i + 32 <= bytes; i += 32)
		for (int j = 0; j < 4; j++) {
			uint64_t w;
			memcpy(&w, p + i + 8 * (size_t)j, 8);
			h[j] = rotl64((h[j] ^ w) * prime, 31);
		}
	/* The last 0..31 bytes: whole words into the lanes, then 0..7 bytes. */
	for (int j = 0; i + 8 <= bytes; i += 8, j++) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		h[j] = rotl64((h[j] ^ w) * prime, 31);
	}
	uint64_t tail = 0;
	for (size_t k = 0; i + k < bytes; k++)
		tail |= (uint64_t)p[i + k] << (8 * k);
	uint64_t d = mix64(bytes ^ tail * prime);
	for (int j = 0; j < 4; j++)
		d = mix64(d ^ rotl64(h[j], 13 * j + 1));
	return d;
}

int ct_dist_check_replicas(ct_comm *c, uint64_t digest, int64_t step, ct_err *e)
{
	uint64_t v[2] = {digest, ~digest};
	int rc = ct_comm_allreduce_u64(c, v, 2, CT_COMM_OP_MIN, e);
	if (rc < 0)
		return ct_err_prefix(e, "step %" PRId64 ": parameter digest exchange", step);
	uint64_t lo = v[0], hi = ~v[1];
	if (lo == hi)
		return 0;
	return ct_errf(e, CT_EMISMATCH,
		       "step %" PRId64 ": parameter replicas differ across %d ranks (digest min "
		       "%016" PRIx64 ", max %016" PRIx64 ", rank %d has %016" PRIx64 ")",
		       step, c->size, lo, hi, c->rank, digest);
}
