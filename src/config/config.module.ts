import { Global, Module } from '@nestjs/common';
import { AppConfig, loadConfig } from './app.config';

/** Global so every module can inject AppConfig; it holds settings only, no services. */
@Global()
@Module({
  providers: [{ provide: AppConfig, useFactory: (): AppConfig => loadConfig() }],
  exports: [AppConfig],
})
export class ConfigModule {}
