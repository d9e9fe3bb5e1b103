/**
 * Sessions as a resource: a user sees and ends its own ("log out everywhere"); an administrator sees
 * another user's (security.read) and ends them (security.write, and only an entry it outranks: the
 * climbing rules of the user table). A session is named by an id that is not its token.
 */
import { z } from '@hono/zod-openapi';
import { authorize } from '../../core/access.ts';
import { assertOutranks, entryAt } from '../../core/user-table.ts';
import type { ApiBuilder } from '../api-builder.ts';
import type { ApiDeps } from '../api-deps.ts';
import { ApiError } from '../api-error.ts';
import { jsonResponse, SlotParamSchema } from '../schemas.ts';

const SessionSchema = z
  .object({
    id: z.string().openapi({ description: 'names the session (not its token)' }),
    scheme: z.enum(['http', 'https']),
    source: z.string(),
    createdAt: z.string(),
    lastSeen: z.string(),
    current: z.boolean().openapi({ description: 'the session of this request' }),
  })
  .openapi('Session');
const SessionListSchema = z
  .object({ slot: z.number(), sessions: z.array(SessionSchema) })
  .openapi('SessionList');
const EndedSchema = z.object({ ended: z.number().int() }).openapi('SessionsEnded');
const EndQuerySchema = z.object({
  id: z.string().max(64).optional().openapi({ description: 'end only this session; default: every one' }),
});

export function registerSessionRoutes(api: ApiBuilder, deps: ApiDeps): void {
  const list = (slot: number, currentToken: string | undefined) => {
    const current = currentToken === undefined ? null : deps.sessions.idOf(currentToken);
    return {
      slot,
      sessions: deps.sessions
        .list(slot, deps.security.state.table.epochs[slot] ?? 0, deps.now())
        .map((s) => ({
          id: s.id,
          scheme: s.scheme,
          source: s.source,
          createdAt: new Date(s.createdAt).toISOString(),
          lastSeen: new Date(s.lastSeen).toISOString(),
          current: s.id === current,
        })),
    };
  };
  const end = (slot: number, id: string | undefined): number => {
    if (id !== undefined) {
      if (!deps.sessions.endById(slot, id))
        throw new ApiError(404, 'not-found', `no session '${id}' of slot ${slot}`);
      return 1;
    }
    const count = deps.sessions.list(slot, deps.security.state.table.epochs[slot] ?? 0, deps.now()).length;
    deps.sessions.endSlot(slot);
    return count;
  };

  api.route(
    'user',
    {
      method: 'get',
      path: '/api/v1/sessions',
      summary: 'Your own sessions (this one marked current)',
      responses: { 200: jsonResponse(SessionListSchema, 'Your sessions') },
    },
    (c) => {
      const principal = c.get('principal');
      return c.json(list(principal.actor.slot, principal.token), 200);
    },
  );

  api.route(
    'user',
    {
      method: 'delete',
      path: '/api/v1/sessions',
      summary: 'Ends your own sessions: every one ("log out everywhere", this one too), or the one with ?id=',
      request: { query: EndQuerySchema },
      responses: { 200: jsonResponse(EndedSchema, 'How many ended') },
    },
    (c) => {
      const principal = c.get('principal');
      const ctx = c.get('context');
      const ended = end(principal.actor.slot, c.req.valid('query').id);
      deps.security.record({
        type: 'sessions.end',
        interface: ctx.interface,
        source: ctx.source,
        slot: principal.actor.slot,
        result: 'ok',
        detail: `slot=${principal.actor.slot} ended=${ended}`,
      });
      return c.json({ ended }, 200);
    },
  );

  api.route(
    'security.read',
    {
      method: 'get',
      path: '/api/v1/users/{slot}/sessions',
      summary: "A user's sessions",
      request: { params: SlotParamSchema },
      responses: { 200: jsonResponse(SessionListSchema, 'The sessions') },
    },
    (c) => c.json(list(c.req.valid('param').slot, c.get('principal').token), 200),
  );

  api.route(
    'security.write',
    {
      method: 'delete',
      path: '/api/v1/users/{slot}/sessions',
      summary: "Ends a user's sessions (every one, or ?id=); only of an entry whose permissions you all hold",
      request: { params: SlotParamSchema, query: EndQuerySchema },
      responses: { 200: jsonResponse(EndedSchema, 'How many ended') },
    },
    (c) => {
      const { slot } = c.req.valid('param');
      const actor = c.get('principal').actor;
      const ctx = c.get('context');
      const event = { type: 'sessions.end', interface: ctx.interface, source: ctx.source, slot: actor.slot };
      try {
        authorize(actor, 'security.write', ctx.interface);
        entryAt(deps.security.state.table, slot);
        assertOutranks(deps.security.state.table, actor, slot);
      } catch (error) {
        deps.security.record({
          ...event,
          result: 'denied',
          detail: `slot=${slot} ${(error as { code?: string }).code}`,
        });
        throw error;
      }
      const ended = end(slot, c.req.valid('query').id);
      deps.security.record({ ...event, result: 'ok', detail: `slot=${slot} ended=${ended}` });
      return c.json({ ended }, 200);
    },
  );
}
