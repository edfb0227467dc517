import 'reflect-metadata';
import { createHttpApp, runMain } from './app/bootstrap';

runMain('api', async (cfg) => {
  const app = await createHttpApp('api');
  await app.listen(cfg.PORT, '0.0.0.0');
  return app;
});
