'use strict';
// Builds a corpus of real V8 stack traces under this Node version and parses each one with
// Sentry's own Node stack parser (@sentry/core). Prints a JSON array of
// {name, stack, frames} on stdout; the Go test parses the same stacks and compares.
//
// Run from the repository root so that node_modules resolves: node sinks/sentry/testdata/node/stacks.js

const path = require('node:path');
const vm = require('node:vm');
const { pathToFileURL } = require('node:url');
const { createStackParser } = require('@sentry/core');
const { nodeStackLineParser } = require('@sentry/core/server');

Error.stackTraceLimit = 40;

const corpus = path.join(__dirname, 'corpus');
const app = require(path.join(corpus, 'app.js'));
const lib = require(path.join(corpus, 'node_modules', 'fakepkg'));

const cases = [];

function stackOf(fn) {
  try {
    fn();
  } catch (err) {
    return err.stack;
  }
  throw new Error('case did not throw');
}

async function asyncStackOf(fn) {
  try {
    await fn();
  } catch (err) {
    return err.stack;
  }
  throw new Error('case did not throw');
}

function add(name, stack) {
  cases.push({ name, stack });
}

function importCorpus(rel) {
  return import(pathToFileURL(path.join(corpus, rel)).href);
}

async function collect() {
  add('function', stackOf(() => app.work({})));
  add('method', stackOf(() => new app.Repo(false).find(-1)));
  add('constructor', stackOf(() => new app.Repo(true)));
  add('static', stackOf(() => app.Repo.create()));
  add('getter', stackOf(() => new app.Repo(false).broken));
  add('object-literal-method', stackOf(() => app.handlers.onSave()));
  add('json-parse', stackOf(() => app.parseBody('{bad')));
  add('eval', stackOf(() => app.evalCall()));
  add('new-function', stackOf(() => app.fnCall()));
  add('vm', stackOf(() => vm.runInThisContext('(function vmFn() { null.x; })()')));
  add('array-map', stackOf(() => [1, 2].map((x) => app.work(x))));
  add('node-modules-callback', stackOf(() => lib.dispatch(app.work, {})));
  add('node-modules-throw', stackOf(() => lib.fail()));
  add('deep', stackOf(() => app.recurse(30)));
  add('anonymous-arrow', stackOf(() => { (() => { throw new Error('arrow'); })(); }));
  add('aliased', stackOf(() => {
    const o = { real() { throw new Error('alias'); } };
    o.alias = o.real;
    o.alias();
  }));
  add('async', await asyncStackOf(() => app.loadUser(0)));
  add('promise-all', await asyncStackOf(() => app.loadAll([1, 0, 2])));
  add('promise-any', await asyncStackOf(() => Promise.any([app.loadUser(0)])));
  add('timer', await new Promise((resolve) => {
    setTimeout(() => resolve(stackOf(() => app.work(null))), 0);
  }));
  add('next-tick', await new Promise((resolve) => {
    process.nextTick(() => resolve(stackOf(() => app.work(undefined))));
  }));
  add('event-emitter', stackOf(() => {
    const { EventEmitter } = require('node:events');
    const em = new EventEmitter();
    em.on('save', () => app.work({}));
    em.emit('save');
  }));
  add('node-internal', stackOf(() => require('node:fs').readFileSync(42.5)));
  const esm = await importCorpus('esm/mod.mjs');
  add('esm', stackOf(() => esm.esmThrow()));
  add('esm-class', stackOf(() => new esm.EsmService().run()));
  add('esm-async', await asyncStackOf(() => esm.esmAsync()));
  const spaced = await importCorpus('dir with space/spaced.mjs');
  add('esm-escaped-path', stackOf(() => spaced.spaced()));
  const uni = await importCorpus('dir with space/ünï.mjs');
  add('esm-unicode-path', stackOf(() => uni.unicode()));
  const dataMod = await import('data:text/javascript,export function d() { throw new Error("data"); }');
  add('data-url', stackOf(() => dataMod.d()));
  for (const [name, stack] of Object.entries(handwritten)) {
    add(name, stack);
  }
}

// Lines Node 20 rarely prints but that reach winship: browser stacks, Windows paths, native.
const handwritten = {
  browser: 'TypeError: x is not a function\n' +
    '    at onClick (http://localhost:3000/_next/static/chunks/app/page-abc.js:1:2345)\n' +
    '    at HTMLUnknownElement.callCallback (http://localhost:3000/_next/static/chunks/framework.js:10:100)\n' +
    '    at https://cdn.example.com/vendor.min.js:2:77\n' +
    '    at Object.invokeGuardedCallbackDev (webpack-internal:///./node_modules/react-dom/cjs/react-dom.development.js:4213:16)',
  windows: 'Error: win\n' +
    '    at run (C:\\app\\src\\index.js:3:9)\n' +
    '    at Object.<anonymous> (file:///C:/app/src/main.mjs:1:1)\n' +
    '    at C:\\app\\node_modules\\x\\y.js:1:2',
  native: 'Error: nat\n    at Array.forEach (native)\n    at go (/srv/a.js:1:2)',
  oddities: 'Error: odd\n' +
    '    at Module._extensions..js (node:internal/modules/cjs/loader:1623:10)\n' +
    '    at Foo.Module.bar (/srv/m.js:1:1)\n' +
    '    at new <anonymous> (/srv/n.js:2:3)\n' +
    '    at /srv/no-column.js:7\n' +
    '    at fn (/srv/line-only.js:8)\n' +
    '    at async Promise.all (index 3)\n' +
    '    at Generator.next (<anonymous>)\n' +
    '    at bad (/srv/%E0%A4%A.js:1:1)\n' +
    '    at ok (/srv/a%3Fb%20c.js:1:1)\n' +
    '    at relative (./lib/r.js:4:4)\n' +
    '    at (/srv/empty-name.js:5:5)\n' +
    '    at evalmachine.<anonymous>:1:7',
};

collect().then(() => {
  const parse = createStackParser(nodeStackLineParser());
  const out = cases.map((c) => ({ name: c.name, stack: c.stack, frames: parse(c.stack) }));
  process.stdout.write(JSON.stringify(out));
}).catch((err) => {
  process.stderr.write(String(err && err.stack) + '\n');
  process.exit(1);
});
