// Runs a CloudFront Function's code for the local emulator, in node.
//
// stdin, one message per line, "<number> <JSON>": first the function's code
// (a JSON string), then one CloudFront Functions event per line. stdout: one
// line per message, {"id": <number>, "result": <what handler returned>},
// {"id": <number>, "ready": true} or {"id": <number>, "error": "<message>"};
// the number lets the emulator skip an answer whose request gave up.
//
// The code runs in a V8 context holding only the language built-ins (no
// require, process, Buffer or timers), as at the edge; each event is built
// inside that context.
'use strict';

const readline = require('readline');
const vm = require('vm');

const context = vm.createContext({});
// JSON in and out with the context's own built-ins, so the event's objects
// are the function's kind of objects (compiled once, not per event).
const parse = vm.runInContext('(function (text) { return JSON.parse(text); })', context);
const stringify = vm.runInContext('(function (value) { return JSON.stringify(value); })', context);
let handler = null;

const lines = readline.createInterface({ input: process.stdin, terminal: false });
lines.on('line', (message) => {
  const space = message.indexOf(' ');
  const id = Number(message.slice(0, space));
  const line = message.slice(space + 1);
  let reply;
  try {
    if (handler === null) {
      const code = JSON.parse(line);
      handler = vm.runInContext(code + '\n;handler', context, { filename: 'cloudfront-function.js' });
      if (typeof handler !== 'function') {
        throw new Error('the code defines no function named handler');
      }
      reply = { id, ready: true };
    } else {
      const text = stringify(handler(parse(line)));
      process.stdout.write('{"id":' + id + ',"result":' + (text === undefined ? 'null' : text) + '}\n');
      return;
    }
  } catch (e) {
    reply = { id, error: String(e && e.stack ? e.stack : e) };
  }
  process.stdout.write(JSON.stringify(reply) + '\n');
});
