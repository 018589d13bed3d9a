/** Thread roles, a bounded set: every (domain, role) series comes from this list. */
export const ROLES = [
  'vcpu', 'iothread', 'worker', 'main', 'rcu', 'monitor',
  'vnc', 'spice', 'vhost', 'io_uring', 'migration', 'kernel', 'other',
] as const;
export type Role = (typeof ROLES)[number];
