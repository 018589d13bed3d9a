/** The errors of the libvirt RPC client: what failed (`kind`), on which socket, and libvirt's own error reply. */
import type { RemoteError } from './protocol.js';

/**
 * Why a call failed: `connect` (no connection: `errno` is ENOENT, ECONNREFUSED, EACCES, …), `closed` (the connection
 * ended: the daemon went away or reset it, or an earlier call timed out), `protocol` (the peer does not speak
 * libvirt's RPC: a frame too short or too long, a malformed reply), `auth` (the socket wants an authentication this
 * client does not do), `remote` (libvirt answered with an error), `timeout`.
 */
export type LibvirtErrorKind = 'connect' | 'closed' | 'protocol' | 'auth' | 'remote' | 'timeout';

export class LibvirtError extends Error {
  override readonly name: string = 'LibvirtError';
  readonly errno: string | undefined;
  constructor(
    readonly kind: LibvirtErrorKind,
    readonly socketPath: string,
    message: string,
    extra: { cause?: unknown; errno?: string | undefined } = {},
  ) {
    super(`libvirt ${socketPath}: ${message}`, 'cause' in extra ? { cause: extra.cause } : undefined);
    this.errno = extra.errno;
  }
}

export class LibvirtTimeoutError extends LibvirtError {
  override readonly name = 'LibvirtTimeoutError';
  constructor(
    socketPath: string,
    /** The call that got no answer, or `connection`. */
    readonly waitingFor: string,
    budgetMs: number,
  ) {
    super(
      'timeout',
      socketPath,
      `no ${waitingFor === 'connection' ? 'connection' : `answer to ${waitingFor}`} within ${Math.max(0, Math.round(budgetMs))} ms`,
    );
  }
}

/** libvirt's error reply: virterror.h's `code` (virErrorNumber) and `domain` (virErrorDomain), and its message. */
export class LibvirtRemoteError extends LibvirtError {
  override readonly name = 'LibvirtRemoteError';
  readonly code: number;
  readonly domain: number;
  readonly remoteMessage: string;
  constructor(socketPath: string, call: string, err: RemoteError) {
    const text = err.message ?? '(no message)';
    // A peer's 4 MiB message must not become a 4 MiB log line; the whole of it stays in `remoteMessage`.
    super(
      'remote',
      socketPath,
      `${call}: ${text.length > 300 ? `${text.slice(0, 300)}…` : text} (code ${err.code}, domain ${err.domain})`,
    );
    this.code = err.code;
    this.domain = err.domain;
    this.remoteMessage = text;
  }
}
