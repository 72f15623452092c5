/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test_nlrec.h: the unit tests' walks over recorded netlink files (include after <cmocka.h>) */
#ifndef IPTRACE_TEST_NLREC_H
#define IPTRACE_TEST_NLREC_H

#include <stddef.h>
#include <stdint.h>
#include <libmnl/libmnl.h>

#include "iptrace/nlrec.h"
#include "iptrace/pipeline.h"

/*
 * each_chunk - @fn on every chunk of the recording at @path, in order, with its source,
 * time and bytes (borrowed for the call). The file must open and read cleanly to its end.
 */
static inline void each_chunk(const char *path,
			      void (*fn)(void *data, uint16_t source, uint64_t ts_ns,
					 const void *buf, size_t len),
			      void *data)
{
	struct nlrec *r = nlrec_open(path);
	const void *buf;
	uint16_t source;
	uint64_t ts;
	size_t len;
	int ret;

	assert_non_null(r);
	while ((ret = nlrec_next(r, &source, &ts, &buf, &len)) > 0)
		fn(data, source, ts, buf, len);
	assert_int_equal(ret, 0);
	nlrec_close(r);
}

struct run_chunks {
	uint16_t	source;
	mnl_cb_t	cb;
	void		*data;
	size_t		others;
};

static inline void run_chunk(void *data, uint16_t source, uint64_t ts_ns, const void *buf,
			     size_t len)
{
	struct run_chunks *rc = data;

	(void)ts_ns;
	if (source != rc->source) {
		rc->others++;
		return;
	}
	assert_true(mnl_cb_run(buf, len, 0, 0, rc->cb, rc->data) >= 0);
}

/*
 * run_chunks - mnl_cb_run() of @cb with @data over each chunk of the recording at @path
 * that came from @source (enum nlrec_source), none of them failing. Returns how many
 * chunks came from other sources (skipped).
 */
static inline size_t run_chunks(const char *path, uint16_t source, mnl_cb_t cb, void *data)
{
	struct run_chunks rc = { source, cb, data, 0 };

	each_chunk(path, run_chunk, &rc);
	return rc.others;
}

/*
 * replay_chunk - each_chunk()'s @fn that feeds a pipeline (@data) as --replay does: its
 * clock at the chunk's time, what expired by then out, then the chunk's messages.
 */
static inline void replay_chunk(void *data, uint16_t source, uint64_t ts_ns, const void *buf,
				size_t len)
{
	struct pipeline *pl = data;

	pipeline_set_clock(pl, ts_ns, 0);
	pipeline_tick(pl);
	assert_int_equal(pipeline_dispatch(pl, source, buf, len), 0);
}

#endif
