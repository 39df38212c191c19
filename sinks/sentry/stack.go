package sentry

import (
	"strconv"
	"strings"
	"unicode/utf8"

	sentrygo "github.com/getsentry/sentry-go"
)

// maxFrames is the most frames an event carries; Sentry keeps no more than this.
const maxFrames = 50

// maxStackLine is how much of one stack line is read, as Sentry's own parser does.
const maxStackLine = 1024

// parsedStack is a V8 stack split into its header and its frames.
type parsedStack struct {
	Type   string           // error name from the header ("TypeError"), "Error" when unknown
	Value  string           // error message from the header
	Code   string           // Node's "[ERR_X]" code between the name and the colon, if any
	Frames []sentrygo.Frame // oldest first, as Sentry wants them, all of them
}

// parseStack splits a V8 stack trace into the error header (the lines before the first
// frame) and frames, oldest first. Frame lines are read as Sentry's Node stack parser reads
// them, so that events group as they would had the Node SDK captured them. Unlike that
// parser, only lines that start with "at " (after indentation) count as frames: a message
// line that merely contains "at " is part of the header, not a bogus frame.
func parseStack(stack string) parsedStack {
	var ps parsedStack
	header, body := splitHeader(stack)
	ps.Type, ps.Value, ps.Code = parseHeader(header)
	if body == "" {
		return ps
	}
	// Frames are large: fill them once, from the end, so they come out oldest first
	// without growing or reversing the slice.
	frames := make([]sentrygo.Frame, strings.Count(body, "\n")+1)
	next := len(frames)
	for len(body) > 0 {
		var line string
		line, body, _ = strings.Cut(body, "\n")
		if f, ok := parseFrameLine(line); ok {
			next--
			frames[next] = f
		}
	}
	ps.Frames = frames[next:]
	fillNativeFilenames(ps.Frames)
	return ps
}

// splitHeader returns the lines before the first frame line, and the rest.
func splitHeader(stack string) (header, body string) {
	off := 0
	for off < len(stack) {
		end := strings.IndexByte(stack[off:], '\n')
		if end < 0 {
			end = len(stack) - off
		}
		if isFrameLine(stack[off : off+end]) {
			return strings.TrimRight(stack[:off], "\r\n"), stack[off:]
		}
		off += end + 1
	}
	return strings.TrimRight(stack, "\r\n"), ""
}

func isFrameLine(line string) bool {
	return strings.HasPrefix(strings.TrimLeft(line, " \t"), "at ")
}

// parseHeader finds the error line in the header: the first line that reads
// "Name: message", "Name [CODE]: message" or a bare "Name". Lines before it are
// decorations Node adds (the source line and caret of a vm error); lines after it belong to
// a multi-line message. Without such a line the type is "Error" and the value the header.
func parseHeader(h string) (typ, value, code string) {
	for off := 0; off < len(h); {
		line, _, _ := strings.Cut(h[off:], "\n")
		if name, c, msg, ok := parseErrorLine(line); ok {
			if msg >= 0 {
				value = h[off+msg:]
			}
			return name, value, c
		}
		off += len(line) + 1
	}
	return "Error", h, ""
}

// parseErrorLine splits "Name [CODE]: message"; msg is the message's offset in line, or -1
// when the line is a bare name.
func parseErrorLine(line string) (name, code string, msg int, ok bool) {
	name, _, found := strings.Cut(line, ": ")
	msg = -1
	if found {
		msg = len(name) + 2
	} else {
		name = strings.TrimSuffix(line, ":")
	}
	if n, c, hasCode := splitCode(name); hasCode {
		name, code = n, c
	}
	return name, code, msg, isErrorName(name)
}

// splitCode splits Node's "TypeError [ERR_INVALID_ARG_TYPE]" into name and code.
func splitCode(name string) (string, string, bool) {
	n, rest, ok := strings.Cut(name, " [")
	if !ok || !strings.HasSuffix(rest, "]") {
		return name, "", false
	}
	return n, strings.TrimSuffix(rest, "]"), true
}

// isErrorName reports whether s is an identifier such as "TypeError" or "AxiosError".
func isErrorName(s string) bool {
	if s == "" || len(s) > 100 || isDigit(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isLetter(c) && !isDigit(c) && c != '_' && c != '$' {
			return false
		}
	}
	return true
}

// fillNativeFilenames gives frames without a filename the newest frame's one, as Sentry's
// parser does, so that both group the same way.
func fillNativeFilenames(fs []sentrygo.Frame) {
	if len(fs) == 0 {
		return
	}
	last := fs[len(fs)-1].Filename
	for i := range fs {
		if fs[i].Filename == "" {
			fs[i].Filename = last
		}
	}
}

// trimFrames keeps at most maxFrames frames, removing them from the middle, and reports
// the removed range [start, end) for Stacktrace.FramesOmitted.
func trimFrames(fs []sentrygo.Frame, limit int) ([]sentrygo.Frame, []uint) {
	if len(fs) <= limit {
		return fs, nil
	}
	head := limit / 2
	tail := limit - head
	end := len(fs) - tail
	out := make([]sentrygo.Frame, 0, limit)
	out = append(out, fs[:head]...)
	out = append(out, fs[end:]...)
	return out, []uint{uint(head), uint(end)}
}

// parseFrameLine reads one "    at ..." line the way @sentry/core's node line parser does.
func parseFrameLine(line string) (sentrygo.Frame, bool) {
	line = strings.TrimRight(line, "\r")
	if len(line) > maxStackLine {
		line = cutUTF8(line, maxStackLine)
	}
	t := strings.TrimLeft(line, " \t")
	if !strings.HasPrefix(t, "at ") {
		return sentrygo.Frame{}, false
	}
	rest := strings.TrimPrefix(t[3:], "async ")
	if f, ok := parseDataURIFrame(rest); ok {
		return f, true
	}
	fn, loc, ok := splitFunction(rest)
	if !ok {
		return sentrygo.Frame{}, false
	}
	file, lineno, colno, bare, ok := parseLocation(loc)
	if !ok {
		return sentrygo.Frame{}, false
	}
	return buildFrame(fn, file, lineno, colno, bare), true
}

// parseDataURIFrame handles "fn (data:text/javascript,...)" frames of modules loaded from
// data: URLs; the filename becomes "<data:MIME>".
func parseDataURIFrame(rest string) (sentrygo.Frame, bool) {
	i := strings.Index(rest, " (data:")
	if i < 1 {
		return sentrygo.Frame{}, false
	}
	mime, _, ok := strings.Cut(rest[i+len(" (data:"):], ",")
	if !ok {
		return sentrygo.Frame{}, false
	}
	return sentrygo.Frame{Function: rest[:i], Filename: "<data:" + mime + ">"}, true
}

// splitFunction separates "fn (location)" into fn and location. A function name is only
// looked for when the line ends with ")"; it is the shortest prefix followed by white space
// and "(" after which a location can be read.
func splitFunction(rest string) (fn, loc string, ok bool) {
	if strings.HasSuffix(strings.TrimRight(rest, " \t\v\f"), ")") {
		for i := 1; i < len(rest); i++ {
			if !isSpace(rest[i]) {
				continue
			}
			j := i
			for j < len(rest) && isSpace(rest[j]) {
				j++
			}
			if j < len(rest) && rest[j] == '(' && locationReadable(rest[j+1:]) {
				return rest[:i], rest[j+1:], true
			}
		}
	}
	return "", rest, locationReadable(rest)
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r' || c == '\n'
}

func locationReadable(r string) bool {
	if _, ok := lastLineCol(r); ok {
		return true
	}
	return r != "" && r[0] != ')'
}

// lastLineCol finds the last ":<digits>:" in r that has at least one byte before it and
// returns the index of its first colon.
func lastLineCol(r string) (int, bool) {
	for p := strings.LastIndexByte(r, ':'); p >= 1; p = strings.LastIndexByte(r[:p], ':') {
		k := p + 1
		for k < len(r) && isDigit(r[k]) {
			k++
		}
		if k > p+1 && k < len(r) && r[k] == ':' {
			return p, true
		}
	}
	return 0, false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// parseLocation reads "file:line:col" (col optional, the colon before it not), or else
// any text up to the first ")" such as "native", "<anonymous>" or "index 0" (bare).
func parseLocation(r string) (file string, lineno, colno int, bare string, ok bool) {
	if p, found := lastLineCol(r); found {
		k := p + 1
		for isDigit(r[k]) {
			k++
		}
		lineno = atoiPrefix(r[p+1 : k])
		colno = atoiPrefix(r[k+1:])
		return r[:p], lineno, colno, "", true
	}
	bare, _, _ = strings.Cut(r, ")")
	return "", 0, 0, bare, bare != ""
}

// atoiPrefix parses the leading digits of s; 0 when there are none or they overflow.
func atoiPrefix(s string) int {
	k := 0
	for k < len(s) && isDigit(s[k]) {
		k++
	}
	n, err := strconv.Atoi(s[:k])
	if err != nil {
		return 0
	}
	return n
}

// buildFrame names the function and file as Sentry's node parser does.
func buildFrame(fn, file string, lineno, colno int, bare string) sentrygo.Frame {
	isNative := bare == "native"
	file = normalizeStackPath(file)
	if file == "" && bare != "" && !isNative {
		file = bare
	}
	f := sentrygo.Frame{
		Function: functionName(fn),
		Lineno:   lineno,
		Colno:    colno,
		InApp:    filenameInApp(file, isNative),
	}
	f.Filename = file
	if dec, ok := decodeURI(file); ok {
		f.Filename = dec
	}
	if isPathLike(f.Filename) {
		f.AbsPath = f.Filename
	}
	f.Module = nodeModule(f.Filename)
	return f
}

// functionName turns V8's "Type.method", "Object.<anonymous>" or "" into Sentry's names.
func functionName(fn string) string {
	if fn == "" {
		return "?"
	}
	var typeName, method string
	hasMethod := false
	ms := strings.LastIndexByte(fn, '.')
	if ms > 0 && fn[ms-1] == '.' {
		ms--
	}
	if ms > 0 {
		object := fn[:ms]
		method = fn[ms+1:]
		if oe := strings.Index(object, ".Module"); oe > 0 {
			fn = fn[oe+1:]
			object = object[:oe]
		}
		if method != "" {
			typeName, hasMethod = object, true
		}
	}
	if hasMethod && method == "<anonymous>" {
		if typeName != "" {
			return typeName + ".?"
		}
		return "?"
	}
	return fn
}

// normalizeStackPath strips "file://" and the slash before a Windows drive letter.
func normalizeStackPath(p string) string {
	p = strings.TrimPrefix(p, "file://")
	if hasSlashDrive(p) {
		p = p[1:]
	}
	return p
}

// hasSlashDrive reports whether p contains "/X:" with X an upper-case letter, anywhere.
func hasSlashDrive(p string) bool {
	for i := 0; i+2 < len(p); i++ {
		if p[i] == '/' && p[i+1] >= 'A' && p[i+1] <= 'Z' && p[i+2] == ':' {
			return true
		}
	}
	return false
}

// filenameInApp is Sentry's rule: native frames, paths that are neither absolute nor
// relative nor URLs ("node:internal/...", "<anonymous>", "index 0") and anything under
// node_modules/ are not the application's code.
func filenameInApp(file string, isNative bool) bool {
	internal := isNative || (file != "" && !isPathLike(file) && !strings.HasPrefix(file, "."))
	return !internal && !strings.Contains(file, "node_modules/")
}

// isPathLike reports an absolute POSIX path, a Windows drive path or a URL with a scheme.
func isPathLike(p string) bool {
	if strings.HasPrefix(p, "/") {
		return true
	}
	if len(p) >= 2 && p[0] >= 'A' && p[0] <= 'Z' && p[1] == ':' {
		return true
	}
	return hasURLScheme(p)
}

// hasURLScheme matches ^[a-zA-Z][a-zA-Z0-9.+-]*://.
func hasURLScheme(p string) bool {
	if p == "" || !isLetter(p[0]) {
		return false
	}
	for i := 1; i < len(p); i++ {
		c := p[i]
		switch {
		case isLetter(c) || isDigit(c) || c == '.' || c == '+' || c == '-':
		case c == ':':
			return strings.HasPrefix(p[i:], "://")
		default:
			return false
		}
	}
	return false
}

func isLetter(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }

// nodeModule names a node_modules frame's module as the Node SDK does:
// ".../node_modules/express/lib/router/index.js" -> "express.lib.router:index".
func nodeModule(file string) string {
	i := strings.LastIndex(file, "/node_modules/")
	if i < 0 {
		return ""
	}
	rel := file[i+len("/node_modules/"):]
	dir, base := "", rel
	if j := strings.LastIndexByte(rel, '/'); j >= 0 {
		dir, base = rel[:j], rel[j+1:]
	}
	if k := strings.LastIndexByte(base, '.'); k > 0 {
		base = base[:k]
	}
	if dir == "" {
		return base
	}
	return strings.ReplaceAll(dir, "/", ".") + ":" + base
}

// decodeURI decodes percent escapes as JavaScript's decodeURI does: escapes of reserved
// characters stay as they are, and a malformed escape fails the whole string.
func decodeURI(s string) (string, bool) {
	if strings.IndexByte(s, '%') < 0 {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '%' {
			b.WriteByte(s[i])
			i++
			continue
		}
		n, consumed, ok := decodeEscape(s[i:])
		if !ok {
			return "", false
		}
		b.WriteString(n)
		i += consumed
	}
	return b.String(), true
}

// decodeEscape decodes one UTF-8 character written as %XX escapes at the start of s.
func decodeEscape(s string) (string, int, bool) {
	first, ok := hexByte(s)
	if !ok {
		return "", 0, false
	}
	if first < 0x80 {
		if strings.IndexByte(";/?:@&=+$,#", first) >= 0 {
			return s[:3], 3, true
		}
		return string(rune(first)), 3, true
	}
	n := utf8SeqLen(first)
	if n == 0 || len(s) < 3*n {
		return "", 0, false
	}
	buf := make([]byte, n)
	buf[0] = first
	for k := 1; k < n; k++ {
		c, ok := hexByte(s[3*k:])
		if !ok {
			return "", 0, false
		}
		buf[k] = c
	}
	if !utf8.Valid(buf) {
		return "", 0, false
	}
	return string(buf), 3 * n, true
}

func hexByte(s string) (byte, bool) {
	if len(s) < 3 || s[0] != '%' {
		return 0, false
	}
	v, err := strconv.ParseUint(s[1:3], 16, 8)
	return byte(v), err == nil
}

func utf8SeqLen(b byte) int {
	switch {
	case b&0xE0 == 0xC0:
		return 2
	case b&0xF0 == 0xE0:
		return 3
	case b&0xF8 == 0xF0:
		return 4
	}
	return 0
}

// cutUTF8 cuts s to at most n bytes without splitting a character.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
