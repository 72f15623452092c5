/* SPDX-License-Identifier: GPL-2.0-or-later */
/* notify.h: the two sd-daemon protocols iptrace speaks, without libsystemd */
#ifndef IPTRACE_NOTIFY_H
#define IPTRACE_NOTIFY_H

#include <stdbool.h>

/*
 * notify_send - send @state ("READY=1", "STATUS=...", newline-separated assignments) to the
 * service manager at $NOTIFY_SOCKET (a path, or "@name" for an abstract socket), as
 * sd_notify(3) does. Returns 1 when sent, 0 when $NOTIFY_SOCKET is unset (not a
 * Type=notify service: nothing to do), or -errno (-EINVAL for a malformed address).
 */
int notify_send(const char *state);

/*
 * notify_stderr_is_journal - true when stderr is the journal stream systemd connected
 * ($JOURNAL_STREAM "DEV:INODE" matches fd 2), so diagnostics may carry "<N>" priority
 * prefixes (sd-daemon(3)). False once stderr was redirected elsewhere.
 */
bool notify_stderr_is_journal(void);

#endif
