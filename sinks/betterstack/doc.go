// Package betterstack is the BetterStack Logs sink. It posts batches to a source's
// ingesting host with the source token, as a gzipped JSON array, within BetterStack's
// limits, and tells the pipeline what each answer means. It builds on the generic http
// sink (httpsink.Client, httpsink.Gzipper, the JSON writers).
//
// # Requests
//
// POST <endpoint> with Authorization: Bearer <source_token>, Content-Type:
// application/json, Content-Encoding: gzip; the body is a JSON array of events.
//
// # Event shape
//
//	{"dt":"2026-12-03T15:34:33.908Z","level":"error","message":"Payment failed",
//	 "stack":"Error: …","service":"crm","context":{"userId":1},"tags":["a"],
//	 "source":"app","path":"/srv/app/logs/combined.log","host":"web-1"}
//
// dt is the entry's time, RFC 3339 in UTC with milliseconds; level is the normalised
// Winston level. The entry's other keys (Event.Fields) are merged at the top level as
// they were written, in their order: nested objects stay objects, so BetterStack can
// search them (context.userId = 1). stack, source, path and host appear when set.
//
// Key clashes: a Winston key that is one of the sink's own (dt, level, message, stack,
// source, path, host, fields, or any key starting with _winship) keeps our value at the
// top level; theirs goes under a "fields" object, with its value as written. An entry
// logged with {host: "db-1"} thus arrives with "host":"web-1" (this machine) and
// "fields":{"host":"db-1"}.
//
// Extra keys, only when they apply: _winship_raw_level (the level as written when it
// differs from level), _winship_parse_error (why the line did not parse; its message is
// then the raw line), _winship_flags (partial, truncated, invalid_utf8, no_timestamp),
// _winship_fields_text (fields that were not a JSON object, or that truncation had to
// cut, as text).
//
// # Limits
//
// BetterStack takes at most 10 MiB compressed per request and asks for records under
// 100 KiB. An event whose JSON is over MaxEventBytes (100 KiB) is cut, never silently:
// its message, stack and fields share the room, small pieces kept whole and large ones
// cut on a character boundary and ended with "…[truncated]" (fields that do not fit
// whole become _winship_fields_text), and the event carries "_winship_truncated":true
// and "_winship_original_bytes":<its full size>. The sink counts them (Truncated) and
// logs a warning per batch. A batch whose compressed body would pass MaxRequestBytes is
// split in halves until each part fits and sent as several requests; Send then reports
// per event (*sinks.PartialError). After a part fails with Retry or Pause the rest is not
// sent and gets the same error. With the defaults (1,000 events, 2 MiB) a split is rare.
//
// # Answers
//
//	202 (any 2xx)        delivered
//	429, 5xx but 501     Retry, after Retry-After when present
//	network error        Retry
//	413                  TooLarge: the pipeline splits the batch
//	400, 406, 422        Reject: the pipeline bisects and dead-letters the poison event
//	401, 403             Pause: the token was refused; data kept, probed again later
//	402                  Pause for quota_probe (5 min; or Retry-After): "quota or spending
//	                     limit reached"; the data goes through once the quota resets
//	3xx, 404, 405        Pause: the endpoint is wrong
//
// # Secrets
//
// The token is an httpsink.Secret: it prints as "[redacted]" everywhere, validation
// errors never show it, and it is removed from any answer text before that reaches an
// error or `winship test-sink` output.
//
// # JSON or msgpack
//
// BetterStack also takes msgpack (its Node client sends it). We measured both on 1,000
// real Winston events, same keys and gzip level:
//
//	go test -run XXX -bench . -benchtime 2s -count 5 ./sinks/betterstack/
//
// Median of 5 runs on the 2-core build machine (Intel Xeon), 1,000 events cycled from the
// real Winston output in testdata (320 lines, timestamps made distinct), gzip at
// httpsink.DefaultGzipLevel; CPU time of the benchmark's thread:
//
//	                                 CPU per event   body per event   gzipped per event
//	JSON (what Send does)                 527 ns          309 B             19.6 B
//	msgpack, fields transcoded           2970 ns          273 B             22.3 B
//	msgpack, fields decoded beforehand    694 ns          273 B             22.3 B
//
// JSON wins: Event.Fields is JSON already and is spliced in as bytes, while msgpack must
// decode it first (24 allocations an event); even with the fields decoded beforehand, a
// lower bound no real path reaches, msgpack is slower. Its bodies are 12% smaller before
// gzip but 14% larger after, and only the gzipped size travels. So the sink sends JSON,
// at about 1.9 million events a second per core for encoding and gzip together. Of the
// 527 ns, the scan of the fields for keys that clash with the sink's own is about 80.
package betterstack
