// Writes Winston output with the odd entries the parser tests need, one folder per format.
// Usage: node gen.js OUTDIR   (run from anywhere; winston is resolved from the repository root).
// The committed folders beside this script were written by it with winston 3.19.0, Node 20.
'use strict';
const path = require('path');
const fs = require('fs');
const root = path.resolve(__dirname, '..', '..', '..');
const winston = require(require.resolve('winston', { paths: [root] }));
const { format } = winston;

const out = process.argv[2];
if (!out) {
  console.error('usage: node gen.js OUTDIR');
  process.exit(2);
}

const printf = format.printf((i) => `${i.timestamp} [${i.level}]: ${i.stack || i.message}`);
const formats = {
  basic: format.combine(format.timestamp(), format.errors({ stack: true }), format.json()),
  logstash: format.combine(format.timestamp(), format.errors({ stack: true }), format.logstash()),
  pretty: format.combine(format.timestamp(), format.errors({ stack: true }), format.prettyPrint()),
  printf: format.combine(format.timestamp(), format.errors({ stack: true }), printf),
  simple: format.combine(format.errors({ stack: true }), format.simple()),
  'json-color': format.combine(format.colorize(), format.timestamp(), format.errors({ stack: true }),
    format.json()),
  'simple-color': format.combine(format.colorize(), format.errors({ stack: true }), format.simple()),
  'printf-color': format.combine(format.colorize(), format.timestamp(),
    format.errors({ stack: true }), printf),
  'json-localtime': format.combine(format.timestamp({ format: 'YYYY-MM-DD HH:mm:ss' }),
    format.errors({ stack: true }), format.json()),
};

function makeLogger(dir, fmt, levels) {
  fs.mkdirSync(dir, { recursive: true });
  return winston.createLogger({
    level: 'silly',
    levels,
    format: fmt,
    defaultMeta: { service: 'odd-demo' },
    transports: [new winston.transports.File({ filename: path.join(dir, 'combined.log'),
      level: levels ? 'debug' : 'silly' })],
  });
}

// Each call below writes exactly one entry; ENTRIES counts them for the tests.
function writeNpm(log) {
  log.info('Платёж не прошёл: клиент 5', { customerId: 5 });
  log.warn('Тўлов амалга ошмади 🚀 — retry', { emoji: '🎉👍🏽', uz: "To'lov" });
  const e = new Error('boom with\nnewline');
  e.code = 'E_BOOM';
  log.error(e);
  log.info('tab\tand "double" and \'single\' and `back` quotes');
  log.info('meta shapes', { date: new Date(0), nested: { a: [1, 2, { b: null }] },
    long: 'x'.repeat(300), nums: Array.from({ length: 30 }, (_, i) => i), empty: {}, none: [] });
  log.info({ message: { obj: 1 }, kind: 'object message' });
  log.log({ level: 'info', kind: 'no message' });
  log.http('GET /api/health 200 1ms', { status: 200 });
  log.error('wrapped', new Error('inner'));
  const circ = { name: 'loop' };
  circ.self = circ;
  log.debug('circular meta', { circ });
  log.verbose('payload:\n{\n  "a": 1\n}\nend', { shape: 'braces' });
  log.silly('silly one');
  log.error('Frontend Error:', { message: 'TypeError: y is undefined', url: 'http://x/a?q=1',
    userAgent: 'Mozilla/5.0', ip: '::1', context: { route: '/a' } });
  log.info('back\\slash and \u0001 control and \u2028 separator');
}
const NPM_ENTRIES = 14;

function writeSyslog(log) {
  for (const lv of ['emerg', 'alert', 'crit', 'error', 'warning', 'notice', 'info', 'debug']) {
    log.log(lv, `syslog ${lv}`);
  }
}

async function main() {
  const loggers = [];
  for (const [name, fmt] of Object.entries(formats)) {
    const log = makeLogger(path.join(out, name), fmt);
    writeNpm(log);
    loggers.push(log);
  }
  const sys = makeLogger(path.join(out, 'syslog'), formats.basic, winston.config.syslog.levels);
  writeSyslog(sys);
  loggers.push(sys);
  await Promise.all(loggers.map((l) => new Promise((resolve) => {
    l.on('finish', resolve);
    l.end();
  })));
  fs.writeFileSync(path.join(out, 'entries.json'),
    JSON.stringify({ npm: NPM_ENTRIES, syslog: 8 }) + '\n');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
