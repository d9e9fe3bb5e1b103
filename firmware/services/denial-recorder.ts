/**
 * Refused requests go to the security log, at most `perMinute` of them a minute (then one event with
 * the count): enough to see probing, too few for a flood of refused requests — a Modbus master
 * polling a forbidden write, a script hammering REST — to push the real events out of the ring.
 */
import type { SecurityEvent } from '../store/event-log.ts';
import type { SecurityService } from './security-service.ts';

export type DenialEvent = Omit<SecurityEvent, 'time' | 'result'>;

export function createDenialRecorder(
  security: SecurityService,
  now: () => number,
  perMinute = 20,
): (event: DenialEvent) => void {
  let windowStart = Number.NEGATIVE_INFINITY;
  let count = 0;
  return (event) => {
    const time = now();
    if (time - windowStart > 60_000) {
      if (count > perMinute) {
        security.record({
          type: 'access.denied',
          interface: 'system',
          result: 'denied',
          detail: `${count - perMinute} more refusals not logged`,
        });
      }
      windowStart = time;
      count = 0;
    }
    if (++count > perMinute) return;
    security.record({ ...event, result: 'denied' });
  };
}
