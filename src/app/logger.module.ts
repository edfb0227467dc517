import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoggerModule as PinoModule } from 'nestjs-pino';
import { AppConfig } from '../config/app.config';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,100}$/;

/** JSON logs with a request id. Paths are logged without query strings, which can carry names. */
export const LoggerModule = PinoModule.forRootAsync({
  inject: [AppConfig],
  useFactory: (cfg: AppConfig) => ({
    pinoHttp: {
      level: cfg.LOG_LEVEL,
      genReqId: (req: IncomingMessage, res: ServerResponse) => {
        const given = req.headers['x-request-id'];
        const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], remove: true },
      serializers: {
        req: (req: { id: string; method: string; url: string }) => ({ id: req.id, method: req.method, path: req.url.split('?')[0] }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      customProps: () => ({ service: 'familiar-faces' }),
      autoLogging: { ignore: (req: IncomingMessage) => (req.url ?? '').startsWith('/health') },
    },
  }),
});
