/**
 * Building blocks both dashboards share: the data source, template variables, links, and panel factories that
 * give every panel a description, a unit, thresholds and its queries.
 */
import { PanelBuilder as BarGaugeBuilder } from '@grafana/grafana-foundation-sdk/bargauge';
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import {
  BarGaugeDisplayMode,
  GraphThresholdsStyleConfigBuilder,
  GraphThresholdsStyleMode,
  LegendDisplayMode,
  LegendPlacement,
  ReduceDataOptionsBuilder,
  SortOrder,
  StackingConfigBuilder,
  StackingMode,
  TooltipDisplayMode,
  VizLegendOptionsBuilder,
  VizOrientation,
  VizTooltipOptionsBuilder,
  type DataSourceRef,
} from '@grafana/grafana-foundation-sdk/common';
import {
  DashboardCursorSync,
  DashboardLinkBuilder,
  DatasourceVariableBuilder,
  MappingType,
  QueryVariableBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  VariableRefresh,
  VariableSort,
  type DashboardLink,
  type ThresholdsConfig,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StateTimelineBuilder } from '@grafana/grafana-foundation-sdk/statetimeline';
import { PanelBuilder as TimeseriesBuilder } from '@grafana/grafana-foundation-sdk/timeseries';

/* eslint-disable @typescript-eslint/no-deprecated --
   The classic dashboard JSON model, which every Grafana from 9 to 12 imports. The SDK deprecates it in favour of
   its v2 schema, which only Grafana 12's v2 dashboard API reads. */
import { DashboardBuilder, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
export type ClassicDashboard = Dashboard;
type ClassicDashboardBuilder = DashboardBuilder;
const newDashboard = (title: string): ClassicDashboardBuilder => new DashboardBuilder(title);
/* eslint-enable @typescript-eslint/no-deprecated */

export const HOST_OVERVIEW_UID = 'qemu-host-overview';
export const VM_DETAIL_UID = 'qemu-vm-detail';

/** Every panel and query reads the data source the `datasource` variable selects. */
const DATASOURCE: DataSourceRef = { type: 'prometheus', uid: '${datasource}' };

/** A new dashboard with the settings both share: tags, last hour, shared crosshair (one time axis for all panels). */
export function dashboard(uid: string, title: string, description: string): ClassicDashboardBuilder {
  return newDashboard(title)
    .uid(uid)
    .description(description)
    .tags(['qemu', 'qemu-thread-exporter'])
    .time({ from: 'now-1h', to: 'now' })
    .refresh('30s')
    .tooltip(DashboardCursorSync.Crosshair)
    .withVariable(new DatasourceVariableBuilder('datasource').label('Data source').type('prometheus'));
}

/**
 * A template variable filled by `label_values(selector, label)`. `multi`: several values or All (`.*`), for
 * queries that match with `=~`; otherwise exactly one value, for `=`.
 */
export function labelVariable(
  name: string,
  label: string,
  selector: string,
  labelName: string,
  multi: boolean,
): QueryVariableBuilder {
  const query = `label_values(${selector}, ${labelName})`;
  const v = new QueryVariableBuilder(name)
    .label(label)
    .datasource(DATASOURCE)
    .query(query)
    .definition(query)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.NaturalAsc);
  return multi ? v.multi(true).includeAll(true).allValue('.*') : v;
}

/**
 * The VM picker: the value is the domain (what every query selects on), the text the name its platform's users know
 * (`web01 · webteam (instance-0000002a)`, `prod/web01`, `100 (web01)`), from the `domain:qemu_vm_info:display`
 * recording rule; Grafana's search box finds a VM by any of them. Grafana lists a query_result() line as
 * `name{label="value",…} value time` with the labels sorted, `domain` first.
 */
export function vmVariable(selector: string, multi: boolean): QueryVariableBuilder {
  const query = `query_result(domain:qemu_vm_info:display{${selector}})`;
  const v = new QueryVariableBuilder('domain')
    .label('VM')
    .datasource(DATASOURCE)
    .query(query)
    .definition(query)
    .regex('/domain="(?<value>[^"]*)".*\\bvm="(?<text>[^"]*)"/')
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.NaturalAsc);
  return multi ? v.multi(true).includeAll(true).allValue('.*') : v;
}

/** Joins the platform's name of each VM (label `vm`) onto series that carry `domain`, for legends. */
export const withVmName = (expr: string): string =>
  `${expr}\n* on (job, instance, domain) group_left (vm) domain:qemu_vm_info:display`;

/** The SDK's default placement hides a link in the controls menu; without it, it shows in the top bar. */
function visible(link: DashboardLinkBuilder): cog.Builder<DashboardLink> {
  return {
    build: () => {
      const built = link.build();
      delete built.placement;
      return built;
    },
  };
}

/** A link to another dashboard of this set; with `includeVars` it carries the data source, host and VM along. */
export function dashboardLink(title: string, uid: string, tooltip: string): cog.Builder<DashboardLink> {
  return visible(
    new DashboardLinkBuilder(title)
      .url(`/d/${uid}`)
      .tooltip(tooltip)
      .icon('dashboard')
      .includeVars(true)
      .keepTime(true),
  );
}

/** A data link from a series of the host overview to the VM detail of its domain. */
export function vmDetailDataLink(): cog.Builder<DashboardLink> {
  const vars = [
    'datasource=${datasource}',
    'job=${__field.labels.job}',
    'instance=${__field.labels.instance}',
    'domain=${__field.labels.domain}',
  ]
    .map((v) => `var-${v}`)
    .join('&');
  return visible(
    new DashboardLinkBuilder('VM detail: ${__field.labels.domain}').url(
      `/d/${VM_DETAIL_UID}?${vars}&\${__url_time_range}`,
    ),
  );
}

export interface Query {
  expr: string;
  /** Legend format, e.g. `{{domain}}`. */
  legend: string;
}

/** Colour steps: a base colour, then `[from, colour]` pairs in increasing order. */
export type Steps = [string, ...[number, string][]];

export interface PanelSpec {
  title: string;
  description: string;
  /** A Grafana unit id: `short`, `percentunit`, `s`, `Bps`, `iops`, `cps`, … */
  unit: string;
  thresholds: Steps;
  queries: Query[];
  /** Grid width (of 24) and height. */
  width: number;
  height: number;
  min?: number;
  max?: number;
}

/** What the panel builders of every type have in common. */
interface AnyPanelBuilder<T> {
  title(title: string): T;
  description(description: string): T;
  unit(unit: string): T;
  min(min: number): T;
  max(max: number): T;
  thresholds(thresholds: cog.Builder<ThresholdsConfig>): T;
  datasource(datasource: DataSourceRef): T;
  targets(targets: cog.Builder<cog.Dataquery>[]): T;
  span(width: number): T;
  height(height: number): T;
}

function fill<T extends AnyPanelBuilder<T>>(builder: T, spec: PanelSpec, instant: boolean): T {
  const [base, ...steps] = spec.thresholds;
  builder
    .title(spec.title)
    .description(spec.description)
    .unit(spec.unit)
    .thresholds(
      new ThresholdsConfigBuilder()
        .mode(ThresholdsMode.Absolute)
        .steps([{ value: null, color: base }, ...steps.map(([value, color]) => ({ value, color }))]),
    )
    .datasource(DATASOURCE)
    .targets(
      spec.queries.map((q, i) => {
        const target = new DataqueryBuilder()
          .datasource(DATASOURCE)
          .refId(String.fromCharCode(65 + i))
          .expr(q.expr)
          .legendFormat(q.legend);
        return instant ? target.instant() : target.range();
      }),
    )
    .span(spec.width)
    .height(spec.height);
  if (spec.min !== undefined) builder.min(spec.min);
  if (spec.max !== undefined) builder.max(spec.max);
  return builder;
}

export interface TimeseriesSpec extends PanelSpec {
  /** Stack the series (parts of a whole, e.g. threads by role). */
  stack?: boolean;
  /** Draw the thresholds as dashed lines (e.g. an alert's threshold). */
  thresholdLines?: boolean;
}

export function timeseries(spec: TimeseriesSpec): TimeseriesBuilder {
  const panel = fill(new TimeseriesBuilder(), spec, false)
    .legend(
      new VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(LegendDisplayMode.List)
        .placement(LegendPlacement.Bottom),
    )
    .tooltip(new VizTooltipOptionsBuilder().mode(TooltipDisplayMode.Multi).sort(SortOrder.Descending))
    .lineWidth(1)
    .fillOpacity(spec.stack ? 40 : 10);
  if (spec.stack) panel.stacking(new StackingConfigBuilder().mode(StackingMode.Normal));
  if (spec.thresholdLines)
    panel.thresholdsStyle(new GraphThresholdsStyleConfigBuilder().mode(GraphThresholdsStyleMode.Dashed));
  return panel;
}

/** A ranking ("top 10 VMs by …"): instant queries, one bar per series, each linking to that VM's detail. */
export function topBars(spec: PanelSpec): BarGaugeBuilder {
  return fill(new BarGaugeBuilder(), spec, true)
    .orientation(VizOrientation.Horizontal)
    .displayMode(BarGaugeDisplayMode.Gradient)
    .showUnfilled(true)
    .reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .dataLinks([vmDetailDataLink()]);
}

/** Up/down and ok/failing over time: 1 is green, 0 red. */
export function okTimeline(spec: PanelSpec): StateTimelineBuilder {
  return fill(new StateTimelineBuilder(), spec, false)
    .legend(
      new VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(LegendDisplayMode.List)
        .placement(LegendPlacement.Bottom),
    )
    .mappings([
      {
        type: MappingType.ValueToText,
        options: { '0': { text: 'failing', color: 'red' }, '1': { text: 'ok', color: 'green' } },
      },
    ]);
}

/** The built dashboard, with a unique id on every panel (Grafana needs them for links to a panel and for edits). */
export function finish(builder: ClassicDashboardBuilder): ClassicDashboard {
  const result = builder.build();
  let id = 0;
  for (const panel of result.panels ?? []) {
    panel.id = ++id;
    if (panel.type === 'row' && 'panels' in panel) for (const inner of panel.panels) inner.id = ++id;
  }
  return result;
}
