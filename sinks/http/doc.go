// Package httpsink is the generic `http` sink: it POSTs each batch to a URL the user
// runs, as one JSON array (`encoding: json`, the default) or one JSON object a line
// (`encoding: ndjson`), gzipped by default, with extra headers. It also holds the pieces
// the BetterStack sink builds on: Client (post a body, classify the answer), Gzipper
// (pooled gzip writers), the allocation-free JSON writers AppendString and AppendTime,
// Secret (a string that never prints) and ValidateURL.
//
// # Event shape
//
// Each event is the object event.AppendJSON defines, the one the file sink writes:
//
//	{"timestamp":"2026-12-03T15:34:33.908Z","level":"error","message":"…","stack":"…",
//	 "source":"app","path":"/srv/app/logs/combined.log","host":"web-1",
//	 "fields":{"service":"crm","context":{"userId":1}},
//	 "raw_level":"…","parse_error":"…","flags":["partial"]}
//
// timestamp is RFC 3339 in UTC with milliseconds; stack, host, fields, raw_level,
// parse_error and flags appear only when set; fields holds the entry's other keys as
// written (nested objects stay objects). AppendEvent writes it without reflection: the
// time is formatted by hand and Event.Fields, a JSON object already, is spliced in.
//
// # Answers
//
// The sink only sends and classifies; the pipeline acts (see package sinks):
//
//	2xx                            delivered
//	408, 429, 5xx but 501          Retry, after Retry-After when the answer has one
//	network error, timeout         Retry
//	401, 402, 403                  Pause: credentials or quota; data kept, probed later
//	3xx, 404, 405                  Pause: the URL is wrong (redirects are not followed)
//	413                            TooLarge: the pipeline splits the batch
//	400, 406, 422, other 4xx, 501  Reject: bisected, the poison events dead-lettered
//
// 404 and 405 pause instead of rejecting because they are about the URL, not the data:
// bisecting against them would dead-letter every event. A redirect is not followed so
// the body and an Authorization header never go anywhere the user did not configure.
//
// # Secrets
//
// Header values may hold credentials. They are Secret values, which print as
// "[redacted]", and any text taken from an answer has them replaced before it reaches an
// error or test-sink output. Of the URL only scheme and host are ever shown: a path or
// query may hold a key.
//
// # Memory
//
// Encoding buffers come from a pool; the compressed body is a fresh slice per request,
// because net/http may still read a request body after the response arrived. With gzip
// off the encoded body is the request body and is not pooled for the same reason.
//
// # Performance
//
// Measured on the 2-core build machine (Intel Xeon), a batch of 1,000 events cycled from
// the real Winston output in testdata (320 lines, timestamps made distinct), median of 5
// runs. cpu-ns is the CPU time of the benchmark's thread, which other processes on a busy
// machine do not inflate as they inflate wall time:
//
//	go test -run XXX -bench . -benchtime 2s -count 5 ./sinks/http/
//
//	                          CPU per event   JSON per event   gzipped per event
//	encode (BenchmarkEncode)       198 ns          326 B               -
//	encode + gzip, fastest         398 ns          326 B             20.3 B
//	encode + gzip, default         649 ns          326 B             17.5 B
//
// That is about 5 million events a second per core for the encoder alone and 2.5 million
// with gzip at the level the sink uses, with no allocation per event (two per batch).
// BenchmarkSend, the whole path through a local HTTP server, takes 690 ns of wall time per
// event (1.4 million events a second). The Winston fixture repeats itself a lot, so real
// output will compress less than 16:1.
package httpsink
