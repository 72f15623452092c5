/* SPDX-License-Identifier: GPL-2.0-or-later */
/* xtlock.h: iptables' lock, waited for with a bound and a way out, saying who holds it */
#ifndef IPTRACE_XTLOCK_H
#define IPTRACE_XTLOCK_H

#include <signal.h>
#include <stdbool.h>

/* iptables' own: flock(2) on this file, per mount namespace, unless $XTABLES_LOCKFILE. */
#define XTLOCK_PATH_DEFAULT	"/run/xtables.lock"
/* --wait's default, in seconds: longer than any iptables-restore a person waits for. */
#define XTLOCK_WAIT_DEFAULT	10.0

struct xtlock_cfg {
	double				wait_s;		/* --wait: give up after this long */
	const volatile sig_atomic_t	*stop;		/* set: a wait ends at once; NULL: none */
	const sigset_t			*waitmask;	/* signals unblocked while waiting */
};

/* Opaque: the path, the open file while held, how deeply, the last failure. */
struct xtlock;

/*
 * xtlock_new - a handle on the lock iptables takes: $XTABLES_LOCKFILE if set, else
 * XTLOCK_PATH_DEFAULT (read now). @cfg is copied; @cfg->stop and @cfg->waitmask are
 * borrowed for the handle's life. Opens nothing yet. NULL with errno ENOMEM.
 */
struct xtlock *xtlock_new(const struct xtlock_cfg *cfg);

/*
 * xtlock_take - hold the lock. Nested calls only count (each needs its xtlock_drop()). The
 * outermost one opens the file (created 0600 if missing, never through a symlink) and,
 * while another program holds it, waits: after a second one line on stderr says who (PID
 * and command, from /proc/locks) and for how long at most. Returns 0; -EINTR when the
 * stop flag was set (a signal); -ETIMEDOUT after @cfg->wait_s; another -errno when the
 * file can't be opened or locked. xtlock_error() then says which in one line.
 */
int xtlock_take(struct xtlock *l);

/* xtlock_drop - undo one xtlock_take(); the outermost releases the lock. */
void xtlock_drop(struct xtlock *l);

/* xtlock_held - true between the outermost xtlock_take() and its xtlock_drop(). */
bool xtlock_held(const struct xtlock *l);

/* xtlock_path - the lock file's path (borrowed for the handle's life). */
const char *xtlock_path(const struct xtlock *l);

/* xtlock_error - the last failure of xtlock_take(), one line ("" if none). Borrowed. */
const char *xtlock_error(const struct xtlock *l);

/* xtlock_free - release a lock still held and free @l (NULL is fine). */
void xtlock_free(struct xtlock *l);

#endif
