/**
 * The login protocol over REST (docs/auth-protocol.md): challenge, login, logout, `me`, and the own
 * password change. The password itself never arrives: logins carry a signature, new passwords arrive
 * sealed to the device key.
 */
import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { deleteCookie, setCookie } from 'hono/cookie';
import { fromBase64Url, toBase64Url } from '../../auth/encoding.ts';
import { openSealedPassword } from '../../auth/sealed-secret.ts';
import { DEFAULT_SESSION_LIMITS } from '../../auth/session-store.ts';
import { permissionNames } from '../../core/permission-table.ts';
import type { UserEntry } from '../../core/user-table.ts';
import type { ApiBuilder } from '../api-builder.ts';
import type { ApiDeps } from '../api-deps.ts';
import { ApiError } from '../api-error.ts';
import type { AppEnv, Principal } from '../app-env.ts';
import { sessionCookieName } from '../principal-middleware.ts';
import {
  Base64UrlSchema,
  jsonBody,
  jsonResponse,
  SealedSecretSchema,
  UsernameFieldSchema,
} from '../schemas.ts';

const ChallengeRequest = z.object({ username: UsernameFieldSchema }).strict();
const ChallengeResponse = z
  .object({
    nonce: z.string(),
    salt: z.string(),
    kdf: z.literal('pbkdf2-sha256'),
    iterations: z.number(),
    expiresAt: z.string(),
    deviceKey: z.string(),
  })
  .openapi('Challenge');

const ProofFields = {
  nonce: Base64UrlSchema.openapi({ description: 'the nonce of the challenge (base64url, 32 bytes)' }),
  signature: Base64UrlSchema.openapi({
    description: 'Ed25519 signature of the protocol message (base64url)',
  }),
};
const LoginRequest = z.object({ username: UsernameFieldSchema, ...ProofFields }).strict();
const PasswordChangeRequest = z.object({ ...ProofFields, newPassword: SealedSecretSchema }).strict();

export const MeSchema = z
  .object({
    kind: z.enum(['anonymous', 'session', 'api-key']),
    slot: z.number(),
    name: z.string(),
    type: z.enum(['user', 'api-key', 'standard']),
    permissions: z.array(z.string()),
    mustChangePassword: z.boolean(),
    csrfToken: z.string().optional(),
  })
  .openapi('Me');

export function registerAuthRoutes(api: ApiBuilder, deps: ApiDeps): void {
  api.route(
    'public',
    {
      method: 'post',
      path: '/api/v1/auth/challenge',
      summary: 'Step 1 of a login: a single-use nonce and the KDF parameters of the user',
      request: jsonBody(ChallengeRequest),
      responses: { 200: jsonResponse(ChallengeResponse, 'The challenge') },
    },
    (c) => {
      const { username } = c.req.valid('json');
      const challenge = deps.login.challenge(username, c.get('context'));
      return c.json(
        {
          nonce: toBase64Url(challenge.nonce),
          salt: toBase64Url(challenge.salt),
          kdf: challenge.kdf,
          iterations: challenge.iterations,
          expiresAt: new Date(challenge.expiresAt).toISOString(),
          deviceKey: toBase64Url(challenge.deviceKey),
        },
        200,
      );
    },
  );

  api.route(
    'public',
    {
      method: 'post',
      path: '/api/v1/auth/login',
      summary: 'Step 2: the signature over the challenge; opens a session (cookie)',
      request: jsonBody(LoginRequest),
      responses: { 200: jsonResponse(MeSchema, 'Logged in') },
    },
    (c) => {
      const body = c.req.valid('json');
      const { nonce, signature } = proof(body);
      const { token, session } = deps.login.login(body.username, nonce, signature, c.get('context'));
      setSessionCookie(c, token);
      const actor = deps.security.actorFor(session.slot);
      return c.json(describePrincipal(deps, { kind: 'session', actor, session }), 200);
    },
  );

  api.route(
    'user-session',
    {
      method: 'post',
      path: '/api/v1/auth/logout',
      summary: 'Ends the session',
      responses: { 204: { description: 'Logged out' } },
    },
    (c) => {
      const principal = c.get('principal');
      deps.login.logout(principal.token ?? '', principal.actor.slot, c.get('context'));
      deleteCookie(c, sessionCookieName(c.get('context').interface === 'https'), {
        path: '/',
        secure: c.get('context').interface === 'https',
      });
      return c.body(null, 204);
    },
  );

  api.route(
    'public',
    {
      method: 'get',
      path: '/api/v1/me',
      summary: 'Who is asking: slot, name, permissions, and the CSRF token of a session',
      responses: { 200: jsonResponse(MeSchema, 'The principal') },
    },
    (c) => c.json(describePrincipal(deps, c.get('principal')), 200),
  );

  api.route(
    'user-session',
    {
      method: 'post',
      path: '/api/v1/me/password',
      summary: "Changes the logged-in user's own password: proof of the current one, the new one sealed",
      request: jsonBody(PasswordChangeRequest),
      responses: { 200: jsonResponse(MeSchema, 'Changed; a new session replaces the old one') },
    },
    async (c) => {
      const body = c.req.valid('json');
      const principal = c.get('principal');
      const entry = deps.security.state.table.slots[principal.actor.slot] as UserEntry;
      const { nonce, signature } = proof(body);
      // The proof is checked like a login (throttled, logged); a wrong one answers 401 wrong-password.
      let verified = false;
      try {
        verified =
          deps.login.verifyProof('change-password', entry.name, nonce, signature, c.get('context')) ===
          principal.actor.slot;
      } catch (error) {
        if ((error as { code?: string }).code !== 'invalid-credentials') throw error;
      }
      if (!verified)
        throw new ApiError(401, 'wrong-password', 'the current password is wrong', { field: 'signature' });
      const password = openSealedPassword(
        deps.login.deviceSecretKey,
        body.newPassword,
        { purpose: 'set-password', username: entry.name },
        'newPassword',
      );
      await deps.security.changeOwnPassword(principal.actor, true, password, c.get('context'));
      // The password change ended every session of this user (epoch); this client gets a new one.
      const slot = principal.actor.slot;
      const epoch = deps.security.state.table.epochs[slot] ?? 0;
      const ctx = c.get('context');
      const { token, session } = deps.sessions.create(
        slot,
        epoch,
        ctx.source ?? '',
        deps.now(),
        ctx.interface === 'https' ? 'https' : 'http',
      );
      setSessionCookie(c, token);
      return c.json(
        describePrincipal(deps, { kind: 'session', actor: deps.security.actorFor(slot), session }),
        200,
      );
    },
  );
}

function proof(body: { nonce: string; signature: string }): { nonce: Uint8Array; signature: Uint8Array } {
  const nonce = fromBase64Url(body.nonce, 32);
  if (!nonce)
    throw new ApiError(400, 'invalid-field', 'nonce: must be 32 bytes, base64url', { field: 'nonce' });
  const signature = fromBase64Url(body.signature, 64);
  if (!signature) {
    throw new ApiError(400, 'invalid-field', 'signature: must be 64 bytes, base64url', {
      field: 'signature',
    });
  }
  return { nonce, signature };
}

/** Sets the session cookie of a new session (login, own password change, own rename). */
export function setSessionCookie(c: Context<AppEnv>, token: string): void {
  const secure = c.get('context').interface === 'https';
  setCookie(c, sessionCookieName(secure), token, {
    path: '/',
    httpOnly: true,
    secure,
    sameSite: 'Strict',
    maxAge: Math.floor(DEFAULT_SESSION_LIMITS.absoluteMs / 1000),
  });
}

export function describePrincipal(deps: ApiDeps, principal: Principal): z.infer<typeof MeSchema> {
  const entry = deps.security.state.table.slots[principal.actor.slot];
  return {
    kind: principal.kind,
    slot: principal.actor.slot,
    name: entry?.name ?? '',
    type: entry?.type ?? 'standard',
    permissions: permissionNames(principal.actor.permissions),
    mustChangePassword: principal.actor.mustChangePassword,
    ...(principal.session ? { csrfToken: principal.session.csrfToken } : {}),
  };
}
