/* SPDX-License-Identifier: GPL-2.0-or-later */
/* marker.c: the marker interface, dispatching to the legacy or nft implementation */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "iptrace/marker.h"

struct marker *marker_new(enum marker_kind kind, const struct selection *sel, const char *tag)
{
	struct marker *m;
	const struct marker_ops *ops;

	switch (kind) {
	case MARKER_LEGACY:
		ops = &marker_legacy_ops;
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
	snprintf(m->tag, sizeof(m->tag), "%s", tag);
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

const char *marker_name(const struct marker *m)
{
	return m->ops->name;
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
