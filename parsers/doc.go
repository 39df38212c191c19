// Package parsers reads the formats Winston writes (json, logstash, prettyPrint, printf and
// simple text) into events, one Parser per file; parser.go states the Parser contract.
//
// # Formats
//
// A source's `format` selects one Parser per file:
//
//   - json: Winston's json() output, one object per line. timestamp, level, message and
//     stack become Event fields; every other key goes to Fields in the order written, keys
//     and values byte for byte as written. This is the hot path: a validating scanner
//     records the top-level members as byte ranges of the line, and the event's strings and
//     Fields are cut from one allocation (see BenchmarkJSON).
//   - logstash: {"@fields":{...},"@message":"...","@timestamp":"..."}. level and stack come
//     from @fields, its other keys (then any other top-level keys) become Fields. json and
//     logstash are one parser: a line without "message" but with "@message" or an object
//     "@fields" is read as logstash, any other as json, so a file that mixes them (two
//     loggers on one file) is read right under either name.
//   - pretty: prettyPrint() output, util.inspect text over many lines. An entry starts with
//     '{' in column 0 and, when it spans lines, ends with a line "}" in column 0 (nested lines
//     are indented and strings never hold a raw newline). The text is converted to JSON and
//     read as a json entry; see inspect.go for how values without a JSON form are kept.
//   - text: printf formats such as `<ts> [<level>]: <message>` and simple()'s
//     `<level>: <message> {json meta}`. A line that starts with a level (see parseHead)
//     starts an entry; any other line continues the entry above it.
//   - auto: the first conclusive line of the file picks one of the above for the whole file.
//
// # Data flow
//
// The follower hands each complete line to Feed with its offset and read time. Feed cleans
// the line (a trailing "\r" and a leading BOM go, invalid UTF-8 becomes U+FFFD with
// FlagInvalidUTF8) and appends the events it completes. Single-line formats complete one
// event per line. Multi-line formats (pretty, text) hold an entry until the line that starts
// the next one arrives, or until Flush, which the follower calls after a quiet period and
// before it closes a file. Pending reports the offset of the first held line: the follower
// never saves a checkpoint past it, so a restart re-reads a held entry instead of losing it.
//
// # No line is dropped
//
// Every line that is not blank ends up in exactly one event:
//
//   - Input that does not parse becomes an event whose Message is the raw text and whose
//     ParseError says why ("not JSON: ...", "not an object", "message missing", "message is
//     not a string", "not util.inspect syntax: ...", "no level prefix: ...", ...). An object
//     without a string message keeps its level, time and Fields; a line that is not valid
//     JSON (one cut by max_line_bytes, say) keeps the level and time of the members read
//     before the error, so an error still routes as an error.
//   - A line outside any entry of a multi-line format (a stack line at the start of the
//     file, text between prettyPrint objects) is an event of its own.
//   - A multi-line entry longer than 10,000 lines or 4 MiB is completed where it stands and
//     the rest continues in further events, all with ParseError "entry split: ...".
//   - Keys taken into Event fields leave Fields only when nothing is lost: a timestamp whose
//     text is not exactly Event.Time in RFC 3339 UTC with milliseconds (an offset, no
//     fraction, local time, a number) stays in Fields too, as do a non-string level, stack
//     or message, and the second of two keys with the same name (the first one is used).
//
// # Choices
//
//   - Blank and whitespace-only lines are not entries and yield no event (inside a text
//     entry they are kept as part of its message; trailing ones are trimmed).
//   - Times: Winston's ISO UTC milliseconds on a fast path; RFC 3339 with any offset or
//     fraction; "YYYY-MM-DD HH:mm:ss[.SSS]" as local time; a JSON number as Unix
//     milliseconds. A time outside the years 1679 to 2261 (beyond the codec's UnixNano) is
//     treated as unparseable. Without a usable time, Time is the read time and
//     FlagNoTimestamp is set.
//   - Levels: colour codes are stripped before event.ParseLevel; an unknown name is Info.
//     RawLevel keeps the text as written (colours included) whenever it differs from
//     Level.String().
//   - A \u escape naming a lone UTF-16 surrogate decodes to U+FFFD and sets FlagInvalidUTF8.
//   - pretty: `[Circular *1]` becomes "[Circular]", as json() writes it; undefined becomes
//     null; Dates, functions, Maps, Errors with their stacks and other values without a JSON
//     form become strings of their printed text. An entry whose text does not convert is
//     shipped raw, with level and time taken from its `  level:` and `  timestamp:` lines.
//   - text: a header is an optional timestamp (RFC 3339 or "YYYY-MM-DD HH:mm:ss", maybe in
//     brackets), then `[level]`, `[level]:`, `level:` or, after a timestamp, a bare `level`.
//     The level word must be all lower or all upper case, so "Error: boom" on a continuation
//     line does not start an entry; without a timestamp it must also be a level
//     event.ParseLevel knows ("audit: x" is text), while `<ts> [audit]:` starts an entry of
//     level Info with RawLevel "audit". A continuation line that happens to look like a
//     header (a message line "error: x") does start a new entry: the text format cannot
//     tell them apart.
//   - text stacks: when the first line of the message looks like an error's stack header
//     ("TypeError: x", "Error [ERR_X]: x") and a V8 frame line ("    at ...") follows,
//     Stack is the whole message text, as V8's error.stack would be (header included), and
//     Message is the text above the first frame. Otherwise all lines are the Message.
//   - simple() meta: the JSON object after the leftmost " {" of the entry's last line that
//     parses to the end of the line is the meta; its stack and timestamp are used as in
//     json, its other keys are Fields. A message that itself ends in " {valid JSON}" while
//     the meta is empty cannot be told apart and loses that text to Fields.
//   - auto: a JSON object line picks json (which reads logstash too); "{" alone, "{ key: ..."
//     or "<ref *1> {" picks pretty; any other line text. An indented line or a lone "}"
//     (the file was opened mid-entry) decides nothing: up to 16 such lines are shipped as
//     events of their own with ParseError "format not detected yet ...", then text is
//     chosen.
package parsers
