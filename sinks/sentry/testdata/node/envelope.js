'use strict';
// Reads envelopes (uncompressed) from stdin, one per JSON-array element encoded as base64,
// parses each with @sentry/core's parseEnvelope and prints what it found: the envelope
// header and, per item, its header and its payload decoded as JSON.
//
// Run from the repository root: node sinks/sentry/testdata/node/envelope.js < input.json

const { parseEnvelope } = require('@sentry/core');

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const out = JSON.parse(input).map((b64) => {
    const [header, items] = parseEnvelope(Buffer.from(b64, 'base64'));
    return {
      header,
      items: items.map(([itemHeader, payload]) => ({
        header: itemHeader,
        payload: JSON.parse(payload instanceof Uint8Array ? decoder.decode(payload) : JSON.stringify(payload)),
      })),
    };
  });
  process.stdout.write(JSON.stringify(out));
});
