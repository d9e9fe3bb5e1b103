/** The hono environment of the device's HTTP app: node bindings plus what the middlewares resolve. */
import type { HttpBindings } from '@hono/node-server';
import type { Session } from '../auth/session-store.ts';
import type { EntryActor } from '../core/user-table.ts';
import type { RequestContext } from '../services/request-context.ts';

export interface Principal {
  readonly kind: 'anonymous' | 'session' | 'api-key';
  readonly actor: EntryActor;
  /** The session, for `session` principals. */
  readonly session?: Session;
  /** The cookie's token, for logout. */
  readonly token?: string;
}

export interface AppEnv {
  Bindings: HttpBindings;
  Variables: {
    principal: Principal;
    /** Interface (http/https) and source address of the request, for the event log. */
    context: RequestContext;
  };
}
