import 'reflect-metadata';
import { createHttpApp, runMain } from './app/bootstrap';

// api and worker in one process, for small installs and demos.
runMain('all', async (cfg) => {
  const app = await createHttpApp('all');
  await app.listen(cfg.PORT, '0.0.0.0');
  return app;
});
