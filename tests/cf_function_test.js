#!/usr/bin/env node
// Runs a CloudFront Function's code against sample events.
//
//   node tests/cf_function_test.js FUNCTION_CODE_FILE < events.json
//
// stdin holds a JSON array of CloudFront Functions events; stdout gets a JSON
// array with, for each event, {"result": <what handler returned>} or
// {"error": "<message>"}. tests/template_test.py extracts the code from
// template.yaml, calls this and checks the results.
//
// Each event runs in a fresh V8 context that holds only the language
// built-ins: no require, process, Buffer or timers, so code that leans on
// Node-only APIs fails here as it would at the edge.
'use strict';

const fs = require('fs');
const vm = require('vm');

function main() {
  const codeFile = process.argv[2];
  if (!codeFile) {
    process.stderr.write('usage: cf_function_test.js FUNCTION_CODE_FILE < events.json\n');
    process.exit(2);
  }
  const code = fs.readFileSync(codeFile, 'utf8');
  const events = JSON.parse(fs.readFileSync(0, 'utf8'));
  if (!Array.isArray(events)) {
    throw new Error('stdin must hold a JSON array of events');
  }

  const results = events.map((event) => {
    const context = vm.createContext({});
    try {
      const handler = vm.runInContext(code + '\n;handler', context, { filename: codeFile });
      if (typeof handler !== 'function') {
        return { error: 'the code defines no function named handler' };
      }
      // Hand the event over as a copy built inside the function's context.
      const copy = vm.runInContext('(' + JSON.stringify(event) + ')', context);
      return { result: JSON.parse(JSON.stringify(handler(copy))) };
    } catch (e) {
      return { error: String(e && e.stack ? e.stack : e) };
    }
  });
  process.stdout.write(JSON.stringify(results));
}

main();
