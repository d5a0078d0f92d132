/**
 * API tokens: opaque bearer secrets, stored only as their SHA-256 (hex). Tokens carry 32 random
 * bytes, so an unsalted fast hash is enough: there is nothing to guess, only a leaked hash file
 * to make useless (the same reasoning as GitHub's and Kubernetes' token stores).
 *
 *   newApiToken()               -> 'rm_3q2...'  (43 base64url chars after the prefix)
 *   hashApiToken('rm_example')  -> '8e3b...'    (64 hex chars; what the tokens file keeps)
 */
import { createHash, randomBytes } from 'node:crypto';

export const TOKEN_PREFIX = 'rm_';

export function newApiToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function hashApiToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
