// Writes real Winston output with non-ASCII text, nested metadata and keys that clash with
// the BetterStack sink's own (dt, host, path, source, fields) to the file named by argv[2].
// Run: node winston-unicode.js combined-unicode.log   (winston from the repo's node_modules)
'use strict';
const winston = require('winston');

const file = process.argv[2];
if (!file) {
  console.error('usage: node winston-unicode.js <out.log>');
  process.exit(2);
}
const logger = winston.createLogger({
  level: 'silly',
  format: winston.format.combine(
    winston.format.timestamp(),
    winston.format.errors({ stack: true }),
    winston.format.json(),
  ),
  defaultMeta: { service: 'vegas-crm-backend' },
  transports: [new winston.transports.File({ filename: file })],
});

for (let i = 0; i < 20; i++) {
  logger.warn(`Toʻlov muvaffaqiyatsiz ${i}`, { customerId: i, tags: ['oʻzbek', 'тўлов'] });
  logger.info(`Тўлов қабул қилинди ${i} 🚀`, { amount: { sum: 1000 * i, currency: 'UZS' } });
  logger.error(`Платёж отклонён №${i} 😱`, new Error(`банк ответил ошибкой ${i}`));
  logger.info(`family 👨‍👩‍👧 flags 🇺🇿 cjk 日本語 ${i}`, {
    nested: { deep: { deeper: { emoji: '🎉', list: [1, 'два', { three: 3 }] } } },
  });
  logger.http(`GET /api/deals/${i} 200`, {
    host: 'api-1.internal', path: `/api/deals/${i}`, source: 'nginx', dt: 'not ours',
    fields: { note: 'a key named fields' }, status: 200,
  });
  logger.debug(`control chars \u0001 tab\t quote " backslash \\ ${i}`, { empty: {}, nil: null });
}
logger.on('finish', () => process.exit(0));
logger.end();
