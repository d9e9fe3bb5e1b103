/** Built-in profile: Carlo Gavazzi EM24-DIN, scaled integers with the low word first. */
export const CARLO_GAVAZZI_EM24 = `# Carlo Gavazzi EM24-DIN: INT32 values in two registers with the LOW word first (the maker's data
# format: "In INT32, UINT32 and UINT64 formats, the word order is LSW-> MSW"; bytes MSB first within a
# word), power factors and frequency INT16. Each value is an integer in fixed units: Volt*10,
# Ampere*1000, Watt*10, VA*10, var*10, PF*1000, Hz*10, kWh*10, kvarh*10 (hence the scales below).
# Readable with function code 03 and 04 alike; 04 is used.
# Verified: the layout 0x0000-0x0037 is table 2.3-1 "Instantaneous variables and meters" of Carlo
# Gavazzi's protocol document (copy cited in source), and Victron's EM24 driver (dbus-modbus-client,
# carlo_gavazzi.py) reads V, A, W, W sys, Hz and kWh(+) TOT at the same addresses and weights.
# NOT verified in a maker's document: kWh(-) TOT (export) at 0x004E is taken from Victron's driver
# only; kvarh(-) TOT is left out (its address could not be confirmed).
# The power factor's sign here means lead/lag, not the current's direction (the EM21/EM24-DIN table
# 2.3-1 copy at easymanua.ls says "Negative values correspond to lag (L)"; the sign is passed on as read).
# maxWords 11 is a cautious guess (the document's page giving the limit could not be read).
name: carlo-gavazzi-em24
title: Carlo Gavazzi EM24-DIN
source: >-
  Carlo Gavazzi, EM24-DIN PFA, PFB & X models Communication Protocol, Version 4 Revision 0
  (3 December 2012), section 2.1 data format and table 2.3-1; copies read at
  http://www.manualshelf.com/manual/carlo-gavazzi/em24dinav93xo2x/3-2-1-user-manual-english/page-7.html
  and https://manualshive.com/en/manual/carlo-gavazzi/em-21/2558682?page=8 (table 2.3-1, same layout)
primary: false
maxWords: 11
maxGap: 0
defaults:
  functionCode: 4
  encoding: int32
  wordOrder: lsw-first
  byteOrder: msb-first
points:
  - { quantity: u1, address: 0x0000, scale: 0.1, unit: V }
  - { quantity: u2, address: 0x0002, scale: 0.1, unit: V }
  - { quantity: u3, address: 0x0004, scale: 0.1, unit: V }
  - { quantity: i1, address: 0x000C, scale: 0.001, unit: A }
  - { quantity: i2, address: 0x000E, scale: 0.001, unit: A }
  - { quantity: i3, address: 0x0010, scale: 0.001, unit: A }
  - { quantity: p1, address: 0x0012, scale: 0.1, unit: W }
  - { quantity: p2, address: 0x0014, scale: 0.1, unit: W }
  - { quantity: p3, address: 0x0016, scale: 0.1, unit: W }
  - { quantity: s1, address: 0x0018, scale: 0.1, unit: VA }
  - { quantity: s2, address: 0x001A, scale: 0.1, unit: VA }
  - { quantity: s3, address: 0x001C, scale: 0.1, unit: VA }
  - { quantity: q1, address: 0x001E, scale: 0.1, unit: var }
  - { quantity: q2, address: 0x0020, scale: 0.1, unit: var }
  - { quantity: q3, address: 0x0022, scale: 0.1, unit: var }
  - { quantity: pTotal, address: 0x0028, scale: 0.1, unit: W }
  - { quantity: sTotal, address: 0x002A, scale: 0.1, unit: VA }
  - { quantity: qTotal, address: 0x002C, scale: 0.1, unit: var }
  - { quantity: pf1, address: 0x002E, encoding: int16, exponent: -3 }
  - { quantity: pf2, address: 0x002F, encoding: int16, exponent: -3 }
  - { quantity: pf3, address: 0x0030, encoding: int16, exponent: -3 }
  - { quantity: pfTotal, address: 0x0031, encoding: int16, exponent: -3 }
  - { quantity: f, address: 0x0033, encoding: int16, scale: 0.1, unit: Hz }
  - { quantity: activeImportWh, address: 0x0034, scale: 0.1, unit: kWh }
  - { quantity: reactiveImportVarh, address: 0x0036, scale: 0.1, unit: kvarh }
  - { quantity: activeExportWh, address: 0x004E, scale: 0.1, unit: kWh }
`;
