/**
 * Fuzzes boot with damaged flash images: seeded random and mutated images (bytes overwritten, blocks
 * erased, filled with noise, copied over each other, whole images of noise) of a provisioned device
 * are booted as the device boots them. The oracle: a boot either serves exactly the committed state
 * (one good copy suffices) or enters safe mode; it never serves the factory table (which would bring
 * back admin / CBM_1234), never another state, and never throws. The event log of a normal boot reads
 * without throwing. The seed is printed; rerun with FLASH_FUZZ_SEED=<seed>; FUZZ_BUDGET_MS sets the
 * time (`npm run fuzz -- --minutes N`).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { createVerifier, MIN_KDF_ITERATIONS } from '../../firmware/auth/password-verifier.ts';
import { SECURITY_RECORD_BLOCKS } from '../../firmware/store/flash-layout.ts';
import { DEFAULT_BLOCK_SIZE } from '../../sim/nor-flash.ts';
import { fuzzSeed, type Random, seededRandom } from '../support/seeded-random.ts';
import {
  boot,
  canonical,
  provisionWithAdminPassword,
  readImage,
  tempDataDir,
  writeImage,
} from '../support/store-fixture.ts';

const SEED = fuzzSeed('FLASH_FUZZ_SEED');
const BUDGET_MS = Number(process.env.FUZZ_BUDGET_MS ?? 6000);
const MIN_IMAGES = 200;

type Mutation = (image: Buffer, random: Random) => string;

const block = (random: Random, image: Buffer) => random.int(image.length / DEFAULT_BLOCK_SIZE);
const recordBlock = (random: Random) => random.pick(SECURITY_RECORD_BLOCKS);

const MUTATIONS: Mutation[] = [
  (image, random) => {
    const count = 1 + random.int(64);
    // Mostly in the record blocks, where it matters; sometimes anywhere.
    for (let i = 0; i < count; i++) {
      const where =
        random() < 0.8
          ? recordBlock(random) * DEFAULT_BLOCK_SIZE + random.int(2048)
          : random.int(image.length);
      image[where] = random.int(256);
    }
    return `${count} bytes overwritten`;
  },
  (image, random) => {
    const b = random() < 0.5 ? recordBlock(random) : block(random, image);
    image.fill(0xff, b * DEFAULT_BLOCK_SIZE, (b + 1) * DEFAULT_BLOCK_SIZE);
    return `block ${b} erased`;
  },
  (image, random) => {
    const b = random() < 0.5 ? recordBlock(random) : block(random, image);
    image.set(random.bytes(DEFAULT_BLOCK_SIZE), b * DEFAULT_BLOCK_SIZE);
    return `block ${b} noise`;
  },
  (image, random) => {
    const [a, b] = random() < 0.5 ? SECURITY_RECORD_BLOCKS : [...SECURITY_RECORD_BLOCKS].reverse();
    image.copyWithin(
      (b as number) * DEFAULT_BLOCK_SIZE,
      (a as number) * DEFAULT_BLOCK_SIZE,
      ((a as number) + 1) * DEFAULT_BLOCK_SIZE,
    );
    return `block ${a} copied over ${b}`;
  },
  (image, random) => {
    for (const b of SECURITY_RECORD_BLOCKS) {
      const at = b * DEFAULT_BLOCK_SIZE + 40 + random.int(200);
      image[at] = (image[at] as number) ^ (1 << random.int(8));
    }
    return 'a bit flipped in both copies';
  },
  (image, random) => {
    image.set(random.bytes(image.length));
    return 'whole image noise';
  },
];

test('boot on fuzzed flash images: the committed state or safe mode, never defaults, never a crash', async (t) => {
  t.diagnostic(`seed ${SEED} (rerun with FLASH_FUZZ_SEED=${SEED}), budget ${BUDGET_MS} ms`);
  const random = seededRandom(SEED);
  const data = tempDataDir(t);
  const verifier = await createVerifier('Fuzzed-Flash-Owner-1', { iterations: MIN_KDF_ITERATIONS });
  const expected = canonical(await provisionWithAdminPassword(data, verifier));
  const pristine = readImage(data);
  // Each image boots against the provisioned counter: a boot that re-anchors a damaged event log
  // commits (and advances the counter), which would make every later image a rollback.
  const pristineCounter = readFileSync(data.counterPath);
  const outcomes = { normal: 0, safe: 0 };
  const rssBefore = process.memoryUsage().rss;
  const started = performance.now();
  let images = 0;
  while (images < MIN_IMAGES || performance.now() - started < BUDGET_MS) {
    const image = Buffer.from(pristine);
    const steps = 1 + random.int(3);
    const what = Array.from({ length: steps }, () => random.pick(MUTATIONS)(image, random)).join(', ');
    writeImage(data, image);
    writeFileSync(data.counterPath, pristineCounter);
    const where = `image ${images} (${what}), seed ${SEED}`;
    let booted: Awaited<ReturnType<typeof boot>>;
    try {
      booted = await boot(data, { create: false });
    } catch (error) {
      assert.fail(`${where}: boot threw ${(error as Error).stack}`);
    }
    const { result } = booted;
    if (result.mode === 'normal') {
      assert.deepEqual(
        canonical(result.store.state),
        expected,
        `${where}: a normal boot served another state`,
      );
      assert.doesNotThrow(() => result.store.log.readAll(), where);
      outcomes.normal++;
    } else {
      assert.ok(result.reason.length > 0, where);
      outcomes.safe++;
    }
    booted.close();
    images++;
  }
  t.diagnostic(
    `${images} images in ${((performance.now() - started) / 1000).toFixed(1)} s: ${outcomes.normal} served the committed state, ${outcomes.safe} safe mode`,
  );
  assert.ok(outcomes.normal > 0 && outcomes.safe > 0, 'the mutations reach both outcomes');
  // The pristine image still boots to the committed state, and memory did not run away.
  writeImage(data, pristine);
  writeFileSync(data.counterPath, pristineCounter);
  const after = await boot(data, { create: false });
  assert.equal(after.result.mode, 'normal');
  if (after.result.mode === 'normal') assert.deepEqual(canonical(after.result.store.state), expected);
  after.close();
  const growthMb = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
  assert.ok(growthMb < 200, `RSS grew by ${growthMb.toFixed(0)} MB`);
});
