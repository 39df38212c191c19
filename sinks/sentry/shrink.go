package sentry

import (
	"encoding/json"

	sentrygo "github.com/getsentry/sentry-go"
)

// shrinkLevel says how hard shrinkEvent cuts.
type shrinkLevel int

const (
	shrinkNone shrinkLevel = iota
	// shrinkSoft: no breadcrumbs, contexts of 2 kB, 30 frames, strings of 4 kB.
	shrinkSoft
	// shrinkHard: also contexts of 512 B, 10 frames, strings of 1 kB.
	shrinkHard
)

type shrinkLimits struct {
	context, frames, message, frameText int
}

var limitsOf = map[shrinkLevel]shrinkLimits{
	shrinkSoft: {context: 2 << 10, frames: 30, message: 4 << 10, frameText: 512},
	shrinkHard: {context: 512, frames: 10, message: 1 << 10, frameText: 256},
}

// shrinkEvent cuts ev down so that a server that refused it as too large may take it:
// breadcrumbs go, contexts are trimmed, middle frames removed and long strings cut.
// It marks the event as shrunk in the winship context.
func shrinkEvent(ev *sentrygo.Event, level shrinkLevel) {
	lim, ok := limitsOf[level]
	if !ok {
		return
	}
	ev.Breadcrumbs = nil
	ev.Message = cutUTF8(ev.Message, lim.message)
	for name, c := range ev.Contexts {
		ev.Contexts[name] = rebound(c, lim.context)
	}
	for i := range ev.Exception {
		shrinkException(&ev.Exception[i], lim)
	}
	if ev.Request != nil {
		ev.Request.URL = cutUTF8(ev.Request.URL, lim.message)
		for k, v := range ev.Request.Headers {
			ev.Request.Headers[k] = cutUTF8(v, lim.frameText)
		}
	}
	w := ev.Contexts[ctxWinship]
	if w == nil {
		w = sentrygo.Context{}
		ev.Contexts[ctxWinship] = w
	}
	w["shrunk"] = true
}

func shrinkException(ex *sentrygo.Exception, lim shrinkLimits) {
	ex.Value = cutUTF8(ex.Value, lim.message)
	st := ex.Stacktrace
	if st == nil {
		return
	}
	st.Frames, st.FramesOmitted = trimMore(st.Frames, st.FramesOmitted, lim.frames)
	for i := range st.Frames {
		f := &st.Frames[i]
		f.Function = cutUTF8(f.Function, lim.frameText)
		f.Filename = cutUTF8(f.Filename, lim.frameText)
		f.AbsPath = cutUTF8(f.AbsPath, lim.frameText)
		f.Module = cutUTF8(f.Module, lim.frameText)
		f.Vars, f.PreContext, f.PostContext, f.ContextLine = nil, nil, nil, ""
	}
}

// trimMore trims frames already trimmed once (omitted in original indices) to limit,
// keeping frames_omitted in original indices.
func trimMore(frames []sentrygo.Frame, omitted []uint, limit int) ([]sentrygo.Frame, []uint) {
	kept, cut := trimFrames(frames, limit)
	if cut == nil {
		return frames, omitted
	}
	if len(omitted) != 2 {
		return kept, cut
	}
	// cut[0] lies before the earlier hole and cut[1] after it: shift the end past it.
	return kept, []uint{cut[0], cut[1] + omitted[1] - omitted[0]}
}

// rebound re-encodes a context so that it stays within limit bytes.
func rebound(c sentrygo.Context, limit int) sentrygo.Context {
	raw := make(map[string]json.RawMessage, len(c))
	for k, v := range c {
		b, err := json.Marshal(v)
		if err != nil {
			continue
		}
		raw[k] = b
	}
	return boundedContext(raw, limit)
}
