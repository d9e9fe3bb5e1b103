/**
 * Refused requests go to the security log. Every refusal (any event whose result is not `ok`) passes
 * the one refusal limiter of the log, per source and overall (firmware/store/refusal-limiter.ts); this
 * adapter only sets the result, for the callers that report denials.
 */
import type { SecurityEvent } from '../store/event-log.ts';
import type { SecurityService } from './security-service.ts';

export type DenialEvent = Omit<SecurityEvent, 'time' | 'result'>;

export function createDenialRecorder(
  security: SecurityService,
  _now?: () => number,
): (event: DenialEvent) => void {
  return (event) => security.record({ ...event, result: 'denied' });
}
