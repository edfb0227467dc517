import { Global, Module } from '@nestjs/common';
import { AccessModule } from '../access/access.module';
import { AuditDeniedFilter } from './audit-denied.filter';
import { AuditVerifyService } from './audit-verify.service';
import { AuditController, DisclosuresController } from './audit.controller';
import { AuditService } from './audit.service';

/**
 * Global so every feature (ingest, partners, access, the read APIs) can record without
 * importing it; it imports AccessModule only for the auditor endpoints' guard.
 */
@Global()
@Module({
  imports: [AccessModule],
  controllers: [AuditController, DisclosuresController],
  // AuditDeniedFilter is installed by configureHttp (src/app/bootstrap.ts), after DomainErrorFilter.
  providers: [AuditService, AuditVerifyService, AuditDeniedFilter],
  exports: [AuditService, AuditVerifyService, AuditDeniedFilter],
})
export class AuditModule {}
