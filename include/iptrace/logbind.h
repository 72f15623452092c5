/* SPDX-License-Identifier: GPL-2.0-or-later */
/* logbind.h: save, switch and restore the namespace's nf_log logger binding */
#ifndef IPTRACE_LOGBIND_H
#define IPTRACE_LOGBIND_H

#include <stdbool.h>
#include <stddef.h>

#define LOGBIND_NAME_MAX 64

/* One family's binding (nf_log/2 for IPv4, nf_log/10 for IPv6), as found. */
struct logbind {
	int	pf;				/* 2 or 10 */
	bool	changed;			/* we wrote nfnetlink_log; restore on exit */
	char	saved[LOGBIND_NAME_MAX];	/* "nf_log_ipv4", "NONE", ... */
	int	fd;				/* nf_log/<pf>, open from apply to restore */
};

/*
 * logbind_prepare - read nf_log/<pf> into @lb->saved; @lb->changed says whether
 * logbind_apply() will write (false when nfnetlink_log is bound already). Nothing is
 * written: callers record the intent (state file) between the two. 0 or negative errno.
 */
int logbind_prepare(struct logbind *lb, int pf);

/*
 * logbind_apply - bind nfnetlink_log if logbind_prepare() said so. 0 or negative errno
 * (@lb->changed is cleared then: nothing to restore). The file stays open for the restore:
 * it needs no path then (file access may be confined by then, confine.h).
 */
int logbind_apply(struct logbind *lb);

/* logbind_restore - write the saved binding back if logbind_apply() changed it. */
int logbind_restore(struct logbind *lb);

/* logbind_write - write @name to nf_log/<pf>. Returns 0 or a negative errno. */
int logbind_write(int pf, const char *name);

/* logbind_read - read nf_log/<pf> into @buf (newline stripped). 0 or negative errno. */
int logbind_read(int pf, char *buf, size_t size);

/*
 * logbind_known - true when nf_log/<pf> of the current namespace accepts @name: "NONE", or
 * a logger the kernel has registered for that family (/proc/net/netfilter/nf_log lists
 * them: " 2 nf_log_ipv4 (nf_log_ipv4,nfnetlink_log)"). @list (may be NULL) gets the names
 * it accepts, for a message ("NONE nf_log_ipv4 nfnetlink_log").
 */
bool logbind_known(int pf, const char *name, char *list, size_t size);

#endif
