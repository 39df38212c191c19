package checkpoint

import (
	"os"

	"golang.org/x/sys/unix"
)

// birthTime returns the creation time of the open file f in unix nanoseconds, or 0 when the
// file system does not record one (statx without STATX_BTIME in its answer).
func birthTime(f *os.File) int64 {
	sc, err := f.SyscallConn()
	if err != nil {
		return 0
	}
	var st unix.Statx_t
	var serr error
	err = sc.Control(func(fd uintptr) {
		serr = unix.Statx(int(fd), "", unix.AT_EMPTY_PATH|unix.AT_STATX_SYNC_AS_STAT,
			unix.STATX_BTIME, &st)
	})
	if err != nil || serr != nil || st.Mask&unix.STATX_BTIME == 0 {
		return 0
	}
	return st.Btime.Sec*1e9 + int64(st.Btime.Nsec)
}
