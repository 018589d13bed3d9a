import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseStatus } from '../../src/host/procfs/status.js';
import { ParseError } from '../../src/host/parse-error.js';

// /proc/PID/task/TID/status of a QEMU 7.2 vCPU thread on this machine (kernel 6.18); Cpus/Mems lines dropped.
const QEMU_VCPU = `Name:\tCPU 0/KVM
Umask:\t0027
State:\tS (sleeping)
Tgid:\t5103
Ngid:\t0
Pid:\t5106
PPid:\t1
TracerPid:\t0
Uid:\t0\t0\t0\t0
Gid:\t0\t0\t0\t0
FDSize:\t256
Groups:\t 
NStgid:\t5103
NSpid:\t5106
NSpgid:\t5101
NSsid:\t5101
Kthread:\t0
VmPeak:\t  357808 kB
VmSize:\t  355504 kB
VmLck:\t       0 kB
VmPin:\t       0 kB
VmHWM:\t   24936 kB
VmRSS:\t   21324 kB
RssAnon:\t   13124 kB
RssFile:\t    8200 kB
RssShmem:\t       0 kB
VmData:\t  113936 kB
VmStk:\t     132 kB
VmExe:\t    5724 kB
VmLib:\t   14600 kB
VmPTE:\t     188 kB
VmSwap:\t       0 kB
HugetlbPages:\t       0 kB
CoreDumping:\t0
THP_enabled:\t1
untag_mask:\t0xffffffffffffffff
Threads:\t4
SigQ:\t0/96365
SigPnd:\t0000000000000000
ShdPnd:\t0000000000000000
SigBlk:\tfffffffe7ffbf837
SigIgn:\t0000000000381000
SigCgt:\t0000000100004243
CapInh:\t0000000000000000
CapPrm:\t000001fffeffffff
CapEff:\t000001fffeffffff
CapBnd:\t000001fffeffffff
CapAmb:\t0000000000000000
NoNewPrivs:\t0
Seccomp:\t0
Seccomp_filters:\t0
Speculation_Store_Bypass:\tvulnerable
SpeculationIndirectBranch:\talways enabled
voluntary_ctxt_switches:\t6
nonvoluntary_ctxt_switches:\t0
`;

// `cat /proc/2/status`: kthreadd, a kernel thread — no Vm* lines at all.
const KTHREADD = `Name:\tkthreadd
Umask:\t0022
State:\tS (sleeping)
Tgid:\t2
Ngid:\t0
Pid:\t2
PPid:\t0
TracerPid:\t0
Uid:\t0\t0\t0\t0
Gid:\t0\t0\t0\t0
FDSize:\t64
Groups:\t 
NStgid:\t2
NSpid:\t2
NSpgid:\t0
NSsid:\t0
Kthread:\t1
Threads:\t1
SigQ:\t0/96365
SigPnd:\t0000000000000000
ShdPnd:\t0000000000000000
SigBlk:\t0000000000000000
SigIgn:\tffffffffffffffff
SigCgt:\t0000000000000000
CapInh:\t0000000000000000
CapPrm:\t000001ffffffffff
CapEff:\t000001ffffffffff
CapBnd:\t000001ffffffffff
CapAmb:\t0000000000000000
NoNewPrivs:\t0
Seccomp:\t0
Seccomp_filters:\t0
Speculation_Store_Bypass:\tvulnerable
SpeculationIndirectBranch:\talways enabled
Cpus_allowed:\t3
Cpus_allowed_list:\t0-1
Mems_allowed:\t00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000001
Mems_allowed_list:\t0
voluntary_ctxt_switches:\t58
nonvoluntary_ctxt_switches:\t0
`;

// `cat /proc/1/status` (the init of this sandbox), abridged to the lines around the ones parsed.
const INIT = `Name:\tprocess_api
Umask:\t0022
State:\tS (sleeping)
Kthread:\t0
VmHWM:\t   17648 kB
VmRSS:\t   12524 kB
RssAnon:\t    6004 kB
Threads:\t14
Mems_allowed_list:\t0
voluntary_ctxt_switches:\t329
nonvoluntary_ctxt_switches:\t22
`;

describe('parseStatus', () => {
  test('reads a QEMU vCPU thread', () => {
    assert.deepEqual(parseStatus(QEMU_VCPU), {
      voluntaryCtxtSwitches: 6,
      nonvoluntaryCtxtSwitches: 0,
      vmRssBytes: 21324 * 1024,
    });
  });

  test('reads /proc/1/status', () => {
    assert.deepEqual(parseStatus(INIT), {
      voluntaryCtxtSwitches: 329,
      nonvoluntaryCtxtSwitches: 22,
      vmRssBytes: 12524 * 1024,
    });
  });

  test('leaves vmRssBytes absent for a kernel thread', () => {
    const s = parseStatus(KTHREADD);
    assert.deepEqual(s, { voluntaryCtxtSwitches: 58, nonvoluntaryCtxtSwitches: 0 });
    assert.ok(!('vmRssBytes' in s));
  });

  test('does not take nonvoluntary_ctxt_switches for voluntary_ctxt_switches', () => {
    const text = 'Name:\tx\nnonvoluntary_ctxt_switches:\t7\nvoluntary_ctxt_switches:\t3\n';
    assert.deepEqual(parseStatus(text), { voluntaryCtxtSwitches: 3, nonvoluntaryCtxtSwitches: 7 });
  });

  test('reads counters beyond 2^32', () => {
    const text = 'Name:\tx\nvoluntary_ctxt_switches:\t4294967296\nnonvoluntary_ctxt_switches:\t9007199254740991\n';
    assert.deepEqual(parseStatus(text), {
      voluntaryCtxtSwitches: 4294967296,
      nonvoluntaryCtxtSwitches: 9007199254740991,
    });
  });

  test('refuses a file without its last newline: the last counter may have been cut', () => {
    assert.throws(() => parseStatus(QEMU_VCPU.trimEnd()), ParseError);
  });

  test('throws ParseError on malformed input', () => {
    for (const bad of [
      '',
      'garbage',
      QEMU_VCPU.slice(0, QEMU_VCPU.indexOf('voluntary_ctxt_switches')), // truncated: no ctxt lines
      QEMU_VCPU.slice(0, QEMU_VCPU.indexOf('nonvoluntary_ctxt_switches')), // truncated: no nonvoluntary
      QEMU_VCPU.replace('voluntary_ctxt_switches:\t6', 'voluntary_ctxt_switches:\tabc'),
      QEMU_VCPU.replace('nonvoluntary_ctxt_switches:\t0', 'nonvoluntary_ctxt_switches:\t-1'),
      QEMU_VCPU.replace('nonvoluntary_ctxt_switches:\t0', 'nonvoluntary_ctxt_switches:\t'),
      QEMU_VCPU.replace('nonvoluntary_ctxt_switches:\t0', 'nonvoluntary_ctxt_switches:\t9007199254740992'),
      QEMU_VCPU.replace('VmRSS:\t   21324 kB', 'VmRSS:\t   21324'), // unit missing
      QEMU_VCPU.replace('VmRSS:\t   21324 kB', 'VmRSS:\t   x kB'),
      QEMU_VCPU.replace('VmRSS:\t   21324 kB', 'VmRSS:\t kB'),
    ]) {
      assert.throws(() => parseStatus(bad), ParseError, JSON.stringify(bad.slice(-80)));
    }
  });
});
