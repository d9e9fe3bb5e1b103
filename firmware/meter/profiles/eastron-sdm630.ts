/** Built-in profile: Eastron SDM630 (Modbus V2), IEEE 754 floats in input registers. */
export const EASTRON_SDM630 = `# Eastron SDM630 Modbus V2: every value an IEEE 754 float32 in two input registers (FC4),
# high word first. Addresses below are the 0-based protocol addresses (30001 = 0x0000).
# Verified in the maker's table (copy cited in source): 30001-30019 (0x00-0x12). The other rows follow
# the same table's continuation, cross-checked with Eastron's SDM72D-M and SDM72CT-M tables (0x34
# total power, 0x48/0x4A import/export kWh, same addresses) and two independent third-party tables.
# The power factor's sign gives the direction of the current (positive: forward).
name: eastron-sdm630
title: Eastron SDM630 Modbus V2
source: >-
  Eastron / B+G e-tech, SDM630Modbus (MID) V2 user manual, section 1.2.1 "SDM630Modbus Input
  Registers" (function code 04; at most 40 parameters = 80 registers per request). Copy read at
  https://manualshive.com/en/manual/eastron/sdm630-modbus-mid-v2/522581?page=25 (maker: www.eastron-germany.de)
primary: false
maxWords: 80
maxGap: 0
defaults:
  functionCode: 4
  encoding: float32
  wordOrder: msw-first
  byteOrder: msb-first
points:
  - { quantity: u1, address: 0x0000, unit: V }
  - { quantity: u2, address: 0x0002, unit: V }
  - { quantity: u3, address: 0x0004, unit: V }
  - { quantity: i1, address: 0x0006, unit: A }
  - { quantity: i2, address: 0x0008, unit: A }
  - { quantity: i3, address: 0x000A, unit: A }
  - { quantity: p1, address: 0x000C, unit: W }
  - { quantity: p2, address: 0x000E, unit: W }
  - { quantity: p3, address: 0x0010, unit: W }
  - { quantity: s1, address: 0x0012, unit: VA }
  - { quantity: s2, address: 0x0014, unit: VA }
  - { quantity: s3, address: 0x0016, unit: VA }
  - { quantity: q1, address: 0x0018, unit: var }
  - { quantity: q2, address: 0x001A, unit: var }
  - { quantity: q3, address: 0x001C, unit: var }
  - { quantity: pf1, address: 0x001E }
  - { quantity: pf2, address: 0x0020 }
  - { quantity: pf3, address: 0x0022 }
  - { quantity: pTotal, address: 0x0034, unit: W }
  - { quantity: sTotal, address: 0x0038, unit: VA }
  - { quantity: qTotal, address: 0x003C, unit: var }
  - { quantity: pfTotal, address: 0x003E }
  - { quantity: f, address: 0x0046, unit: Hz }
  - { quantity: activeImportWh, address: 0x0048, unit: kWh }
  - { quantity: activeExportWh, address: 0x004A, unit: kWh }
  - { quantity: reactiveImportVarh, address: 0x004C, unit: kvarh }
  - { quantity: reactiveExportVarh, address: 0x004E, unit: kvarh }
`;
