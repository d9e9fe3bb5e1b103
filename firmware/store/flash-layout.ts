/**
 * Where each thing lives in the flash partition, in erase blocks. The layout is part of the on-flash
 * format (docs/flash-format.md): change it only with a format version bump and a migration.
 */

/** Security record (user table + security settings), copies A and B. */
export const SECURITY_RECORD_BLOCKS = [0, 1] as const;
/** Measurement configuration (VT/CT ratio, word order), copies A and B. */
export const CONFIG_RECORD_BLOCKS = [2, 3] as const;
/** Blocks 4–15 are reserved for later records (certificates, keys). */
export const FIRST_LOG_BLOCK = 16;
/** The security event log: 16 blocks, split into two rings (docs/flash-format.md). */
export const LOG_BLOCK_COUNT = 16;
/** Changes (result `ok`: what authenticated principals and the device did) and loss warnings. */
export const CHANGES_LOG = { firstBlock: FIRST_LOG_BLOCK, blockCount: 8 } as const;
/** Refusals and failures, through the refusal limiter, and its summaries. */
export const REFUSALS_LOG = { firstBlock: FIRST_LOG_BLOCK + 8, blockCount: 8 } as const;
/** The smallest partition the layout fits in. */
export const MIN_BLOCK_COUNT = FIRST_LOG_BLOCK + LOG_BLOCK_COUNT;
export const REQUIRED_BLOCK_SIZE = 4096;
