// Reads a V8 .cpuprofile (node --cpu-prof) and prints the functions that took the most time: self
// time (samples in the function itself) and total time (the function and what it called), top N
// of each, with file and line. How issue 18's profiles were read (docs/benchmarks.md).
// Usage: node scripts/bench/profile-top.mjs FILE.cpuprofile [N]
import { readFileSync } from 'node:fs';

const [file, count = '25'] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
const self = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}
const name = (node) => {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url
    ? `${url.replace(/^.*\/(firmware|scripts|sim|node_modules)\//, '$1/')}:${lineNumber + 1}`
    : '';
  return `${functionName || '(anonymous)'} ${where}`.trim();
};
const selfByName = new Map();
const totalByName = new Map();
let all = 0;
for (const [id, time] of self) {
  all += time;
  const node = byId.get(id);
  selfByName.set(name(node), (selfByName.get(name(node)) ?? 0) + time);
  // Total: every distinct function on the stack of this sample, once.
  const seen = new Set();
  for (let at = id; at !== undefined; at = parent.get(at)) {
    const key = name(byId.get(at));
    if (seen.has(key)) continue;
    seen.add(key);
    totalByName.set(key, (totalByName.get(key) ?? 0) + time);
  }
}
const top = (map) =>
  [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, Number(count))
    .map(([key, time]) => `${((100 * time) / all).toFixed(1).padStart(5)} %  ${key}`)
    .join('\n');
process.stdout.write(
  `${(all / 1000).toFixed(0)} ms sampled\n\nself\n${top(selfByName)}\n\ntotal\n${top(totalByName)}\n`,
);
