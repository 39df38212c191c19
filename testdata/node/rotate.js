// A fast Winston producer that rotates its files, for winship's rotation end-to-end tests.
// It logs COUNT numbered entries ("entry <n>", with "n" in the metadata) into DIR with one
// rotation scheme, in bursts, then exits once everything is written.
//
// usage: node rotate.js MODE DIR COUNT [BURST] [PAUSE_MS]
//   MODE:
//     maxsize                 File transport, maxsize, no tailable: combined.log, then
//                             combined1.log, combined2.log, ... (the highest is the newest)
//     tailable                File transport, maxsize, tailable: combined.log is always the
//                             newest; rotation renames combined.log -> combined1.log -> ...
//     daily                   winston-daily-rotate-file, size rotation (.log.1, .log.2, ...),
//                             a symlink current.log to the active file, old files gzipped
//                             (.gz) and deleted, and the hidden audit JSON beside them
//     copytruncate            logrotate copytruncate done every 20 bursts: copy combined.log
//                             to combined.log.<k>, then truncate it in place; the writer
//                             appends (O_APPEND), as Winston's File transport does
//     copytruncate-noappend   the same with a writer that keeps its offset (no O_APPEND), so
//                             the truncated file starts with a hole of NUL bytes
//   BURST entries are logged, then the script waits PAUSE_MS (defaults 200 and 5): about
//   30,000 entries a second, while every file lives long enough to be seen (a file that is
//   created, filled, gzipped and deleted before any reader opened it is lost to every
//   tailer; two copytruncates between two reads lose the middle copy's unread lines).
//
// No file is deleted before its entries were written and closed; no entry is lost by the
// producer, so a test can require every entry exactly once. Nothing here is deleted while
// it may still be unread except the gzipped daily files, which winston-daily-rotate-file
// removes itself (winship keeps them open until read: that is what the test checks).
'use strict';
const fs = require('fs');
const path = require('path');
const { Writable } = require('stream');
const winston = require('winston');
require('winston-daily-rotate-file');

const [mode, dir, countArg, burstArg = '200', pauseArg = '5'] = process.argv.slice(2);
const count = parseInt(countArg, 10);
const burst = parseInt(burstArg, 10);
const pause = parseInt(pauseArg, 10);
const format = winston.format.combine(winston.format.timestamp(), winston.format.json());
const pad = 'x'.repeat(120); // ~220-byte lines, like a real entry with a little metadata

fs.mkdirSync(dir, { recursive: true });

// A writable that writes each chunk synchronously, so that a copytruncate done between two
// log calls never races a write in flight (logrotate's own window is not what is tested).
function syncFile(file, append) {
  const fd = fs.openSync(file, append ? 'a' : 'w');
  const stream = new Writable({
    write(chunk, _enc, cb) {
      fs.writeSync(fd, chunk);
      cb();
    },
  });
  stream.on('finish', () => fs.closeSync(fd));
  return stream;
}

function transportFor(m) {
  const file = path.join(dir, 'combined.log');
  switch (m) {
    case 'maxsize':
      return new winston.transports.File({ filename: file, maxsize: 64 << 10 });
    case 'tailable':
      // maxFiles above the number of rotations: nothing is deleted.
      return new winston.transports.File({ filename: file, maxsize: 64 << 10, tailable: true,
        maxFiles: Math.ceil((count * 260) / (64 << 10)) + 10 });
    case 'daily':
      return new winston.transports.DailyRotateFile({
        dirname: dir, filename: 'combined-%DATE%.log', datePattern: 'YYYY-MM-DD',
        maxSize: '1m', zippedArchive: true, createSymlink: true, symlinkName: 'current.log',
      });
    case 'copytruncate':
      return new winston.transports.Stream({ stream: syncFile(file, true) });
    case 'copytruncate-noappend':
      return new winston.transports.Stream({ stream: syncFile(file, false) });
    default:
      throw new Error(`unknown mode ${m}`);
  }
}

const logger = winston.createLogger({ level: 'info', format, transports: [transportFor(mode)] });
let copies = 0;

function copyTruncate() {
  const file = path.join(dir, 'combined.log');
  copies++;
  fs.copyFileSync(file, `${file}.${copies}`);
  fs.truncateSync(file, 0);
}

const sleep = (ms) => new Promise((resolve) => (ms > 0 ? setTimeout(resolve, ms) : setImmediate(resolve)));

async function main() {
  for (let i = 0; i < count; i++) {
    logger.info(`entry ${i}`, { n: i, pad });
    if ((i + 1) % burst === 0) {
      if (mode.startsWith('copytruncate') && (i + 1) % (burst * 20) === 0) {
        copyTruncate();
      }
      await sleep(pause);
    }
  }
  await new Promise((resolve) => {
    logger.on('finish', resolve);
    logger.end();
  });
  // The File transports finish writing after the logger: give the streams their turn.
  await sleep(200);
  process.stdout.write(JSON.stringify({ mode, count, copies, files: fs.readdirSync(dir) }) + '\n');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
