import 'reflect-metadata';
import { createHttpApp, listenHttp, runMain } from './app/bootstrap';

runMain('api', async (cfg) => {
  const app = await createHttpApp('api');
  await listenHttp(app, cfg);
  return app;
});
