// Package buffer is winship's durable disk buffer: one append-only log of records shared by
// every sink, each sink reading it through its own Cursor.
package buffer
