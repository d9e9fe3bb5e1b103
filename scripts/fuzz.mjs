#!/usr/bin/env node
// `npm run fuzz -- --minutes N`: the fuzzers of test/fuzz/ (Modbus TCP and RTU frames, REST requests,
// flash images) for a long run, N minutes each (default 5), in sequence. Each prints its seed; a
// failure is reproduced with the seed variable it names and FUZZ_BUDGET_MS. ./scripts/test.sh runs the
// same files with their short default budgets.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { minutes: { type: 'string', default: '5' } } });
const minutes = Number(values.minutes);
if (!(minutes > 0)) {
  console.error(`npm run fuzz: --minutes must be a positive number, got '${values.minutes}'`);
  process.exit(2);
}
const budget = Math.round(minutes * 60_000);
const files = readdirSync(join(root, 'test', 'fuzz'))
  .filter((name) => name.endsWith('.test.ts'))
  .map((name) => join('test', 'fuzz', name));
console.error(`fuzzing ${files.length} targets for ${minutes} min each`);
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-reporter=spec',
    '--test-concurrency=1',
    `--test-timeout=${budget * 3 + 120_000}`,
    ...files,
  ],
  { cwd: root, stdio: 'inherit', env: { ...process.env, FUZZ_BUDGET_MS: String(budget) } },
);
process.exit(result.status ?? 1);
