#!/usr/bin/env node
// N journeys of a Step CI workflow in one process, one after another.
//
// usage: node stepci-loop.js WORKFLOW N BASE_URL   (password from $BENCH_PASSWORD)
//
// Step CI has no iteration count. Its closest loop is the CLI's --loadtest
// mode, which parses the workflow once and then calls the runner's run() for
// every arrival of its phases (time-based and concurrent). This does the same
// with a count, sequentially: the workflow is loaded as runFromFile() loads it
// (js-yaml, then $ref dereferencing), then run() is awaited N times with the
// options `stepci run WORKFLOW -e base=URL -s password=...` passes. Exit status
// 0 when every run passed; the first failing run is printed and ends the loop.
'use strict';
const fs = require('fs');
const yaml = require('js-yaml');
const $RefParser = require('@apidevtools/json-schema-ref-parser');
const { run } = require('@stepci/runner');

async function main() {
  const [file, count, base] = process.argv.slice(2);
  const n = Number(count);
  if (!file || !Number.isInteger(n) || n < 1 || !base) {
    process.stderr.write('usage: node stepci-loop.js WORKFLOW N BASE_URL\n');
    return 2;
  }
  const workflow = await $RefParser.dereference(yaml.load(fs.readFileSync(file, 'utf8')),
    { dereference: { circular: 'ignore' } });
  const options = {
    env: { base },
    secrets: { password: process.env.BENCH_PASSWORD || '' },
    path: file,
  };
  for (let i = 0; i < n; i++) {
    const { result } = await run(workflow, options);
    if (!result.passed) {
      process.stderr.write(`stepci-loop: run ${i + 1} failed:\n${JSON.stringify(result.tests, null, 1).slice(0, 4000)}\n`);
      return 1;
    }
  }
  process.stdout.write(`stepci-loop: ${n} runs passed\n`);
  return 0;
}

main().then((code) => { process.exitCode = code; },
  (err) => { process.stderr.write(`stepci-loop: ${err.stack || err}\n`); process.exitCode = 1; });
