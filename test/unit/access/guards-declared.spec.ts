import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { GUARDS_METADATA, METHOD_METADATA } from '@nestjs/common/constants';
import { PUBLIC_KEY, ROLES_KEY } from '../../../src/access/auth.guard';

function controllerFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? controllerFiles(p) : f.endsWith('.controller.ts') ? [p] : [];
  });
}

type Ctor = { prototype: Record<string, unknown>; name: string };

/** Twenty's rule: every route declares its guard (or is marked public on purpose). */
describe('every controller method declares its guard', () => {
  const files = controllerFiles(join(__dirname, '../../../src'));

  it('finds the controllers', () => {
    expect(files.length).toBeGreaterThan(1);
  });

  it.each(files)('%s', (file) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- controllers are discovered at run time
    const mod = require(file) as Record<string, unknown>;
    const controllers = Object.values(mod).filter((v): v is Ctor => typeof v === 'function' && Reflect.hasMetadata('path', v));
    expect(controllers.length).toBeGreaterThan(0);
    const undeclared: string[] = [];
    for (const c of controllers) {
      for (const name of Object.getOwnPropertyNames(c.prototype)) {
        const handler = c.prototype[name];
        if (name === 'constructor' || typeof handler !== 'function' || Reflect.getMetadata(METHOD_METADATA, handler) === undefined) continue;
        const guards = (Reflect.getMetadata(GUARDS_METADATA, handler) as unknown[] | undefined) ?? [];
        const isPublic = Reflect.getMetadata(PUBLIC_KEY, handler) === true;
        const roles = Reflect.getMetadata(ROLES_KEY, handler) as unknown[] | undefined;
        const userGuarded = guards.length > 0 && (roles === undefined || roles.length > 0);
        if (!isPublic && !userGuarded) undeclared.push(`${c.name}.${name}`);
      }
    }
    expect(undeclared).toEqual([]);
  });
});
