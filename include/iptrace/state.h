/* SPDX-License-Identifier: GPL-2.0-or-later */
/* state.h: crash-recovery state under /run/iptrace, so a SIGKILLed capture can be undone */
#ifndef IPTRACE_STATE_H
#define IPTRACE_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "iptrace/logbind.h"

struct xtlock;

#define STATE_DIR_DEFAULT "/run/iptrace"

/*
 * What one capture changed, written before each change is made (intent first), so that
 * whatever moment a SIGKILL lands, the file names everything that may need undoing.
 */
struct capture_state {
	pid_t		pid;
	uint64_t	starttime;	/* /proc/PID/stat field 22: tells a reused pid apart */
	uint64_t	netns_dev, netns_ino;	/* finds the traced namespace (inodes are reused) */
	uint64_t	netns_cookie;	/* proves it is the same one (never reused); 0: unknown */
	char		tag[64];	/* comment on the legacy rules */
	bool		legacy[2];	/* rules may be in ip / ip6 raw */
	struct logbind	lb[2];		/* nf_log/2, nf_log/10 bindings to restore */
	char		marker[16];	/* for --list */
	char		desc[256];	/* selection, for --list */
	bool		locked;		/* a loaded file's lock is held: its capture runs */
};

/* state_dir - $IPTRACE_STATE_DIR or /run/iptrace. */
const char *state_dir(void);

/*
 * state_init - fill @st for this process and namespace (its netns cookie: SO_NETNS_COOKIE,
 * kernel 5.14; 0 on older kernels). Returns 0 or -errno.
 */
int state_init(struct capture_state *st, const char *tag);

/*
 * The state directory and its files are trusted only as sshd's StrictModes would: the
 * directory and each file owned by root (or our euid) and not writable by group or others,
 * neither a symbolic link (nor any file but a regular one), each file named PID.state
 * (canonical digits) and holding pid=PID and tag=iptrace:PID of that same PID, its logger
 * names plain words. Anything else is refused, with one line saying why.
 */

/*
 * state_check_dir - the state directory, created (0700) if missing, is one we trust.
 * 0, -EPERM when it is not (said on stderr), or another -errno.
 */
int state_check_dir(void);

/*
 * state_save - write @st atomically (temp file + rename, 0600), locked: a POSIX write lock
 * on the whole file, which this process holds until the returned fd is closed or it ends
 * (SIGKILL included; children don't inherit it). It says the capture runs to a cleaner in
 * another PID namespace (a container sharing the state directory), which can't see our
 * pid. Returns the fd (the caller keeps it open while the capture runs and closes the
 * previous save's after this one) or -errno (-EPERM: the directory is not trusted, said).
 */
int state_save(const struct capture_state *st);
/* state_remove - delete this capture's file (then close the fd state_save() returned). */
void state_remove(const struct capture_state *st);

/*
 * state_taken - a running capture holds (locks) the state file of pid @pid: one with our
 * pid in another PID namespace that shares the directory (two containers' first process).
 * Saving ours would overwrite its file, and both captures' rules would carry one tag. Ask
 * before the first state_save() only: looking closes a descriptor of the file, which would
 * drop a lock of our own on it.
 */
bool state_taken(pid_t pid);

/*
 * state_live - true when the capture's process still runs: its file's lock is held (a
 * loaded @st's locked), or its pid runs with the same start time, neither a zombie nor
 * dead (/proc/PID/stat's state Z or X).
 */
bool state_live(const struct capture_state *st);

/* What state_cleanup() and state_list() met. */
struct state_tally {
	int	cleaned;	/* captures undone (or their namespace gone), files removed */
	int	refused;	/* files not trusted: left as they are */
	int	failed;		/* captures whose undoing failed or was refused: files kept */
};

/*
 * state_cleanup - undo every stale capture (owner dead) whose file is trusted: remove its
 * legacy rules by tag (under @lock, borrowed) and restore the logger bindings it changed,
 * inside its namespace; then delete its file. The namespace is found by its nsfs inode and
 * acted on only when its cookie is the one recorded (the kernel reuses inode numbers, never
 * cookies); a binding is restored only while it still holds nfnetlink_log, as the capture
 * left it, and no live capture of that namespace uses it; a saved logger name the kernel
 * doesn't know stops the whole file. Each skip is said with its reason (diag.h).
 * @only_here: only captures of the current namespace (done at every start); else every
 * namespace that can still be found (/run/netns, /proc/PID/ns/net).
 * Returns 0 with @t filled, -EINTR when a signal ended a wait for @lock, or -errno (-EPERM:
 * the directory is not trusted, said).
 */
int state_cleanup(bool only_here, struct xtlock *lock, struct state_tally *t);

/*
 * state_list - print live and stale captures of trusted files to @f; refused ones are said
 * on stderr and counted in @t->refused. Returns how many were printed, or -errno.
 */
int state_list(FILE *f, struct state_tally *t);

#endif
