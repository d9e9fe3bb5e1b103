/**
 * docs/modbus.md cannot drift from the firmware: its register table is exactly what
 * scripts/gen-modbus-doc.ts generates from REGISTER_MAP (run `npm run gen:modbus-doc` after changing the
 * map), and its exception table lists exactly the exception codes the gate and the TCP listener send.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { EXCEPTION } from '../../firmware/modbus/modbus-gate.ts';
import { REGISTER_MAP } from '../../firmware/modbus/register-map.ts';
import {
  MODBUS_DOC,
  renderRegisterTable,
  TABLE_BEGIN,
  TABLE_END,
  withRegisterTable,
} from '../../scripts/gen-modbus-doc.ts';

describe('docs/modbus.md', () => {
  const doc = readFileSync(MODBUS_DOC, 'utf8');

  it('holds the register table generated from REGISTER_MAP, unchanged', () => {
    assert.ok(doc.includes(TABLE_BEGIN) && doc.includes(TABLE_END), 'the generated-table markers');
    assert.equal(doc, withRegisterTable(doc), 'docs/modbus.md is stale: run npm run gen:modbus-doc');
  });

  it('has one table row per register block', () => {
    const table = renderRegisterTable();
    for (const block of REGISTER_MAP) assert.match(table, new RegExp(`^\\| ${block.address} \\| `, 'm'));
    assert.equal(table.split('\n').length, REGISTER_MAP.length + 2);
  });

  it('lists exactly the exception codes the firmware sends', () => {
    const section = doc.slice(doc.indexOf('## Exceptions'), doc.indexOf('## Data types'));
    const documented = [...section.matchAll(/^\| (0x[0-9A-F]{2}) \|/gm)].map((m) => Number(m[1]));
    const sent = Object.values(EXCEPTION);
    assert.deepEqual(documented.sort(), sent.sort());
  });
});
