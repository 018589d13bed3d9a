/** qemu-thread-exporter(1), written from the executable's own --help and `explain --help`, so it never drifts. */

/** roff-safe text: backslashes, and a leading . or ' that roff would take for a request. */
function roff(text: string): string {
  return text
    .replaceAll('\\', '\\e')
    .replaceAll('-', '\\-')
    .replace(/^([.'])/, '\\&$1');
}

/** `  --flag=default` / `      help` pairs of the --help text → tagged paragraphs. */
function flagList(help: string): string[] {
  const out: string[] = [];
  for (const line of help.split('\n')) {
    if (/^ {2}-/.test(line)) out.push('.TP', `.B ${roff(line.trim())}`);
    else if (/^ {6}\S/.test(line)) out.push(roff(line.trim()));
  }
  return out;
}

/** `  --flag=X   text` lines of explain's usage, with their indented continuation lines. */
function explainFlags(usage: string): string[] {
  const out: string[] = [];
  for (const line of usage.split('\n')) {
    const m = /^ {2}(--\S+)\s+(.*)$/.exec(line);
    if (m) out.push('.TP', `.B ${roff(m[1]!)}`, roff(m[2]!));
    else if (/^ {3,}\S/.test(line) && out.length > 0) out.push(roff(line.trim()));
    else if (/^ {2}\S/.test(line)) out.push('.PP', roff(line.trim()));
  }
  return out;
}

export function manPage(opts: { version: string; date: string; help: string; explainHelp: string }): string {
  return [
    `.TH QEMU-THREAD-EXPORTER 1 "${opts.date}" "qemu-thread-exporter ${opts.version}" "User Commands"`,
    '.SH NAME',
    'qemu\\-thread\\-exporter \\- Prometheus exporter for the threads, thread pools and disks of QEMU/KVM VMs',
    '.SH SYNOPSIS',
    '.B qemu\\-thread\\-exporter',
    '[\\fIflags\\fR]',
    '.br',
    '.B qemu\\-thread\\-exporter explain',
    '[\\fIDOMAIN\\fR] [\\fIflags\\fR]',
    '.SH DESCRIPTION',
    'Serves, on /metrics, the threads (vCPUs, iothreads, worker pools), their CPU and scheduling delay, and the',
    'disks of every QEMU/KVM virtual machine on this host. The',
    '.B explain',
    'command says, per VM, what its threads are doing and whether to worry.',
    '.PP',
    'The packaged systemd unit reads its flags from',
    '.I /etc/default/qemu\\-thread\\-exporter',
    '(ARGS=...); start it with',
    '.BR "systemctl enable \\-\\-now qemu\\-thread\\-exporter" .',
    '.SH OPTIONS',
    ...flagList(opts.help),
    '.SH EXPLAIN',
    ...explainFlags(opts.explainHelp),
    '.SH FILES',
    '.TP',
    '.I /usr/share/qemu\\-thread\\-exporter/',
    'Grafana dashboards and Prometheus alerting rules.',
    '.SH SEE ALSO',
    'https://github.com/qemu\\-thread\\-exporter/qemu\\-thread\\-exporter',
    '',
  ].join('\n');
}
