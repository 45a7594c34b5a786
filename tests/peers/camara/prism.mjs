// Runs Stoplight Prism (npm @stoplight/prism-cli, pinned in package.json) on 127.0.0.1 for
// orderguard's integration tests, against one of the official CAMARA specs:
//
//   node prism.mjs --mock SPEC [--dynamic] [--port N]
//       Prism answers from the spec's examples (paths at the root: /check, /retrieve-date).
//   node prism.mjs --proxy SPEC UPSTREAM_URL [--no-errors] [--port N]
//       Prism validates each request against SPEC, forwards it to UPSTREAM_URL + path (e.g.
//       http://127.0.0.1:<gateway port>/sim-swap/v2) and validates the answer. With `--errors`
//       (the default here) violations become error responses; `--no-errors` only reports them in
//       the `sl-violations` header.
//
// --port defaults to a free port found here. Once Prism accepts connections, stdout gets exactly
// one line: `ready port=<port>`. Prism's own output goes to stderr. Bad arguments exit 2; Prism
// failing to start (or dying) exits 1.
//
// Prism runs in a child node process. It is stopped when this process gets SIGTERM/SIGINT or
// exits, and also when this process is SIGKILLed (tokio's kill_on_drop): the child watches its
// stdin, a pipe from this process, and exits when the pipe closes.

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HOST = '127.0.0.1';
const here = path.dirname(fileURLToPath(import.meta.url));
const PRISM_ENTRY = path.join(here, 'node_modules', '@stoplight', 'prism-cli', 'dist', 'index.js');

// ---------------------------------------------------------------------------------------------
// Child mode: `node prism.mjs --child <prism arguments>` runs the Prism CLI in this process.

if (process.argv[2] === '--child') {
  const exit = () => process.exit(0);
  process.stdin.on('end', exit);
  process.stdin.on('close', exit);
  process.stdin.on('error', exit);
  process.stdin.resume();
  // yargs (Prism's CLI parser) reads process.argv when it is first required.
  process.argv = [process.argv[0], PRISM_ENTRY, ...process.argv.slice(3)];
  createRequire(import.meta.url)(PRISM_ENTRY);
} else {
  await main();
}

// ---------------------------------------------------------------------------------------------
// Parent mode

function usage(msg) {
  process.stderr.write(`prism: ${msg}\nusage: node prism.mjs --mock SPEC [--dynamic] [--port N]\n` +
    '       node prism.mjs --proxy SPEC UPSTREAM_URL [--no-errors] [--port N]\n');
  process.exit(2);
}

function log(...parts) {
  process.stderr.write(`prism.mjs: ${parts.join(' ')}\n`);
}

function parseArgs(argv) {
  const opts = { mode: null, spec: null, upstream: null, port: null, dynamic: false, errors: true };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--mock' || arg === '--proxy') {
      if (opts.mode) usage('give one of --mock and --proxy');
      opts.mode = arg.slice(2);
      opts.spec = argv[++i];
      if (!opts.spec) usage(`${arg} needs SPEC`);
      if (opts.mode === 'proxy') {
        opts.upstream = argv[++i];
        if (!opts.upstream || !/^https?:\/\//.test(opts.upstream)) usage('--proxy needs SPEC and an http(s) UPSTREAM_URL');
      }
    } else if (arg === '--port') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 0 || n > 65535) usage('--port must be a port (0 = any free)');
      opts.port = n || null;
    } else if (arg === '--dynamic') {
      opts.dynamic = true;
    } else if (arg === '--no-errors') {
      opts.errors = false;
    } else {
      usage(`unknown argument ${arg}`);
    }
  }
  if (!opts.mode) usage('--mock SPEC or --proxy SPEC UPSTREAM_URL is required');
  if (opts.dynamic && opts.mode !== 'mock') usage('--dynamic is for --mock');
  if (!opts.errors && opts.mode !== 'proxy') usage('--no-errors is for --proxy');
  opts.spec = path.resolve(opts.spec);
  return opts;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function accepts(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const port = opts.port ?? await freePort();
  const prismArgs = opts.mode === 'mock'
    ? ['mock', '-h', HOST, '-p', String(port), ...(opts.dynamic ? ['-d'] : []), opts.spec]
    : ['proxy', '-h', HOST, '-p', String(port), ...(opts.errors ? ['--errors'] : []), opts.spec, opts.upstream];

  const started = Date.now();
  // stdout of Prism goes to our stderr (fd 2): our stdout carries only the ready line.
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child', ...prismArgs], {
    cwd: here,
    stdio: ['pipe', 2, 2],
  });
  let childExited = false;
  child.on('exit', (code, signal) => {
    childExited = true;
    log(`prism exited (code ${code}, signal ${signal})`);
    process.exit(1);
  });

  const stop = () => {
    if (!childExited) child.kill('SIGTERM');
  };
  process.on('exit', stop);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      child.removeAllListeners('exit');
      stop();
      process.exit(0);
    });
  }

  const deadline = started + 60_000;
  while (!(await accepts(port))) {
    if (childExited) return;
    if (Date.now() > deadline) {
      log('prism did not accept connections within 60 s');
      process.exit(1);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  log(`prism ${opts.mode} listening on ${HOST}:${port} after ${Date.now() - started} ms`);
  process.stdout.write(`ready port=${port}\n`);
}
