/**
 * What a process holds, read from /proc (Linux): resident memory and open file descriptors. Shared by
 * the fuzzers and load tests (bounded RSS, no fd leak) and by the bench.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Resident set size of `pid` in MB (VmRSS). */
export function rssMb(pid: number = process.pid): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

/** Open file descriptors of `pid`. */
export function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}
