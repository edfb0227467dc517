import 'reflect-metadata';
import { createHttpApp, listenHttp, runMain } from './app/bootstrap';

// api and worker in one process, for small installs and demos.
runMain('all', async (cfg) => {
  const app = await createHttpApp('all');
  await listenHttp(app, cfg);
  return app;
});
