/** Built-in profile: Eastron SDM72D-M, the registers its user manual V1.5 documents. */
export const EASTRON_SDM72D_M = `# Eastron SDM72D-M (first generation): the maker's manual V1.5 documents only these input registers,
# float32, high word first. No voltages, currents or per-phase values: the interfaces show them as not
# available. (The later SDM72D-M-2 documents more registers in a separate protocol document, not
# verified here: write your own profile for it.)
name: eastron-sdm72d-m
title: Eastron SDM72D-M
source: >-
  Eastron / B+G e-tech, SDM72D-M User Manual V1.5 (English), Part 3 "Modbus Protocol", Input Registers
  (function code 04; at most 30 parameters = 60 registers per request). Copy read at
  https://www.easymanua.ls/eastron/sdm72d-m/manual?p=14 (maker: www.eastron-germany.de)
primary: false
maxWords: 60
maxGap: 0
defaults:
  functionCode: 4
  encoding: float32
  wordOrder: msw-first
  byteOrder: msb-first
points:
  - { quantity: pTotal, address: 0x0034, unit: W }
  - { quantity: activeImportWh, address: 0x0048, unit: kWh }
  - { quantity: activeExportWh, address: 0x004A, unit: kWh }
`;
