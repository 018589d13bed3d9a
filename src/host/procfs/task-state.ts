/** A task's scheduler state, from the state letter of /proc/…/stat, as qemu_thread_states{state} names it. */
export const STATES = ['running', 'sleeping', 'disk_sleep', 'stopped', 'zombie', 'idle', 'other'] as const;
export type State = (typeof STATES)[number];

const STATE_OF: Record<string, State> = {
  R: 'running',
  S: 'sleeping',
  D: 'disk_sleep',
  T: 'stopped',
  t: 'stopped',
  Z: 'zombie',
  I: 'idle',
};

export const stateOf = (letter: string): State => STATE_OF[letter] ?? 'other';
