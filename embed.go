// Package winship holds what the binary embeds from the repository root: the default
// configuration, used when no config file is given and none is at the default path.
package winship

import _ "embed"

// DefaultConfig is config.example.yaml: tail ./logs/*.log into ./out/events.jsonl, with
// state in ./.winship, all relative to the current folder.
//
//go:embed config.example.yaml
var DefaultConfig []byte
