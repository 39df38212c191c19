// A stand-in for the Express backend: logs COUNT entries through real Winston 3 into
// OUT/error.log and OUT/combined.log, the way the backend does, then exits once the files
// are flushed. Used by winship's end-to-end tests.
//
// usage: node winston-app.js OUT COUNT [FORMAT] [START]
//   FORMAT: json (default) | logstash | pretty | printf | simple
//   START: first entry number (default 0), so a second run can append new entries.
//
// Every entry carries a unique "n" (its number) and "run" in its metadata, and every
// message ends in "#<n>", so tests can check that each entry arrived exactly once.
'use strict';
const path = require('path');
const winston = require('winston');

const [out, countArg, format = 'json', startArg = '0'] = process.argv.slice(2);
const count = parseInt(countArg || '100', 10);
const start = parseInt(startArg, 10);
const { combine, timestamp, errors, json, logstash, prettyPrint, printf, simple } = winston.format;

const formats = {
  json: combine(timestamp(), errors({ stack: true }), json()),
  logstash: combine(timestamp(), errors({ stack: true }), logstash()),
  pretty: combine(timestamp(), errors({ stack: true }), prettyPrint()),
  printf: combine(timestamp(), errors({ stack: true }),
    printf((i) => `${i.timestamp} [${i.level}]: ${i.stack || i.message}`)),
  simple: combine(errors({ stack: true }), simple()),
};

const logger = winston.createLogger({
  level: 'silly',
  format: formats[format],
  defaultMeta: { service: 'vegas-crm-backend' },
  transports: [
    new winston.transports.File({ filename: path.join(out, 'error.log'), level: 'error' }),
    new winston.transports.File({ filename: path.join(out, 'combined.log') }),
  ],
});

function failingHandler(n) {
  const user = undefined;
  try {
    return user.id; // TypeError, thrown from a named function
  } catch (err) {
    err.message = `${err.message} #${n}`;
    return err;
  }
}

class PaymentService {
  charge(n) {
    return new RangeError(`amount out of range #${n}`);
  }
}

const texts = [
  (n) => `Foydalanuvchi topilmadi: buyurtma yaratilmadi #${n}`,
  (n) => `Не удалось подключиться к базе данных #${n}`,
  (n) => `Payment accepted 🎉💳 #${n}`,
  (n) => `multi\nline\tmessage #${n}`,
];

for (let i = start; i < start + count; i++) {
  const meta = { n: i, run: start };
  switch (i % 10) {
    case 0:
      logger.error(failingHandler(i), meta);
      break;
    case 1:
      logger.error(new PaymentService().charge(i), meta);
      break;
    case 2:
      logger.error(`Frontend Error: TypeError: Cannot read properties of null (reading 'map') #${i}`, {
        ...meta,
        url: 'https://crm.example.uz/orders/42',
        userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36',
        ip: '203.0.113.7',
        stack: "TypeError: Cannot read properties of null (reading 'map')\n" +
          '    at OrderList (https://crm.example.uz/_next/static/chunks/pages/orders-3f2a.js:1:2345)\n' +
          '    at renderWithHooks (https://crm.example.uz/_next/static/chunks/framework-9b1c.js:1:6789)',
        context: { component: 'OrderList', orderId: 42 },
      });
      break;
    case 3: {
      const circ = { name: 'loop' };
      circ.self = circ;
      logger.warn(texts[i % 4](i), { ...meta, circ });
      break;
    }
    case 4:
      logger.http(`GET /api/orders 200 12ms #${i}`, { ...meta, method: 'GET', status: 200 });
      break;
    case 5:
      logger.verbose(texts[3](i), meta);
      break;
    case 6:
      logger.debug(texts[1](i), { ...meta, nested: { a: [1, 2, { b: 'c' }] } });
      break;
    case 7:
      logger.silly(texts[2](i), meta);
      break;
    default:
      logger.info(texts[i % 4](i), meta);
  }
}

// Winston's File transport writes asynchronously: wait for both files to finish.
let open = logger.transports.length;
for (const t of logger.transports) {
  t.on('finish', () => { if (--open === 0) process.exit(0); });
}
logger.end();
