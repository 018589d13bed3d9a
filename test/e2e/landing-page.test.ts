/**
 * The landing page (/) in a real headless Chromium (Debian's `chromium`, driven by playwright-core): the exporter
 * runs on the host1 fixture and samples its history every 200 ms; the page must show every VM with its chart of
 * threads by role and its findings, readable (size, contrast, no horizontal overflow), without a console error, and
 * keep itself up to date without script. A full-page screenshot goes to test/.cache/landing-page.png.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import type { ExplainReport } from '../../src/explain/report.js';
import { startCli, type Cli } from '../support/cli.js';
import { requireTool } from '../support/require-tool.js';

const host1 = fileURLToPath(new URL('../fixtures/host1', import.meta.url));
const fixtureFlags = [
  `--path.procfs=${host1}/proc`,
  `--path.sysfs=${host1}/sys`,
  `--path.rootfs=${host1}/rootfs`,
  `--libvirt.status-dir=${host1}/run/libvirt/qemu`,
];
const SCREENSHOT = fileURLToPath(new URL('../.cache/landing-page.png', import.meta.url));
const VIEWPORT = { width: 1280, height: 900 };
/** The flags, plus --disable-quic: nothing but the exporter on loopback. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
];

// ---- What the page shows, read in the browser in one go (one task: a meta refresh cannot cut it in half) ----

interface Box {
  left: number;
  right: number;
  top: number;
  bottom: number;
  width: number;
  height: number;
}
/** A text as the user sees it: its box, size, colour and the backgrounds behind it (innermost first). */
interface TextView {
  text: string;
  visible: boolean;
  box: Box;
  fontSize: number;
  color: string;
  backgrounds: string[];
}
interface FindingView {
  classes: string;
  summary: TextView;
  badge: TextView;
  evidence: TextView[];
  advice: TextView | null;
}
interface ChartView {
  visible: boolean;
  box: Box;
  paths: { role: string; d: string }[];
  texts: string[];
  label: string;
}
interface VmView {
  id: string;
  heading: TextView;
  meta: string;
  chart: ChartView | null;
  findings: FindingView[];
  none: TextView | null;
}
interface PageView {
  scrollWidth: number;
  innerWidth: number;
  vms: VmView[];
}

/** The few DOM types the page function uses (tsconfig has no DOM lib). */
interface El {
  readonly id: string;
  readonly className: string | { baseVal: string };
  readonly textContent: string | null;
  readonly parentElement: El | null;
  querySelector(selector: string): El | null;
  querySelectorAll(selector: string): ArrayLike<El>;
  getAttribute(name: string): string | null;
  getBoundingClientRect(): Box;
}
interface Css {
  color: string;
  backgroundColor: string;
  fontSize: string;
  display: string;
  visibility: string;
  opacity: string;
}
interface Dom {
  document: { documentElement: { scrollWidth: number }; querySelectorAll(selector: string): ArrayLike<El> };
  innerWidth: number;
  getComputedStyle(el: El): Css;
}

/**
 * Runs in the page. No nested named functions (only inline callbacks): tsx (esbuild keepNames) would wrap
 * them in a `__name` helper that the page does not have.
 */
function readPage(): PageView {
  const w = globalThis as unknown as Dom;
  const views = new Map<El, TextView>();
  const all = [
    ...Array.from(
      w.document.querySelectorAll(
        'section.vm h2, .finding .summary, .finding .severity, .finding ul.evidence li, .finding .advice, section.vm p.none',
      ),
    ),
  ];
  for (const el of all) {
    const css = w.getComputedStyle(el);
    const backgrounds: string[] = [];
    for (let e: El | null = el; e !== null; e = e.parentElement)
      backgrounds.push(w.getComputedStyle(e).backgroundColor);
    const r = el.getBoundingClientRect();
    let visible = r.width > 0 && r.height > 0 && css.visibility !== 'hidden' && css.display !== 'none';
    for (let e: El | null = el; e !== null; e = e.parentElement)
      if (Number(w.getComputedStyle(e).opacity) < 0.5) visible = false;
    views.set(el, {
      text: (el.textContent ?? '').replace(/\s+/g, ' ').trim(),
      visible,
      box: { left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width, height: r.height },
      fontSize: parseFloat(css.fontSize),
      color: css.color,
      backgrounds,
    });
  }
  const vms: VmView[] = [];
  for (const section of Array.from(w.document.querySelectorAll('section.vm'))) {
    const svg = section.querySelector('svg.threads-chart');
    let chart: ChartView | null = null;
    if (svg !== null) {
      const r = svg.getBoundingClientRect();
      const css = w.getComputedStyle(svg);
      chart = {
        visible: r.width > 0 && r.height > 0 && css.visibility !== 'hidden' && css.display !== 'none',
        box: { left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width, height: r.height },
        paths: Array.from(svg.querySelectorAll('path')).map((p) => ({
          role: (typeof p.className === 'string' ? p.className : p.className.baseVal).replace(/^role-/, ''),
          d: p.getAttribute('d') ?? '',
        })),
        texts: Array.from(svg.querySelectorAll('text')).map((t) => (t.textContent ?? '').trim()),
        label: svg.getAttribute('aria-label') ?? '',
      };
    }
    const h2 = section.querySelector('h2');
    vms.push({
      id: section.id,
      heading:
        h2 === null
          ? {
              text: '',
              visible: false,
              box: { left: 0, right: 0, top: 0, bottom: 0, width: 0, height: 0 },
              fontSize: 0,
              color: '',
              backgrounds: [],
            }
          : views.get(h2)!,
      meta: (section.querySelector('.meta')?.textContent ?? '').trim(),
      chart,
      none: section.querySelector('p.none') === null ? null : views.get(section.querySelector('p.none')!)!,
      findings: Array.from(section.querySelectorAll('div.finding')).map((f) => {
        const advice = f.querySelector('.advice');
        return {
          classes: typeof f.className === 'string' ? f.className : f.className.baseVal,
          summary: views.get(f.querySelector('.summary')!)!,
          badge: views.get(f.querySelector('.severity')!)!,
          evidence: Array.from(f.querySelectorAll('ul.evidence li')).map((li) => views.get(li)!),
          advice: advice === null ? null : views.get(advice)!,
        };
      }),
    });
  }
  return { scrollWidth: w.document.documentElement.scrollWidth, innerWidth: w.innerWidth, vms };
}

// ---- Contrast (WCAG 2.x) from computed colours ----

type Rgba = [number, number, number, number];

function parseColor(css: string): Rgba {
  const m = /^rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)(?:\s*[,/]\s*([\d.]+%?))?\s*\)$/.exec(css);
  if (m === null) throw new Error(`unexpected computed colour ${css}`);
  const a = m[4] === undefined ? 1 : m[4].endsWith('%') ? parseFloat(m[4]) / 100 : Number(m[4]);
  return [Number(m[1]), Number(m[2]), Number(m[3]), a];
}

/** `top` composited over an opaque `under`. */
const over = (top: Rgba, under: Rgba): Rgba =>
  [0, 1, 2].map((i) => top[i]! * top[3] + under[i]! * (1 - top[3])).concat(1) as Rgba;

/** The opaque background behind a text: its backgrounds (innermost first) composited over the canvas' white. */
function background(backgrounds: string[]): Rgba {
  let bg: Rgba = [255, 255, 255, 1];
  for (const css of [...backgrounds].reverse()) bg = over(parseColor(css), bg);
  return bg;
}

const luminance = ([r, g, b]: Rgba): number => {
  const lin = (c: number): number => {
    const s = c / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
};

function contrast(v: TextView): number {
  const bg = background(v.backgrounds);
  const fg = over(parseColor(v.color), bg);
  const [hi, lo] = [luminance(fg), luminance(bg)].sort((a, b) => b - a) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

function assertReadable(v: TextView, what: string, page: PageView, opts: { minFontPx?: number } = {}): void {
  assert.ok(v.visible, `${what} is not visible`);
  assert.notEqual(v.text, '', `${what} is empty`);
  assert.ok(
    v.box.left >= 0 && v.box.right <= page.innerWidth,
    `${what} sticks out of the viewport: ${JSON.stringify(v.box)}`,
  );
  if (opts.minFontPx !== undefined)
    assert.ok(v.fontSize >= opts.minFontPx, `${what}: font-size ${String(v.fontSize)}px < ${String(opts.minFontPx)}px`);
  const ratio = contrast(v);
  assert.ok(
    ratio >= 4.5,
    `${what}: contrast ${ratio.toFixed(2)}:1 < 4.5:1 (${v.color} on ${v.backgrounds.join(' ⊂ ')})`,
  );
}

// ---- The test ----

async function explain(cli: Cli): Promise<ExplainReport> {
  return JSON.parse(await cli.scrape('/api/v1/explain')) as ExplainReport;
}

test('landing page in headless Chromium: charts and readable findings for every VM', { timeout: 120_000 }, async () => {
  const executablePath = requireTool('chromium');
  const cli = await startCli([...fixtureFlags, '--explain.interval=200ms']);
  const profile = mkdtempSync(join(tmpdir(), 'qte-chromium-'));
  let context: BrowserContext | undefined;
  try {
    // A few scrapes, and the exporter's own samples in between, until every VM has a history worth a chart.
    let report: ExplainReport;
    for (const deadline = Date.now() + 20_000; ;) {
      await cli.scrape();
      report = await explain(cli);
      // Past short_history (a second of samples), the fixture's findings stay the same; only their counts grow.
      if (
        report.vms.length >= 2 &&
        report.vms.every((vm) => vm.samples >= 4 && vm.findings.every((f) => f.id !== 'short_history'))
      )
        break;
      assert.ok(
        Date.now() < deadline,
        `history still short after 20 s: ${JSON.stringify(report.vms.map((vm) => [vm.domain, vm.samples]))}`,
      );
      await sleep(250);
    }
    assert.deepEqual(report.vms.map((vm) => vm.domain).sort(), ['labvm', 'vm1']);

    context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: VIEWPORT,
      timeout: 60_000,
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const errors: string[] = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
    });
    page.on('pageerror', (err) => {
      errors.push(`pageerror: ${err.message}`);
    });

    const response = await page.goto(`${cli.url}/`, { waitUntil: 'load', timeout: 30_000 });
    assert.ok(response !== null);
    assert.equal(response.status(), 200);
    const csp = (await response.allHeaders())['content-security-policy'] ?? '';
    assert.match(csp, /(^|;)\s*default-src 'none'/, `CSP: ${csp}`);
    assert.doesNotMatch(csp, /script-src/, `CSP allows scripts: ${csp}`);
    assert.equal(await page.title(), 'QEMU Thread Exporter');

    // Screenshot first, then read everything in one evaluate: both well within the page's 5 s meta refresh.
    mkdirSync(fileURLToPath(new URL('../.cache/', import.meta.url)), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    const view = await page.evaluate(readPage);

    assert.ok(
      view.scrollWidth <= view.innerWidth,
      `horizontal overflow: scrollWidth ${String(view.scrollWidth)} > ${String(view.innerWidth)}`,
    );
    assert.deepEqual(view.vms.map((vm) => vm.heading.text).sort(), ['labvm', 'vm1']);
    for (const vm of view.vms) {
      const name = vm.heading.text;
      const json = report.vms.find((r) => r.domain === name)!;
      assert.equal(vm.id, `vm-${name}`);
      assertReadable(vm.heading, `${name}: heading`, view, { minFontPx: 12 });
      assert.match(vm.meta, /\d+ samples over/, `${name}: meta line ${vm.meta}`);

      // The chart: drawn at a real size, one filled area per role, each role named in the legend.
      const chart = vm.chart;
      assert.ok(chart !== null, `${name}: no svg.threads-chart`);
      assert.ok(chart.visible, `${name}: chart not visible`);
      assert.ok(
        chart.box.width > 300 && chart.box.height > 80,
        `${name}: chart ${String(chart.box.width)}×${String(chart.box.height)}`,
      );
      assert.ok(chart.box.right <= view.innerWidth, `${name}: chart sticks out of the viewport`);
      assert.ok(chart.paths.length >= 1, `${name}: chart has no role path`);
      for (const p of chart.paths) {
        assert.match(p.d, /^M[\d.]+,[\d.]+(L[\d.]+,[\d.]+)+Z$/, `${name}: role ${p.role} has path d=${p.d}`);
        assert.ok(
          chart.texts.some((t) => t.startsWith(`${p.role} `)),
          `${name}: legend does not name ${p.role}: ${chart.texts.join(' | ')}`,
        );
      }
      assert.deepEqual(
        chart.paths.map((p) => p.role).sort(),
        Object.keys(json.threads.roles).sort(),
        `${name}: chart roles vs /api/v1/explain`,
      );
      assert.ok(
        chart.paths.some((p) => p.role === 'vcpu'),
        `${name}: no vcpu area`,
      );
      assert.match(chart.label, /^Threads by role over the last \d+ s: /);

      // Findings: the same as /api/v1/explain, each readable.
      if (json.findings.length === 0) {
        assert.ok(vm.none !== null, `${name}: no findings, and the page does not say so`);
        assert.match(vm.none.text, /^No findings/);
        assertReadable(vm.none, `${name}: "No findings"`, view, { minFontPx: 12 });
      }
      assert.equal(vm.findings.length, json.findings.length, `${name}: findings on the page vs /api/v1/explain`);
      json.findings.forEach((f, i) => {
        const shown = vm.findings[i]!;
        const what = `${name}: finding ${f.id}`;
        assert.match(shown.classes, new RegExp(`\\bfinding ${f.severity}\\b`), what);
        assert.equal(shown.badge.text.toLowerCase(), f.severity, `${what}: badge`);
        // The JSON was read a moment before the page: the sample counts in the summary may have grown since.
        const digitless = (s: string): string =>
          s
            .replace(/\s+/g, ' ')
            .trim()
            .replace(/\d+(\.\d+)?/g, '#');
        assert.equal(digitless(shown.summary.text), digitless(`${shown.badge.text}${f.summary}`), `${what}: summary`);
        assertReadable(shown.summary, `${what}: summary`, view, { minFontPx: 12 });
        assertReadable(shown.badge, `${what}: severity badge`, view);
        assert.equal(shown.evidence.length, f.evidence.length, `${what}: evidence`);
        shown.evidence.forEach((e, j) => {
          assertReadable(e, `${what}: evidence ${String(j)}`, view, { minFontPx: 12 });
        });
        if (f.advice === '') assert.equal(shown.advice, null);
        else assertReadable(shown.advice!, `${what}: advice`, view, { minFontPx: 12 });
      });
    }
    // labvm (no debug-threads, a worker in D on storage the exporter cannot see) has findings; vm1 (fixture files
    // that never change: nothing to judge) has none.
    assert.deepEqual(
      report.vms
        .find((v) => v.domain === 'labvm')!
        .findings.map((f) => f.id)
        .sort(),
      ['disk_sleep', 'roles_inferred'],
    );
    assert.deepEqual(report.vms.find((v) => v.domain === 'vm1')!.findings, []);

    const png = statSync(SCREENSHOT);
    assert.ok(png.size > 10_000, `screenshot only ${String(png.size)} bytes`);

    // The page keeps itself up to date without script: its meta refresh reloads it with more samples.
    const samples = (meta: string): number => Number(/(\d+) samples/.exec(meta)?.[1]);
    const before = Math.min(...view.vms.map((vm) => samples(vm.meta)));
    await page.waitForEvent('load', { timeout: 20_000 });
    const after = await page.evaluate(readPage);
    assert.equal(after.vms.length, 2);
    assert.ok(
      Math.min(...after.vms.map((vm) => samples(vm.meta))) > before,
      'the refreshed page shows no newer samples',
    );

    assert.deepEqual(errors, []);
  } finally {
    await context?.close();
    rmSync(profile, { recursive: true, force: true });
    await cli.terminate();
  }
});
