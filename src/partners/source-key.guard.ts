import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { PartnersService, type AuthenticatedSource } from './partners.service';

export type SourceRequest = Request & { source?: AuthenticatedSource };

/** Partner systems authenticate with their source API key; the key decides the source. */
@Injectable()
export class SourceKeyGuard implements CanActivate {
  constructor(private readonly partners: PartnersService) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<SourceRequest>();
    const header = req.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    req.source = await this.partners.authenticate(token);
    return true;
  }
}
