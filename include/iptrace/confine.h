/* SPDX-License-Identifier: GPL-2.0-or-later */
/* confine.h: after set-up, what a capture may still write or run (Landlock) */
#ifndef IPTRACE_CONFINE_H
#define IPTRACE_CONFINE_H

/* What teardown needs to write, besides the files that are open already. */
struct confine_paths {
	const char	*state_dir;	/* the state files: written, replaced, removed */
	const char	*lock_file;	/* the xtables lock, opened for writing (if it exists) */
};

/*
 * confine_files - from now on this process, and every program it starts, may create,
 * write, truncate, rename or remove files only in @p->state_dir, and write only there,
 * to @p->lock_file and to /dev/null (a spawned tool's stderr); and may run programs only
 * from the system's directories (/usr, /bin, /sbin, /lib, /lib64). Files open already (the
 * output, --record, the nf_log bindings, logbind.h) stay as they are; reading is not
 * limited. Irreversible: a Landlock domain (landlock_restrict_self(2), after setting
 * no_new_privs). Returns 0; -EOPNOTSUPP when the kernel offers no Landlock, or a seccomp
 * filter (a systemd unit's SystemCallFilter=) refuses its calls: nothing was changed;
 * another -errno when building the rules failed (nothing was changed either).
 */
int confine_files(const struct confine_paths *p);

#endif
