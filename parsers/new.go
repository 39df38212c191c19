package parsers

import "fmt"

func newParser(format string) Parser {
	switch format {
	case "json", "logstash":
		return &jsonParser{}
	case "pretty":
		return &prettyParser{}
	case "text":
		return &textParser{}
	case "auto":
		return &autoParser{}
	}
	panic(fmt.Sprintf("parsers: unknown format %q", format))
}
