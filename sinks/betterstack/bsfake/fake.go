// Package bsfake is a fake BetterStack Logs ingestion endpoint for tests, built on
// httpfake: it checks the bearer token (403 otherwise), takes a gzipped JSON array, one
// object or NDJSON (406 for a body it cannot parse), answers 202, answers 413 above 10 MiB
// on the wire, and records a Problem for an event without a string dt, level or message,
// for a dt that is not RFC 3339 with milliseconds, for an event over 100 KiB and for a body
// sent without gzip. Script it with the embedded httpfake.Server's methods (Queue, Down,
// Script, Poison) and the helpers here.
package bsfake

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/winship/winship/sinks/http/httpfake"
)

// Limits of the real service the fake enforces.
const (
	MaxRequestBytes = 10 << 20  // compressed body; larger gets 413
	MaxEventBytes   = 100 << 10 // one record; larger is a Problem
)

// Server is a fake BetterStack endpoint.
type Server struct {
	*httpfake.Server
	// Token is the source token it accepts.
	Token string
}

// New starts a fake accepting token; edit, when not nil, may change the httpfake config
// (MaxBodyBytes, Key, ...) before it starts.
func New(t testing.TB, token string, edit func(*httpfake.Config)) *Server {
	cfg := httpfake.Config{
		Token:         token,
		AuthStatus:    http.StatusForbidden,
		RequireGzip:   true,
		OKStatus:      http.StatusAccepted,
		BadBodyStatus: http.StatusNotAcceptable,
		MaxBodyBytes:  MaxRequestBytes,
		MaxEventBytes: MaxEventBytes,
		Check:         CheckEvent,
	}
	if edit != nil {
		edit(&cfg)
	}
	return &Server{Server: httpfake.New(t, cfg), Token: token}
}

// Quota makes the next n requests get 402 (quota or spending limit reached).
func (s *Server) Quota(n int) {
	s.QueueN(n, httpfake.Answer{Status: http.StatusPaymentRequired, Body: "Payment Required"})
}

// CheckEvent checks the keys winship must send: dt (RFC 3339, UTC, milliseconds), level and
// message as strings.
func CheckEvent(e httpfake.Event) error {
	dt := e.Str("dt")
	if dt == "" {
		return errors.New("no dt string")
	}
	if t, err := time.Parse(time.RFC3339Nano, dt); err != nil || len(dt) != 24 ||
		t.Location() != time.UTC {
		return errors.New("dt " + dt + " is not RFC 3339 UTC with milliseconds")
	}
	if _, ok := e.Map["level"].(string); !ok {
		return errors.New("no level string")
	}
	if _, ok := e.Map["message"].(string); !ok {
		return errors.New("no message string")
	}
	return nil
}
