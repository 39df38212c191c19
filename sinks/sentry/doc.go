// Package sentry is winship's Sentry and GlitchTip sink: Winston error entries become
// Sentry events, grouped as Sentry's own Node SDK would group them, delivered with an
// answer for every event so that the pipeline loses nothing and sends nothing twice
// without need. Types "sentry" and "glitchtip" share this code; only defaults differ.
//
// # Data flow
//
// The pipeline hands Send a batch of events at or above min_level (default error) and
// calls Observe, in log order, with the entries below it. Send maps each event, asks the
// quota and spike guard, and posts one envelope per event, up to Options.Parallel at once
// (shared by concurrent Sends). It returns nil when every event was accepted or held back
// by the guard, one *sinks.Error when all failed alike, else a *sinks.PartialError. The
// pipeline owns retries, backoff, pauses and dead letters; this package classifies.
// Counters reports what the pipeline cannot see (events sent, held back by the quota or
// the spike guard, shrunk, too large, rate limited) for winship_sink_events_total.
//
// # Mapping
//
//   - level: emerg, alert, crit -> fatal; error -> error; warn -> warning; notice, info,
//     http, verbose -> info; debug, silly -> debug.
//   - timestamp from the entry; logger = source name; server_name = host; platform node;
//     environment, release, dist from the options; message = the entry's message (8 KiB).
//   - event_id: the first 16 bytes of SHA-256 over time, level, message, stack and the
//     other keys, in hex. The copy of an entry read from error.log and combined.log, or a
//     resend after a crash, has the same id, and both servers drop repeated ids.
//   - a stack becomes one exception: type and value from its error line ("TypeError: x"
//     -> TypeError, x; Node's "[ERR_CODE]" goes to mechanism data), frames from the V8
//     stack read as @sentry/core's Node line parser reads them (function names, "Type.?"
//     for <anonymous> methods, file:// stripped, URI-decoded names, in_app false for
//     node_modules/, node:, native and other non-path frames), oldest first with the
//     throwing frame last, module "pkg.dir:file" for node_modules frames, abs_path for
//     paths and URLs, at most 50 frames with the middle removed (frames_omitted).
//     The package tests compare every frame with @sentry/core on real Node 20 stacks.
//   - the entry's other keys go to the "winston" context (8 kB at most: big values cut,
//     extra keys counted under _winship_dropped_keys); tag_fields become tags (one line,
//     200 characters); static tags are added; the "winship" context names the file and
//     any parse error, raw level or flags.
//   - frontend errors (message prefix "Frontend Error:", or url and userAgent keys):
//     request.url, a User-Agent header, user.ip_address, the `context` object as the
//     "frontend" context, platform javascript and the tag origin=browser.
//   - breadcrumbs: the last N entries (breadcrumbs, default 20) of the same source written
//     at or before the error and within breadcrumbs_window (default 5m); category is the
//     source, data the entry's keys. A message is cut to 1 KiB ending in "…", and data
//     over 2 KiB keeps its keys with big values cut ("…[truncated]"), so 20 breadcrumbs
//     of 200 KB lines add about 35 KB. Each source keeps 8N entries so an error that waits
//     in the buffer still finds the ones written before it.
//
// # Answers
//
//   - 2xx: delivered. An X-Sentry-Rate-Limits header on it that covers the error category
//     still starts a hold.
//   - 429: the wait is the longest X-Sentry-Rate-Limits entry for "error" or for all
//     categories (Sentry only), else Retry-After (seconds or a date), else 60 s. Until it
//     ends, Send makes no request and returns Retry with After set to what is left; the
//     events stay in the pipeline, unlike the SDK, which drops them.
//   - 413: the event is shrunk (no breadcrumbs, contexts of 512 B, 10 frames, strings of
//     1 KiB) and sent once more in the same Send; a second 413 is Reject, so the pipeline
//     dead-letters it. Events over max_event_bytes (or max_compressed_bytes gzipped) are
//     shrunk before the first request.
//   - 400: Reject with the X-Sentry-Error text (or the body's detail), the key removed.
//   - 401, 403: Pause with no After, so the pipeline probes again with its backoff; a
//     self-hosted Sentry answers 403 for a while when its relay has not loaded a project.
//   - 3xx: Pause (a redirected POST cannot be followed safely; the DSN is likely wrong).
//   - 5xx, other statuses and network errors: Retry, with Retry-After when given.
//
// # Quota and spike guard
//
// quota {max_events, period} caps the events sent per period (periods follow each other
// from the first start); spike {max_per_minute} caps the events of one issue per minute.
// The issue is keyed as Sentry groups: exception type and top in-app frame; for an
// exception without frames, its type and value; for an entry without a stack, its
// message; the value and the message with each run of digits replaced by "N", so "Order
// 123 failed" and "Order 124 failed" are one issue. An event over a limit is not sent: it
// is counted (Counters), appended to overflow.jsonl in the sink's state folder (rotated at
// 16 MiB to overflow.jsonl.1) and reported to the pipeline as delivered, a counted policy
// removal. The first overflow of a quota period, and of each issue's minute, logs a
// warning. The next event of that issue that is sent carries the number held back in the
// tag winship.held_back and the winship context; the counts of at most 4,096 issues are
// kept, the issue held back least recently forgotten first.
//
// The quota is reserved before events are sent (write-ahead): guard.json holds the
// period's start and a reservation, raised by a chunk (a thousandth of max_events, 1 to
// 100) and written with fsync and an atomic rename before any event uses a place beyond
// it. A failed send gives its place back in memory; only accepted sends count. A restart
// counts the whole saved reservation as used, so kill -9 at any instant never lets the
// quota be exceeded and leaves at most one chunk (plus the places of sends that had just
// failed) unused. A reservation that cannot be written keeps the event in the pipeline
// (Retry). The accepted count and held-back counts are saved at most once a second and
// on Close. Spike windows live in memory only: a restart starts a fresh minute for every
// issue (the quota still counts those events).
//
// # Sentry and GlitchTip
//
// Both get the same envelope (gzip, sdk name and version, which GlitchTip requires).
// GlitchTip defaults: max_event_bytes just under its 2.5 MB body cap, no compressed
// cap (Sentry's is 200 KB for an event, with 1 MiB uncompressed), and rate_limit_header
// false, since GlitchTip throttles with Retry-After only (600 s when an organisation is
// over its limit).
//
// # Secrets
//
// The DSN's public key is a credential: config errors say what is wrong with the DSN
// without showing it, and server texts and network errors have it replaced by <key>.
package sentry
