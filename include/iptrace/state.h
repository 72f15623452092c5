/* SPDX-License-Identifier: GPL-2.0-or-later */
/* state.h: crash-recovery state under /run/iptrace, so a SIGKILLed capture can be undone */
#ifndef IPTRACE_STATE_H
#define IPTRACE_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "iptrace/logbind.h"

#define STATE_DIR_DEFAULT "/run/iptrace"

/*
 * What one capture changed, written before each change is made (intent first), so that
 * whatever moment a SIGKILL lands, the file names everything that may need undoing.
 */
struct capture_state {
	pid_t		pid;
	uint64_t	starttime;	/* /proc/PID/stat field 22: tells a reused pid apart */
	uint64_t	netns_dev, netns_ino;	/* the traced network namespace */
	char		tag[64];	/* comment on the legacy rules */
	bool		legacy[2];	/* rules may be in ip / ip6 raw */
	struct logbind	lb[2];		/* nf_log/2, nf_log/10 bindings to restore */
	char		marker[16];	/* for --list */
	char		desc[256];	/* selection, for --list */
};

/* state_dir - $IPTRACE_STATE_DIR or /run/iptrace. */
const char *state_dir(void);

/*
 * state_init - fill @st for this process and namespace. Returns 0 or -errno.
 */
int state_init(struct capture_state *st, const char *tag);

/* state_save - write @st atomically (temp file + rename, 0600). 0 or -errno. */
int state_save(const struct capture_state *st);
/* state_remove - delete this capture's file. */
void state_remove(const struct capture_state *st);

/* state_live - true when the capture's process still runs (same pid and start time). */
bool state_live(const struct capture_state *st);

/*
 * state_cleanup - undo every stale capture (owner dead): remove its legacy rules by tag and
 * restore the logger bindings it changed, inside its namespace; then delete its file.
 * @only_here: only captures of the current namespace (done at every start); else every
 * namespace that can still be found (/run/netns, /proc/PID/ns/net). Says what it did on
 * stderr (diag.h).
 * Returns the number of captures cleaned, or -errno.
 */
int state_cleanup(bool only_here);

/* state_list - print live and stale captures to @f. Returns how many, or -errno. */
int state_list(FILE *f);

#endif
