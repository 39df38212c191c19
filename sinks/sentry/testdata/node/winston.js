'use strict';
// Runs a small Winston 3 backend that logs errors thrown by the corpus (sync, async, ESM,
// node_modules callbacks, frontend reports) to <dir>/error.log and <dir>/combined.log with
// the usual timestamp() + errors({ stack: true }) + json() format. Prints on stdout a JSON
// array of {key, frames}: each logged stack parsed by @sentry/core's Node parser, keyed by
// the entry's requestId (or "frontend").
//
// Run from the repository root: node sinks/sentry/testdata/node/winston.js <dir>

const path = require('node:path');
const { pathToFileURL } = require('node:url');
const winston = require('winston');
const { createStackParser } = require('@sentry/core');
const { nodeStackLineParser } = require('@sentry/core/server');

const dir = process.argv[2];
const corpus = path.join(__dirname, 'corpus');
const app = require(path.join(corpus, 'app.js'));
const lib = require(path.join(corpus, 'node_modules', 'fakepkg'));

const logger = winston.createLogger({
  level: 'debug',
  format: winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: true }),
    winston.format.json()),
  defaultMeta: { service: 'corpus-backend' },
  transports: [
    new winston.transports.File({ filename: path.join(dir, 'error.log'), level: 'error' }),
    new winston.transports.File({ filename: path.join(dir, 'combined.log') }),
  ],
});

const parse = createStackParser(nodeStackLineParser());
const logged = [];

function logError(err, meta) {
  logger.error(err.message, { ...meta, stack: err.stack });
  logged.push({ key: meta.requestId, frames: parse(err.stack) });
}

async function run() {
  const attempts = [
    () => app.work({}),
    () => new app.Repo(true),
    () => lib.dispatch(app.work, {}),
    () => app.parseBody('{'),
    () => app.evalCall(),
    async () => app.loadAll([0]),
    async () => (await import(pathToFileURL(path.join(corpus, 'esm/mod.mjs')).href)).esmAsync(),
  ];
  let n = 0;
  for (const attempt of attempts) {
    logger.info(`GET /deals/${n} started`, { route: '/deals/:id', n });
    logger.warn('slow query', { durationMs: 1200 + n });
    try {
      await attempt();
    } catch (err) {
      logError(err, { requestId: `req-${n}` });
    }
    n++;
  }
  const browser = 'TypeError: x is not a function\n' +
    '    at onClick (https://crm.example.com/_next/static/chunks/app/page-abc.js:1:2345)';
  logger.error('Frontend Error:', {
    message: 'TypeError: x is not a function', stack: browser, url: 'https://crm.example.com/deals/9',
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0', ip: '203.0.113.7',
    context: { type: 'unhandledRejection', userId: 9 },
  });
  logged.push({ key: 'frontend', frames: parse(browser) });
  logger.error('DB query failed', { err: { code: 'ECONNREFUSED' } });
  await new Promise((resolve) => logger.on('finish', resolve).end());
  process.stdout.write(JSON.stringify(logged));
}

run().catch((err) => {
  process.stderr.write(String(err && err.stack) + '\n');
  process.exit(1);
});
