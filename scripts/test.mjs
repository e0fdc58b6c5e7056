#!/usr/bin/env node
// Runs every compiled test file of every workspace with node:test and ends with
// node's own pass/fail summary. Usage: node scripts/test.mjs [package ...]
// Environment: XIANGAN_TEST_CONCURRENCY (files run at once, default 2).
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = resolve(import.meta.dirname, '..');
const all = ['crypto', 'pki', 'collectors', 'rules', 'soc', 'bench'];
const pkgs = process.argv.slice(2).length ? process.argv.slice(2) : all;

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const files = [];
for (const pkg of pkgs) {
  const dir = join(root, pkg, 'dist', 'test');
  if (existsSync(dir)) walk(dir, files);
}
if (files.length === 0) {
  console.error('no compiled test files found: run `npm run build` first');
  process.exit(1);
}
files.sort();
const concurrency = process.env.XIANGAN_TEST_CONCURRENCY ?? '2';
// Suites that start whole search-engine clusters of their own (several JVMs) run one at a time
// first: two of them side by side overload a 2-core machine until their writes time out.
const serial = files.filter((f) => /engine-(cluster|outage)\.test\.js$/.test(f));
const parallel = files.filter((f) => !serial.includes(f));
const run = (list, n) =>
  list.length === 0
    ? 0
    : (spawnSync(process.execPath, ['--test', `--test-concurrency=${n}`, '--test-reporter=spec', ...list], { stdio: 'inherit', cwd: root }).status ?? 1);
const serialStatus = run(serial, 1);
const parallelStatus = run(parallel, concurrency);
process.exit(serialStatus || parallelStatus);
