/**
 * The device's HTTP application: security headers, body limit, principal resolution, every REST route
 * with its declaration, the OpenAPI document generated from the same schemas, and one error handler
 * that turns every failure into the documented error format.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import type { ZodError } from 'zod';
import { createDenialRecorder } from '../services/denial-recorder.ts';
import { ApiBuilder, type DenialListener, type RouteDeclaration } from './api-builder.ts';
import type { ApiDeps } from './api-deps.ts';
import { ApiError, errorResponse, toApiError } from './api-error.ts';
import type { AppEnv } from './app-env.ts';
import { hostCheck } from './host-check.ts';
import { httpsOnly } from './https-only.ts';
import { resolvePrincipal } from './principal-middleware.ts';
import { registerAuthRoutes } from './routes/auth-routes.ts';
import { registerBackupRoutes } from './routes/backup-routes.ts';
import { registerFirmwareRoutes } from './routes/firmware-routes.ts';
import { registerMeteringRoutes } from './routes/metering-routes.ts';
import { registerPublicRoutes } from './routes/public-routes.ts';
import { registerRegistryRoutes } from './routes/registry-routes.ts';
import { registerSecurityRoutes } from './routes/security-routes.ts';
import { registerSessionRoutes } from './routes/session-routes.ts';
import { registerStatusRoutes } from './routes/status-routes.ts';
import { securityHeaders } from './security-headers.ts';
import { registerWebSite } from './web-site.ts';

/** Request bodies above this are refused with 413 before they are read further. */
export const MAX_BODY_BYTES = 64 * 1024;
/**
 * The one larger body: a backup to restore holds the certificate, its key, the Modbus CA and CRL as
 * each was uploaded (each under its own upload limit), in base64.
 */
export const MAX_RESTORE_BODY_BYTES = 256 * 1024;
const RESTORE_PATH = '/api/v1/restore';
export const OPENAPI_PATH = '/api/v1/openapi.json';

export function createApiApp(deps: ApiDeps): {
  app: OpenAPIHono<AppEnv>;
  declarations: readonly RouteDeclaration[];
} {
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error, result.target);
    },
  });
  const httpMode = () => deps.security.state.settings.http;
  app.use('*', securityHeaders({ hsts: () => httpMode() !== 'on' }));
  app.use('*', hostCheck(deps.names));
  app.use('*', httpsOnly({ mode: httpMode, httpsPort: () => deps.device.ports().https }));
  const limit = (maxSize: number) =>
    bodyLimit({
      maxSize,
      onError: () => {
        throw new ApiError(413, 'body-too-large', `request body is larger than ${maxSize} bytes`);
      },
    });
  const limitBody = limit(MAX_BODY_BYTES);
  const limitRestore = limit(MAX_RESTORE_BODY_BYTES);
  // Only where a body may come: asking a GET for its body makes node-server build a full Request.
  // A firmware bundle is streamed under its own limit (firmware-routes.ts); a restore has a larger one.
  app.use('/api/*', (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD' || c.req.path === '/api/v1/firmware') return next();
    return (c.req.path === RESTORE_PATH ? limitRestore : limitBody)(c, next);
  });
  app.use('/api/*', resolvePrincipal(deps));

  const api = new ApiBuilder(app, deps.names, denialRecorder(deps));
  registerPublicRoutes(api, deps);
  registerAuthRoutes(api, deps);
  registerMeteringRoutes(api, deps);
  registerSecurityRoutes(api, deps);
  registerRegistryRoutes(api, deps);
  registerFirmwareRoutes(api, deps);
  registerSessionRoutes(api, deps);
  registerStatusRoutes(api, deps);
  registerBackupRoutes(api, deps);

  app.openAPIRegistry.registerComponent('securitySchemes', 'apiKey', {
    type: 'http',
    scheme: 'bearer',
    description: 'An API key (mgk_…), HTTPS only unless the security settings allow HTTP',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'session', {
    type: 'apiKey',
    in: 'cookie',
    name: '__Host-mg_session',
    description: 'Session cookie from /auth/login; state changes also need the X-CSRF-Token header',
  });
  app.doc31(OPENAPI_PATH, {
    openapi: '3.1.0',
    info: {
      title: 'metergate device API',
      version: '1',
      description:
        'REST interface of the metergate meter. Errors: {"error":{"code","message","field"?,"permission"?}}.',
    },
    security: [{ apiKey: [] }, { session: [] }, {}],
  });
  const declarations = [
    ...api.declarations,
    { method: 'GET', path: OPENAPI_PATH, requires: 'public', summary: 'This API as OpenAPI 3.1' } as const,
  ];

  if (deps.website) registerWebSite(app, deps.website);

  app.notFound((c) =>
    errorResponse(c, new ApiError(404, 'not-found', `no such resource: ${c.req.method} ${c.req.path}`)),
  );
  app.onError((error, c) => {
    const apiError = toApiError(error);
    if (apiError.status === 500)
      process.stderr.write(`metergate: internal error on ${c.req.path}: ${String(error)}\n`);
    return errorResponse(c, apiError);
  });
  return { app, declarations };
}

function denialRecorder(deps: ApiDeps): DenialListener {
  const record = createDenialRecorder(deps.security, deps.now);
  return (c, requires, error) => {
    const context = c.get('context');
    record({
      type: 'access.denied',
      interface: context.interface,
      source: context.source,
      slot: c.get('principal')?.actor.slot,
      detail: `${c.req.method} ${c.req.path} needs ${requires}: ${error.code}`,
    });
  };
}

/** A schema failure as a 400 naming the first wrong field (`path.to.field`). */
function validationError(error: ZodError, target: string): ApiError {
  const issue = error.issues[0];
  if (!issue) return new ApiError(400, 'invalid-request', `invalid ${target}`);
  if (issue.code === 'unrecognized_keys') {
    const field = [...issue.path.map(String), issue.keys[0] ?? ''].join('.');
    return new ApiError(400, 'unknown-field', `unknown field: ${field}`, { field });
  }
  const field = issue.path.map(String).join('.') || (target === 'json' ? 'body' : target);
  return new ApiError(400, 'invalid-field', `${field}: ${issue.message}`, { field });
}
