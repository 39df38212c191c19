'use strict';
// Functions that throw in the ways a backend does; stacks.js calls them to collect stacks.

function work(obj) {
  return obj.user.id;
}

class Repo {
  constructor(fail) {
    if (fail) throw new RangeError('constructor refused');
  }
  find(id) {
    if (id < 0) throw new TypeError('id must be positive');
    return id;
  }
  static create() {
    return new Repo(true);
  }
  get broken() {
    throw new Error('getter failed');
  }
}

const handlers = {
  onSave() {
    throw new Error('handler failed');
  },
};

async function loadUser(id) {
  await null;
  if (id === 0) throw new Error('no user 0');
  return { id };
}

async function loadAll(ids) {
  return Promise.all(ids.map((id) => loadUser(id)));
}

function parseBody(text) {
  return JSON.parse(text);
}

function evalCall() {
  // eslint-disable-next-line no-eval
  return eval('(function inEval() { throw new Error("eval failed"); })()');
}

function fnCall() {
  const f = new Function('x', 'if (x) { throw new Error("new Function failed"); }');
  return f(1);
}

function recurse(n) {
  if (n === 0) throw new Error('deep');
  return recurse(n - 1);
}

module.exports = { work, Repo, handlers, loadUser, loadAll, parseBody, evalCall, fnCall, recurse };
