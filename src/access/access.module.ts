import { Module } from '@nestjs/common';
import { LocalIssuerService } from './local-issuer.service';
import { TokenVerifierService } from './token-verifier.service';
import { UserAuthGuard } from './auth.guard';

/** Who is calling and what they may see. */
@Module({
  providers: [LocalIssuerService, TokenVerifierService, UserAuthGuard],
  exports: [LocalIssuerService, TokenVerifierService, UserAuthGuard],
})
export class AccessModule {}
