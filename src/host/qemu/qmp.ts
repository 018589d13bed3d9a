/**
 * A QMP client for one short session (docs/interop/qmp-spec.rst): connect to a UNIX socket, read the greeting,
 * `qmp_capabilities`, the commands, disconnect. Everything runs under a deadline. The peer is whatever listens at
 * a path found on a command line, so it is treated as hostile: a message is at most MAX_MESSAGE bytes, refused as
 * soon as it grows past that, and anything that is not QMP ends the session.
 */
import { createConnection } from 'node:net';
import { parseBlockstats, type BlockStats } from './blockstats.js';
import { JsonObjectStream } from './json-object-stream.js';
import { isProps, own, type Props } from './option-syntax.js';

/**
 * Why a session failed: `connect` (no connection: `code` is ENOENT, ECONNREFUSED, EACCES, …), `closed` (the peer
 * closed or reset the connection before answering), `protocol` (it does not speak QMP: bytes that are not JSON, a
 * message over MAX_MESSAGE, no greeting first), `command` (QMP answered with an error), `timeout`.
 */
export type QmpErrorKind = 'connect' | 'closed' | 'protocol' | 'command' | 'timeout';

export class QmpError extends Error {
  override readonly name: string = 'QmpError';
  /** The errno code of a connection that failed or was reset. */
  readonly code: string | undefined;
  constructor(
    readonly kind: QmpErrorKind,
    readonly socketPath: string,
    message: string,
    extra: { cause?: unknown; code?: string | undefined } = {},
  ) {
    super(`QMP ${socketPath}: ${message}`, 'cause' in extra ? { cause: extra.cause } : undefined);
    this.code = extra.code;
  }
}

/** What the session was waiting for when the deadline came. */
export type QmpPhase = 'connection' | 'greeting' | 'capabilities' | 'reply';

export class QmpTimeoutError extends QmpError {
  override readonly name = 'QmpTimeoutError';
  constructor(
    socketPath: string,
    readonly phase: QmpPhase,
    budgetMs: number,
    command?: string,
  ) {
    super('timeout', socketPath, timeoutMessage(phase, budgetMs, command));
  }
}

function timeoutMessage(phase: QmpPhase, budgetMs: number, command = 'the command'): string {
  const within = `within ${String(Math.max(0, Math.round(budgetMs)))} ms`;
  // QEMU accepts one client per monitor socket; later ones wait in the listen backlog: connected, never greeted.
  if (phase === 'greeting')
    return `connected but no QMP greeting ${within}: another client probably holds this monitor (a QMP socket serves one client at a time)`;
  if (phase === 'connection') return `no connection ${within}`;
  return `no answer to ${phase === 'capabilities' ? 'qmp_capabilities' : command} ${within}`;
}

/** QMP's error reply: `class` (GenericError, DeviceNotFound, CommandNotFound, …) and QEMU's `desc`. */
export class QmpCommandError extends QmpError {
  override readonly name = 'QmpCommandError';
  constructor(
    socketPath: string,
    readonly command: string,
    readonly errorClass: string,
    readonly desc: string,
  ) {
    // A peer's 1 MiB desc must not become a 1 MiB log line; the whole of it stays in `desc`.
    super(
      'command',
      socketPath,
      `${command}: ${errorClass.slice(0, 80)}: ${desc.length > 300 ? `${desc.slice(0, 300)}…` : desc}`,
    );
  }
}

export interface QmpCommand {
  execute: string;
  arguments?: Props;
}

/**
 * One session: connects, negotiates, runs `commands` in order and resolves with their returns. Rejects with a
 * QmpError (a QmpTimeoutError at `deadline`, ms since the epoch; the socket is destroyed then, whatever the peer does).
 */
export function qmpSession(socketPath: string, commands: readonly QmpCommand[], deadline: number): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    // Written before connecting, so that arguments JSON cannot hold (a BigInt, a cycle) reject here, not in a handler.
    const lines = [{ execute: 'qmp_capabilities' }, ...commands].map((c, id) => `${JSON.stringify({ ...c, id })}\n`);
    const budgetMs = deadline - Date.now();
    let phase: QmpPhase = 'connection';
    if (budgetMs <= 0) {
      reject(new QmpTimeoutError(socketPath, phase, 0));
      return;
    }
    const sock = createConnection({ path: socketPath });
    const stream = new JsonObjectStream();
    const returns: unknown[] = [];
    /** Id of the command awaiting its answer: 0 is qmp_capabilities, n is commands[n - 1]. */
    let waitingFor = 0;
    const commandName = (id: number): string => (id === 0 ? 'qmp_capabilities' : commands[id - 1]!.execute);
    let done = false;
    const finish = (err?: QmpError): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(returns);
    };
    // setTimeout fires at once for a delay past 2^31 - 1 ms; no deadline is that far.
    const timer = setTimeout(
      () => {
        finish(new QmpTimeoutError(socketPath, phase, budgetMs, commandName(waitingFor)));
      },
      Math.min(budgetMs, 2 ** 31 - 1),
    );
    const fail = (kind: QmpErrorKind, message: string, cause?: unknown): void => {
      finish(new QmpError(kind, socketPath, message, cause === undefined ? {} : { cause }));
    };
    const send = (id: number): void => {
      waitingFor = id;
      sock.write(lines[id]!);
    };

    const onMessage = (msg: unknown): void => {
      if (!isProps(msg)) {
        fail('protocol', 'a message that is not a JSON object');
      } else if (phase === 'greeting') {
        if (!isProps(own(msg, 'QMP'))) {
          fail('protocol', 'the first message is not a QMP greeting');
          return;
        }
        phase = 'capabilities';
        send(0);
      } else if (own(msg, 'event') === undefined) {
        onReply(msg); // asynchronous events are not asked for here: skipped
      }
    };
    const onReply = (msg: Props): void => {
      const id = own(msg, 'id');
      const error = own(msg, 'error');
      // An error QEMU hit before reading the command has no id (qmp-spec.rst, Error); other ids are not ours.
      if (id !== waitingFor && !(id === undefined && error !== undefined)) return;
      if (error !== undefined) {
        const cls = isProps(error) ? own(error, 'class') : undefined;
        const desc = isProps(error) ? own(error, 'desc') : undefined;
        if (typeof cls === 'string' && typeof desc === 'string')
          finish(new QmpCommandError(socketPath, commandName(waitingFor), cls, desc));
        else fail('protocol', `an error reply to ${commandName(waitingFor)} without class and desc`);
        return;
      }
      if (!Object.hasOwn(msg, 'return')) {
        fail('protocol', `a reply to ${commandName(waitingFor)} without return`);
        return;
      }
      if (waitingFor > 0) returns.push(own(msg, 'return'));
      if (waitingFor === commands.length) {
        finish();
        return;
      }
      phase = 'reply';
      send(waitingFor + 1);
    };

    sock.on('connect', () => {
      phase = 'greeting';
    });
    sock.on('data', (chunk: Buffer) => {
      let messages: unknown[];
      try {
        messages = stream.push(chunk);
      } catch (err) {
        fail('protocol', (err as Error).message, err);
        return;
      }
      for (const msg of messages) {
        onMessage(msg);
        if (done) return;
      }
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      finish(
        new QmpError(
          phase === 'connection' ? 'connect' : 'closed',
          socketPath,
          `${err.message} (waiting for ${phase})`,
          {
            cause: err,
            code: err.code,
          },
        ),
      );
    });
    sock.on('close', () => {
      fail(
        'closed',
        `the peer closed the connection while waiting for ${phase === 'reply' ? commandName(waitingFor) : phase}`,
      );
    });
  });
}

/** `query-blockstats` (every drive, top level), parsed: see parseBlockstats. A malformed return is a ParseError. */
export async function qmpBlockstats(socketPath: string, deadline: number): Promise<BlockStats[]> {
  const [ret] = await qmpSession(socketPath, [{ execute: 'query-blockstats' }], deadline);
  return parseBlockstats(ret);
}

/**
 * `block-latency-histogram-set` (QEMU ≥ 4.0): read, write and flush latency histograms with these bin edges (ns,
 * ascending, > 0) on the drive of device `id` (a `-device` id or a QOM path: QEMU looks the device up, not the
 * drive, so a drive id or node name is DeviceNotFound). It starts the histograms anew, all bins 0: set them once
 * per QEMU, not on every read.
 */
export async function qmpSetLatencyHistogram(
  socketPath: string,
  id: string,
  boundariesNs: readonly number[],
  deadline: number,
): Promise<void> {
  boundariesNs.forEach((b, i) => {
    if (!Number.isSafeInteger(b) || b <= (i === 0 ? 0 : boundariesNs[i - 1]!))
      throw new RangeError(
        `latency histogram boundaries must be integers ascending from > 0: ${boundariesNs.join(', ')}`,
      );
  });
  await qmpSession(
    socketPath,
    [{ execute: 'block-latency-histogram-set', arguments: { id, boundaries: [...boundariesNs] } }],
    deadline,
  );
}
