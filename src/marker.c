/* SPDX-License-Identifier: GPL-2.0-or-later */
/* marker.c: the marker interface, dispatching to the legacy or nft implementation */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "iptrace/marker.h"

/*
 * legacy+nft: the libiptc marker for the legacy tables, and the nft marker because the
 * kernel emits nft trace records only while some `meta nftrace set` rule exists.
 */
struct pair {
	struct marker	*m[2];
};

static int pair_install(struct marker *m)
{
	struct pair *p = m->priv;
	int ret;

	for (int i = 0; i < 2; i++) {
		ret = marker_install(p->m[i]);
		if (ret < 0) {
			snprintf(m->err, sizeof(m->err), "%s", marker_error(p->m[i]));
			for (int j = i - 1; j >= 0; j--)
				marker_remove(p->m[j]);
			return ret;
		}
	}
	return 0;
}

static int pair_remove(struct marker *m)
{
	struct pair *p = m->priv;
	int ret = 0;

	/* Reverse order of install; a failure of one doesn't keep the other in place. */
	for (int i = 1; i >= 0; i--) {
		int r = marker_remove(p->m[i]);

		if (r < 0 && ret == 0) {
			ret = r;
			snprintf(m->err, sizeof(m->err), "%s", marker_error(p->m[i]));
		}
	}
	return ret;
}

static bool pair_owns(const struct marker *m, const struct trace_record *rec)
{
	const struct pair *p = m->priv;

	return marker_owns(p->m[0], rec) || marker_owns(p->m[1], rec);
}

/*
 * Counted where the packet is first seen: the nft marker's chains run at -350, before the
 * raw table. (The legacy rules may still mark some of those: a lower bound on what was
 * traced, not exact, for this pair.)
 */
static uint64_t pair_unmarked(const struct marker *m)
{
	const struct pair *p = m->priv;

	return marker_unmarked(p->m[1]);
}

/* The nft part's table is owned: nobody else can remove it. */
static int pair_check(struct marker *m)
{
	struct pair *p = m->priv;
	int ret = marker_check(p->m[0]);

	if (ret < 0)
		snprintf(m->err, sizeof(m->err), "%s", marker_error(p->m[0]));
	return ret;
}

static void pair_release(struct marker *m)
{
	struct pair *p = m->priv;

	if (!p)
		return;
	marker_free(p->m[0]);
	marker_free(p->m[1]);
	free(p);
	m->priv = NULL;
}

static const struct marker_ops marker_pair_ops = {
	.name = "legacy+nft",
	.starts_nft = true,
	.install = pair_install,
	.remove = pair_remove,
	.owns = pair_owns,
	.unmarked = pair_unmarked,
	.check = pair_check,
	.release = pair_release,
};

struct marker *marker_new(enum marker_kind kind, const struct selection *sel, const char *tag,
			  struct xtlock *lock)
{
	struct marker *m;
	const struct marker_ops *ops;

	switch (kind) {
	case MARKER_LEGACY:
		ops = &marker_legacy_ops;
		break;
	case MARKER_NFT:
		ops = &marker_nft_ops;
		break;
	case MARKER_LEGACY_NFT:
		ops = &marker_pair_ops;
		break;
	default:
		errno = ENOTSUP;
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->ops = ops;
	m->sel = sel;
	m->lock = lock;
	snprintf(m->tag, sizeof(m->tag), "%s", tag);
	if (kind == MARKER_LEGACY_NFT) {
		struct pair *p = calloc(1, sizeof(*p));

		if (p) {
			p->m[0] = marker_new(MARKER_LEGACY, sel, tag, lock);
			p->m[1] = marker_new(MARKER_NFT, sel, tag, lock);
		}
		m->priv = p;
		if (!p || !p->m[0] || !p->m[1]) {
			marker_free(m);
			errno = ENOMEM;
			return NULL;
		}
	}
	return m;
}

int marker_install(struct marker *m)
{
	m->err[0] = '\0';
	return m->ops->install(m);
}

int marker_remove(struct marker *m)
{
	m->err[0] = '\0';
	return m->ops->remove(m);
}

bool marker_owns(const struct marker *m, const struct trace_record *rec)
{
	return m->ops->owns(m, rec);
}

int marker_check(struct marker *m)
{
	return m->ops->check ? m->ops->check(m) : 0;
}

bool marker_checks(const struct marker *m)
{
	return m->ops->check != NULL;
}

bool marker_starts_nft(const struct marker *m)
{
	return m->ops->starts_nft;
}

const char *marker_name(const struct marker *m)
{
	return m->ops->name;
}

uint64_t marker_unmarked(const struct marker *m)
{
	return m->ops->unmarked ? m->ops->unmarked(m) : 0;
}

const char *marker_error(const struct marker *m)
{
	return m->err;
}

void marker_free(struct marker *m)
{
	if (!m)
		return;
	if (m->ops->release)
		m->ops->release(m);
	free(m);
}
