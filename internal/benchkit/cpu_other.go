//go:build !linux

package benchkit

import "time"

func threadCPU() time.Duration { return 0 }
