/**
 * The language packs (web/i18n/<code>.json) against the page's source: every English text the page
 * shows through `t('…')` or declares with `mark('…')` has a translation in every pack, with the same
 * `{placeholders}`; no pack keeps a text the page no longer has; and each pack, as built, stays within
 * its budget of 6 kB gzipped (issue 16: packs are loaded on demand, one per language).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { textKey } from '../../web/src/i18n.ts';
import { REPO_ROOT } from '../support/device-process.ts';

const PACK_DIR = join(REPO_ROOT, 'web', 'i18n');
const SOURCE_DIR = join(REPO_ROOT, 'web', 'src');
const LANGUAGES = ['de', 'fr', 'it'];
const PACK_BUDGET_GZIP_BYTES = 6 * 1000;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return /\.tsx?$/.test(entry.name) && entry.name !== 'i18n.ts' ? [path] : [];
  });
}

/** Each text given to t() or mark() as a literal, with where it is. */
function sourceTexts(): Map<string, string> {
  const texts = new Map<string, string>();
  for (const file of sources(SOURCE_DIR)) {
    const code = readFileSync(file, 'utf8');
    for (const match of code.matchAll(/\b(?:t|mark)\(\s*(['"`])((?:\\.|(?!\1)[^\\])*)\1/g)) {
      const [, quote, body = ''] = match;
      const where = `${relative(REPO_ROOT, file)}:${code.slice(0, match.index).split('\n').length}`;
      assert.ok(
        !(quote === '`' && body.includes('${')),
        `${where}: t() takes a fixed text; pass values as {name}`,
      );
      texts.set(body.replace(/\\(.)/g, '$1'), where);
    }
  }
  return texts;
}

const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

const readPack = (code: string) =>
  JSON.parse(readFileSync(join(PACK_DIR, `${code}.json`), 'utf8')) as Record<string, string>;

describe('language packs', () => {
  const texts = sourceTexts();

  it('the page marks its texts (the extraction finds them)', () => {
    for (const text of ['Log in', 'Dashboard', 'Cancel', 'Enter {0} or more.']) {
      assert.ok(texts.has(text), `'${text}' found in web/src`);
    }
  });

  it("every lazily loaded part names itself as the build names its pack (lazy's second argument)", () => {
    const calls = sources(SOURCE_DIR).flatMap((file) => [
      ...readFileSync(file, 'utf8').matchAll(
        /lazy\(\s*\(\)\s*=>\s*import\('([^']+)'\)[^,]*,\s*'([^']*)',?\s*\)/g,
      ),
    ]);
    assert.ok(calls.length >= 10, `${calls.length} lazy parts found`);
    for (const [, module, part] of calls) {
      assert.equal(
        part,
        (module as string)
          .split('/')
          .pop()
          ?.replace(/\.tsx?$/, ''),
        `lazy part of ${module}`,
      );
    }
    const all = sources(SOURCE_DIR).reduce(
      (n, file) => n + (readFileSync(file, 'utf8').match(/\blazy\(/g)?.length ?? 0),
      0,
    );
    assert.equal(all, calls.length, 'every lazy() call has the form checked here');
  });

  it('there is a pack for each language and no other', () => {
    const packs = readdirSync(PACK_DIR)
      .filter((name) => name.endsWith('.json'))
      .map((name) => name.slice(0, -5))
      .sort();
    assert.deepEqual(packs, LANGUAGES);
  });

  for (const code of LANGUAGES) {
    it(`${code}: translates every text of the page, with its placeholders, and nothing else`, () => {
      const pack = readPack(code);
      const missing = [...texts]
        .filter(([text]) => !pack[text]?.trim())
        .map(([text, where]) => `  ${where}: ${text}`);
      assert.deepEqual(missing, [], `web/i18n/${code}.json lacks:\n${missing.join('\n')}`);
      const unused = Object.keys(pack).filter((text) => !texts.has(text));
      assert.deepEqual(unused, [], `web/i18n/${code}.json has texts the page no longer shows`);
      for (const [text, translation] of Object.entries(pack)) {
        assert.deepEqual(placeholders(translation), placeholders(text), `${code}: placeholders of '${text}'`);
      }
    });

    it(`${code}: built into packs loaded on demand, together every text once keyed, each at most ${PACK_BUDGET_GZIP_BYTES} bytes gzipped`, (t) => {
      const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'dist', 'web', 'manifest.json'), 'utf8')) as {
        onDemand: string[];
      };
      const files = manifest.onDemand.filter((f) =>
        new RegExp(`^assets/i18n-${code}-[\\w-]+-[0-9a-f]+\\.json$`).test(f),
      );
      assert.ok(
        files.some((f) => f.startsWith(`assets/i18n-${code}-core-`)),
        `dist/web/manifest.json lists the ${code} packs as loaded on demand: run the build`,
      );
      const built: Record<string, string> = {};
      let total = 0;
      for (const file of files) {
        Object.assign(built, JSON.parse(readFileSync(join(REPO_ROOT, 'dist', 'web', file), 'utf8')));
        const gzip = statSync(join(REPO_ROOT, 'dist', 'web', `${file}.gz`)).size;
        total += gzip;
        assert.ok(
          gzip <= PACK_BUDGET_GZIP_BYTES,
          `${file}: ${gzip} bytes gzipped, over ${PACK_BUDGET_GZIP_BYTES}`,
        );
      }
      t.diagnostic(`${code}: ${files.length} packs, ${total} bytes gzipped in all`);
      const expected = Object.fromEntries(
        Object.entries(readPack(code)).map(([text, tr]) => [textKey(text), tr]),
      );
      assert.deepEqual(
        built,
        expected,
        `the ${code} packs are web/i18n/${code}.json keyed as the page looks texts up`,
      );
    });

    it(`${code}: the first load's pack holds no text of a page behind a login`, () => {
      const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'dist', 'web', 'manifest.json'), 'utf8')) as {
        onDemand: string[];
      };
      const core = manifest.onDemand.find((f) => f.startsWith(`assets/i18n-${code}-core-`)) as string;
      const keys = Object.keys(JSON.parse(readFileSync(join(REPO_ROOT, 'dist', 'web', core), 'utf8')));
      assert.ok(keys.includes(textKey('Log in')), 'the login is in the first load');
      assert.ok(!keys.includes(textKey('Make a backup')), 'the backup page is not');
    });
  }
});
