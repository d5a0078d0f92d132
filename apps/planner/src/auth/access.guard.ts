/**
 * Who is calling, and may they: authentication for every `/v1/` route (health, readiness and
 * the OpenAPI document stay open, for probes and client generators) and the per-target checks
 * the handlers make once they know the targets.
 *
 *   GET /v1/rollouts                         (no header)        -> 401 + WWW-Authenticate: Bearer
 *   GET /v1/rollouts   Authorization: Bearer rm_unknown          -> 401 error="invalid_token"
 *   POST /v1/rollouts  {targets: [prod/mimir]}, scopes [read:*\/*] -> 403 'may not roll prod/mimir'
 */
import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { denied, type Target, type Verb } from './access.scope';
import { bearerToken, type Principal, type TokenStore } from './token.store';

export class AccessError extends Error {
  constructor(
    readonly status: 401 | 403,
    message: string,
  ) {
    super(message);
  }
}

const principals = new WeakMap<Request, Principal>();

/** Express middleware: resolves the bearer token of `/v1/` requests or answers 401. */
export function authenticate(store: TokenStore) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (!req.path.startsWith('/v1/') && req.path !== '/v1') return next();
    const bearer = bearerToken(req.headers.authorization);
    const principal = bearer.ok ? store.authenticate(bearer.token) : undefined;
    if (principal) {
      principals.set(req, principal);
      return next();
    }
    const reason = bearer.ok ? 'unknown or revoked token' : bearer.reason;
    res.setHeader(
      'WWW-Authenticate',
      bearer.ok ? 'Bearer realm="ringmaster", error="invalid_token"' : 'Bearer realm="ringmaster"',
    );
    res.status(401).json({ statusCode: 401, error: 'Unauthorized', message: reason });
  };
}

/** The caller `authenticate` resolved, for rate limiting and the handlers. */
export function principalOf(req: Request): Principal | undefined {
  return principals.get(req);
}

/** Handler parameter: the authenticated caller (401 if the middleware did not run). */
export const Caller = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  const p = principalOf(ctx.switchToHttp().getRequest<Request>());
  if (!p) throw new AccessError(401, 'authentication required: send Authorization: Bearer <token>');
  return p;
});

/** Throws 403 naming every target `who` may not `verb`, and the scopes it has. */
export function authorize(who: Principal, verb: Verb, targets: readonly Target[]): void {
  const no = denied(who.scopes, verb, targets);
  if (no.length === 0) return;
  throw new AccessError(
    403,
    `"${who.name}" may not ${verb} ${no.join(', ')} (its scopes: ${who.scopes.map((s) => s.text).join(', ')})`,
  );
}

/**
 * A `rollout.requests` event is checked like a REST call: its REQUEST_AUTH_HEADER holds the
 * producer's bearer token, the token's name must be the event's `producer`, and its scopes must
 * allow the targets. Throws AccessError (the consumer dead-letters it with this reason).
 *
 *   no header                                   -> 401 'no authorization header: ...'
 *   token of "ci", event producer "release"     -> 403 'producer "release" sent a token of "ci"'
 */
export function authorizeEvent(
  store: TokenStore,
  header: string | undefined,
  producer: string,
  verb: Verb,
  targets: readonly Target[],
): Principal {
  if (header === undefined)
    throw new AccessError(
      401,
      'no authorization header: events need the Bearer token of their producer',
    );
  const bearer = bearerToken(header);
  if (!bearer.ok) throw new AccessError(401, bearer.reason);
  const who = store.authenticate(bearer.token);
  if (!who) throw new AccessError(401, 'unknown or revoked token');
  if (who.name !== producer)
    throw new AccessError(403, `producer "${producer}" sent a token of "${who.name}"`);
  authorize(who, verb, targets);
  return who;
}
