import { Injectable, type ExecutionContext } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';
import type { Request } from 'express';
import type { AuthenticatedSource } from '../partners/partners.service';
import type { Principal } from './roles';

export const RATE_WINDOW_MS = 60_000;

type Caller = Request & { user?: Principal; source?: AuthenticatedSource };

/** The budget a request is counted against: the signed-in user (agency + subject) or the partner source. */
export function rateTracker(req: Caller): string | null {
  if (req.user) return `user:${req.user.agency}:${req.user.sub}`;
  if (req.source) return `source:${req.source.sourceId}`;
  return null;
}

/**
 * Runs after the authentication guard (UseGuards(UserAuthGuard | SourceKeyGuard, RateLimitGuard)),
 * so it counts per principal across all endpoints, not per address or per route. Over the limit:
 * 429 with Retry-After (seconds until the window ends).
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  protected override getTracker(req: Record<string, unknown>): Promise<string> {
    return Promise.resolve(rateTracker(req as unknown as Caller) ?? 'anonymous');
  }

  protected override generateKey(_ctx: ExecutionContext, tracker: string, _name: string): string {
    return tracker;
  }
}
