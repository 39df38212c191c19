// Package source finds the files of one configured source and follows each of them, so that
// every line reaches the pipeline once, through rotation, truncation, restarts and odd bytes.
//
// # Data flow
//
// Run watches the folders of the globs with fsnotify (one watch per folder, not per file)
// and matches the globs again after every change, every rescan_interval, and after an
// inotify queue overflow. One follower runs per file identity (device and inode, see
// agent/checkpoint), not per name. A follower reads with pread from its own offsets, splits
// lines, hands them to its parser, and sends Batches to the pipeline's writer over one
// channel. A Batch carries the offset up to which its file is then fully represented; the
// writer saves it in the checkpoint store only once the Batch's events are durable.
//
// # What is handled
//
//   - Rename rotation (logrotate create, Winston tailable, winston-daily-rotate-file): the
//     renamed file keeps its follower, which reads it to its end; the new file gets a new
//     follower that reads it from 0. A file renamed out of the globs is read until it has
//     not grown for rotate_wait after the rename; writes to it wake its follower meanwhile.
//   - Deletion: a deleted file is read to its end and closed at once, freeing its space.
//   - Truncation, also "> file" followed by fast appends that make it longer than before:
//     each wake-up compares the bytes just before the read position and the file's first
//     bytes with what was read; after every read the bytes before it are compared again
//     before the chunk is used, so a truncation between the check and the read is caught.
//   - copytruncate: the lines written after the last read and before the truncation are
//     read from the copy, a file in the same folder whose first bytes and bytes before our
//     offset equal ours. The NUL hole a non-appending writer leaves is jumped over with
//     SEEK_DATA; NUL runs at line starts are skipped and counted.
//   - Partial lines wait for their newline; a fragment that can never be completed (file
//     truncated, deleted, or rotated away and idle) is shipped flagged partial.
//   - Over-long lines are cut at max_line_bytes, flagged and counted; the rest of the line
//     is skipped, also across a restart (a saved offset inside a line means its head was
//     shipped).
//   - Restarts: files are found again by identity; a file rotated out of the globs while
//     winship was stopped is found by inode in its folder and finished from its offset;
//     the checkpoint of a file that is gone is forgotten.
//   - Identity: the birth time (statx) and a hash of the first 1 KiB tell a file that
//     reuses a deleted file's inode from the old one; the identity of a file that was
//     smaller than 1 KiB when opened is renewed as it grows. Inodes of files deleted while
//     running are remembered for an hour, so their checkpoints are never inherited.
//   - Symlinks whose target is under the globs too are skipped (no doubled lines); a link
//     that is the only name under the globs is followed through, and its target's folder
//     watched.
//   - When no inotify watcher or watch can be had, the source polls every poll_interval and
//     says so in a warning; it never exits the process.
//
// # Known limits
//
//   - A file renamed out of the globs (or created, filled and deleted) before winship first
//     opened it is not read: nobody can tell it existed. Keep rotated names inside the globs
//     (combined*.log) when rotations come faster than a scan.
//   - A writer that keeps writing to a file renamed out of the globs for longer than
//     rotate_wait after the rename loses those lines (Winston's File transport never
//     reopens its file after an outside rename: use copytruncate with logrotate, or raise
//     rotate_wait).
//   - copytruncate recovery needs the copy uncompressed and in the same folder when the
//     truncation is noticed, and finds the copy of one rotation only: if two copytruncates
//     happen between two reads (winship stopped or starved across two rotations), the
//     unread end of the middle copy is lost. Lines written between logrotate's copy and its
//     truncation are lost by logrotate itself. A copy matched by the globs is read as a file
//     of its own (its lines twice): exclude copies from the globs.
//   - A file truncated and refilled while winship was stopped whose first 1 KiB is the same
//     as before is resumed from its saved offset (the checkpoint keeps no tail bytes).
//   - Across a restart, inode reuse with an identical first 1 KiB is told apart only on file
//     systems that record a birth time (ext4, xfs, btrfs, tmpfs on recent kernels).
//   - With a sink whose buffer is full and when_full: block, reading pauses, so a deleted file
//     stays open (its space held) until the buffer has room: its unread lines exist nowhere
//     else.
//   - NUL bytes inside a line (not at its start) are kept in the line.
package source
