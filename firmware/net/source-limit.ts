/**
 * Connections per source address (IEC 62443-4-2 CR 7.1): one host may hold only part of a listener's
 * connection slots, so a flood from one address cannot lock every other client out. Counts open
 * sockets per remote address; a socket over the limit is refused at accept, before a byte is read.
 */
import type { Socket } from 'node:net';

/** Returns `admit(socket)`: true and counted until it closes, or false (the caller destroys it). */
export function createSourceLimit(maxPerSource: number): (socket: Socket) => boolean {
  const open = new Map<string, number>();
  return (socket) => {
    const source = socket.remoteAddress ?? '';
    const count = open.get(source) ?? 0;
    if (count >= maxPerSource) return false;
    open.set(source, count + 1);
    socket.once('close', () => {
      const left = (open.get(source) ?? 1) - 1;
      if (left > 0) open.set(source, left);
      else open.delete(source);
    });
    return true;
  };
}
