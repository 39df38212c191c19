package httpsink

import (
	"bytes"

	"github.com/winship/winship/agent/event"
)

// Encoding is the body format of a request: a JSON array of events or one event a line.
type Encoding int

const (
	// JSON is one JSON array holding every event of the batch.
	JSON Encoding = iota
	// NDJSON is one JSON object a line, each line ended by "\n".
	NDJSON
)

// ContentType returns the Content-Type header value for the encoding.
func (enc Encoding) ContentType() string {
	if enc == NDJSON {
		return "application/x-ndjson"
	}
	return "application/json"
}

// AppendBatch appends batch to dst in winship's event shape (event.AppendJSON, the shape
// the file sink writes),
// framed as enc says, and returns the extended slice. host is written in every event.
func AppendBatch(dst []byte, batch []*event.Event, enc Encoding, host string) []byte {
	if enc == NDJSON {
		for _, e := range batch {
			dst = event.AppendJSON(dst, e, host)
			dst = append(dst, '\n')
		}
		return dst
	}
	dst = append(dst, '[')
	for i, e := range batch {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = event.AppendJSON(dst, e, host)
	}
	return append(dst, ']')
}

// TrimObject returns b without surrounding white space and reports whether it looks like
// a JSON object (starts with '{' and ends with '}'). It does not check what lies between.
// Empty input is reported as an object (there are no fields).
func TrimObject(b []byte) ([]byte, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return b, true
	}
	return b, len(b) >= 2 && b[0] == '{' && b[len(b)-1] == '}'
}

// IsEmptyObject reports whether obj, as returned by TrimObject, holds no members.
func IsEmptyObject(obj []byte) bool {
	return len(obj) == 0 || len(bytes.TrimSpace(obj[1:len(obj)-1])) == 0
}
