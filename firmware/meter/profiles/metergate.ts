/** Built-in profile: another metergate, read through its published register map. */
export const METERGATE = `# Another metergate (or any device serving this project's published map, shared/REGISTERS.md and
# docs/modbus.md): float32 measurements, uint64 energies in Wh. It serves PRIMARY values (its own VT/CT
# ratios applied), so this metergate does not apply its ratios again. Floats are high word first
# (ABCD), the upstream's default; if it was set to CDAB (register 404 = 1), copy this profile and set
# wordOrder: lsw-first for the float32 points. The map has no per-phase powers or power factors.
# The upstream must have Modbus enabled, and its Modbus principal needs measurements.read and
# meters.read (anonymous has both by default). Every register read must be mapped there (an
# unmapped one answers exception 0x02), so reads never span a gap (maxGap 0).
name: metergate
title: metergate (published register map v1)
source: >-
  metergate Modbus register map (v1), shared/REGISTERS.md, as published in docs/registers-published.md
  and docs/modbus.md of this project
primary: true
maxWords: 125
maxGap: 0
defaults:
  functionCode: 4
  wordOrder: msw-first
  byteOrder: msb-first
points:
  - { quantity: u1, address: 0, encoding: float32, unit: V }
  - { quantity: u2, address: 2, encoding: float32, unit: V }
  - { quantity: u3, address: 4, encoding: float32, unit: V }
  - { quantity: i1, address: 6, encoding: float32, unit: A }
  - { quantity: i2, address: 8, encoding: float32, unit: A }
  - { quantity: i3, address: 10, encoding: float32, unit: A }
  - { quantity: pTotal, address: 12, encoding: float32, unit: W }
  - { quantity: qTotal, address: 14, encoding: float32, unit: var }
  - { quantity: sTotal, address: 16, encoding: float32, unit: VA }
  - { quantity: pfTotal, address: 18, encoding: float32 }
  - { quantity: f, address: 20, encoding: float32, unit: Hz }
  - { quantity: activeImportWh, address: 100, encoding: uint64, unit: Wh }
  - { quantity: activeExportWh, address: 104, encoding: uint64, unit: Wh }
  - { quantity: reactiveImportVarh, address: 108, encoding: uint64, unit: varh }
  - { quantity: reactiveExportVarh, address: 112, encoding: uint64, unit: varh }
`;
