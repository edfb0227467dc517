import { applyDecorators, CanActivate, ExecutionContext, Injectable, SetMetadata, UseGuards } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiBearerAuth } from '@nestjs/swagger';
import type { Request } from 'express';
import { ForbiddenError } from '../errors/domain.error';
import { RateLimitGuard } from './rate-limit.guard';
import type { Principal, Role } from './roles';
import { TokenVerifierService } from './token-verifier.service';

export const ROLES_KEY = 'ff:roles';
export const PUBLIC_KEY = 'ff:public';

export type UserRequest = Request & { user?: Principal };

/** Verifies the bearer token and requires one of the roles the handler declares. */
@Injectable()
export class UserAuthGuard implements CanActivate {
  constructor(
    private readonly verifier: TokenVerifierService,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<UserRequest>();
    const header = req.headers.authorization;
    req.user = await this.verifier.verify(header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined);
    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES_KEY, [ctx.getHandler(), ctx.getClass()]) ?? [];
    if (!roles.some((r) => req.user!.roles.includes(r))) throw new ForbiddenError(`requires role ${roles.join(' or ') || '(none declared)'}`);
    return true;
  }
}

/** Every person-facing handler says which roles may call it; the rate limit counts the user it authenticated. */
export const RequireRoles = (...roles: Role[]): MethodDecorator & ClassDecorator =>
  applyDecorators(SetMetadata(ROLES_KEY, roles), UseGuards(UserAuthGuard, RateLimitGuard), ApiBearerAuth('user-token'));

/** Marks a handler as deliberately open (health probes, API docs). */
export const PublicEndpoint = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC_KEY, true);
