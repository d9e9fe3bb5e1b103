/**
 * Generates the register table of docs/modbus.md from REGISTER_MAP, so the published map is the map
 * the firmware serves. Only the lines between the two markers are rewritten; the rules around them
 * are prose. `npm run gen:modbus-doc` rewrites the file; `--check` only exits 1 when it is stale.
 * test/docs/modbus-doc.test.ts fails when the file differs from what this would write.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { COMMAND_MAGIC, REGISTER_MAP, type RegisterBlock } from '../firmware/modbus/register-map.ts';

export const MODBUS_DOC = join(import.meta.dirname, '..', 'docs', 'modbus.md');
export const TABLE_BEGIN =
  '<!-- register-map: generated from firmware/modbus/register-map.ts by `npm run gen:modbus-doc`; do not edit -->';
export const TABLE_END = '<!-- /register-map -->';

const hex = (value: number) => `0x${value.toString(16).toUpperCase().padStart(4, '0')}`;
const cell = (text: string) => text.replace(/\|/g, '\\|');

function isCommand(block: RegisterBlock): boolean {
  return block.onWrite?.(COMMAND_MAGIC).kind === 'command';
}

function reference(block: RegisterBlock): string {
  const first = 40001 + block.address;
  return block.count === 1 ? `${first}` : `${first}–${first + block.count - 1}`;
}

function readNeeds(block: RegisterBlock): string {
  if (isCommand(block)) return 'public (reads 0)';
  return block.read === 'public' ? 'public' : `\`${block.read}\``;
}

function values(block: RegisterBlock): string {
  if (!block.range) return '—';
  const { min, max } = block.range;
  if (isCommand(block)) return `${hex(min)} only`;
  return min === max ? `${min}` : `${min}–${max}`;
}

/** The register table in Markdown, one row per block of REGISTER_MAP, in address order. */
export function renderRegisterTable(map: readonly RegisterBlock[] = REGISTER_MAP): string {
  const rows = [...map]
    .sort((a, b) => a.address - b.address)
    .map((block) =>
      [
        `${block.address}`,
        reference(block),
        `${block.count}`,
        block.type,
        cell(block.name),
        cell(block.unit),
        readNeeds(block),
        block.write === null ? '— (read-only: 0x01)' : `\`${block.write}\``,
        values(block),
      ].join(' | '),
    )
    .map((row) => `| ${row} |`);
  return [
    '| address | reference | count | type | name | unit | read needs | write needs | values written |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

/** `doc` with the lines between the markers replaced by the generated table. Throws without markers. */
export function withRegisterTable(doc: string): string {
  const begin = doc.indexOf(TABLE_BEGIN);
  const end = doc.indexOf(TABLE_END);
  if (begin < 0 || end < begin) {
    throw new Error(`docs/modbus.md needs the markers ${TABLE_BEGIN} and ${TABLE_END} around the table`);
  }
  return `${doc.slice(0, begin)}${TABLE_BEGIN}\n${renderRegisterTable()}\n${doc.slice(end)}`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const current = readFileSync(MODBUS_DOC, 'utf8');
  const next = withRegisterTable(current);
  if (process.argv.includes('--check')) {
    if (next !== current) {
      console.error('docs/modbus.md is stale: run npm run gen:modbus-doc');
      process.exit(1);
    }
  } else if (next !== current) {
    writeFileSync(MODBUS_DOC, next);
    console.log('docs/modbus.md: register table regenerated');
  } else {
    console.log('docs/modbus.md: register table up to date');
  }
}
