import { Module } from '@nestjs/common';
import { LocalIssuerService } from './local-issuer.service';
import { StewardMentionsService } from './steward-mentions.service';
import { TokenVerifierService } from './token-verifier.service';
import { UserAuthGuard } from './auth.guard';

/** Who is calling and what they may see. */
@Module({
  providers: [LocalIssuerService, TokenVerifierService, UserAuthGuard, StewardMentionsService],
  exports: [LocalIssuerService, TokenVerifierService, UserAuthGuard, StewardMentionsService],
})
export class AccessModule {}
