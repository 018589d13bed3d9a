/**
 * The client against the daemon side of a real session (test/fixtures/libvirt-rpc, recorded from libvirtd 9.0 by
 * capture-libvirt-rpc.ts): every call it sends is the one it sent then, and what it decodes is what virsh said.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LibvirtClient } from '../../../src/host/libvirt/rpc/client.js';
import { fakeDaemon, SESSION, VIRSH_BLOCK0 } from '../../support/libvirt-rpc.js';

/** Plays the recorded daemon: after the client's k-th frame, the daemon frames that followed it; `chunk` splits them. */
async function replay(chunk: (frames: Buffer[]) => Buffer[] = (f) => f) {
  const script: Buffer[][] = [];
  for (const f of SESSION.frames) {
    if (f.from === 'client') script.push([]);
    else script.at(-1)!.push(f.frame);
  }
  const clientFrames = SESSION.frames.filter((f) => f.from === 'client').map((f) => f.frame);
  const seen: Buffer[] = [];
  const daemon = await fakeDaemon((call, sock) => {
    const k = seen.length;
    seen.push(call.body);
    assert.deepEqual(call.body, clientFrames[k]!.subarray(28), `call ${String(k)} as recorded`);
    for (const part of chunk(script[k]!)) sock.write(part);
  });
  return { daemon, seen };
}

describe('libvirt RPC client: the recorded session replayed', () => {
  test('the domain, its disk and counters, its vCPUs; the same calls as recorded', async () => {
    const { daemon, seen } = await replay();
    const client = new LibvirtClient({ socketPath: daemon.path });
    await client.connect(Date.now() + 2000);
    assert.equal(client.connected, true);
    const stats = await client.allDomainStats(Date.now() + 2000);
    await client.close(Date.now() + 2000);
    assert.equal(client.connected, false);
    assert.equal(seen.length, 4);
    assert.deepEqual(stats, [
      {
        name: SESSION.domain.name,
        uuid: SESSION.domain.uuid,
        blocks: [VIRSH_BLOCK0],
        vcpus: stats[0]!.vcpus,
      },
    ]);
    assert.ok(stats[0]!.blocks[0]!.rdReqs > 0, 'SeaBIOS read the boot sector');
    assert.deepEqual(
      stats[0]!.vcpus.map((c) => [c.vcpu, c.waitNs !== undefined, c.delayNs !== undefined]),
      [
        [0, true, true],
        [1, true, true],
      ],
    );
  });

  test('the same, with every reply sent byte by byte, and with all of them behind a keepalive PONG', async () => {
    for (const chunk of [
      (f: Buffer[]) => [...Buffer.concat(f)].map((b) => Buffer.of(b)),
      (f: Buffer[]) => [Buffer.concat([SESSION.pong, ...f])],
    ]) {
      const { daemon } = await replay(chunk);
      const client = new LibvirtClient({ socketPath: daemon.path });
      await client.connect(Date.now() + 2000);
      const stats = await client.allDomainStats(Date.now() + 2000);
      assert.equal(stats[0]!.blocks[0]!.rdReqs, Number(SESSION.virshDomstats['block.0.rd.reqs']));
      await client.close(Date.now() + 2000);
    }
  });
});
