// The types each generated dashboard must satisfy: Grafana's own, from @grafana/schema (pinned in
// package.json). check.mjs writes one .ts file per dashboard JSON in which the dashboard, and each
// panel with its options and fieldConfig, `satisfies` these types; `tsc --noEmit` then fails on a
// missing required field, a value outside an enum, or a key the type does not have.
import type { AnnotationQuery, Dashboard, DataQuery, FieldConfigSource, Panel, RowPanel } from '@grafana/schema';
import type * as bargauge from '@grafana/schema/dist/esm/raw/composable/bargauge/panelcfg/x/BarGaugePanelCfg_types.gen';
import type * as gauge from '@grafana/schema/dist/esm/raw/composable/gauge/panelcfg/x/GaugePanelCfg_types.gen';
import type * as stat from '@grafana/schema/dist/esm/raw/composable/stat/panelcfg/x/StatPanelCfg_types.gen';
import type * as statetimeline from '@grafana/schema/dist/esm/raw/composable/statetimeline/panelcfg/x/StateTimelinePanelCfg_types.gen';
import type * as statushistory from '@grafana/schema/dist/esm/raw/composable/statushistory/panelcfg/x/StatusHistoryPanelCfg_types.gen';
import type * as table from '@grafana/schema/dist/esm/raw/composable/table/panelcfg/x/TablePanelCfg_types.gen';
import type * as text from '@grafana/schema/dist/esm/raw/composable/text/panelcfg/x/TextPanelCfg_types.gen';
import type * as timeseries from '@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen';

/** A type as it is written in JSON: a string enum becomes the union of its values. */
export type Json<T> = T extends string
  ? `${T}`
  : T extends number | boolean | null | undefined
    ? T
    : T extends ReadonlyArray<infer U>
      ? Array<Json<U>>
      : T extends object
        ? { [K in keyof T]: Json<T[K]> }
        : T;

/** @grafana/schema's Panel leaves `options` as Record<string, unknown>: bind each plugin's own. */
type PanelOf<Kind extends string, Options, Custom = Record<string, never>> = Omit<
  Panel,
  'type' | 'options' | 'fieldConfig'
> & { type: Kind; options: Options; fieldConfig: FieldConfigSource<Custom> };

export type Panels = {
  bargauge: Json<PanelOf<'bargauge', bargauge.Options>>;
  gauge: Json<PanelOf<'gauge', gauge.Options>>;
  stat: Json<PanelOf<'stat', stat.Options>>;
  'state-timeline': Json<PanelOf<'state-timeline', statetimeline.Options, statetimeline.FieldConfig>>;
  'status-history': Json<PanelOf<'status-history', statushistory.Options, statushistory.FieldConfig>>;
  table: Json<PanelOf<'table', table.Options, table.FieldConfig>>;
  text: Json<PanelOf<'text', text.Options>>;
  timeseries: Json<PanelOf<'timeseries', timeseries.Options, timeseries.FieldConfig>>;
  row: Json<RowPanel>;
};

/**
 * A Prometheus annotation: @grafana/schema types its `target` as a bare DataQuery; the Prometheus
 * data source (grafana-prometheus, annotations.ts) reads `expr` and `interval` there and the
 * title/text/tag formats beside it. Only these keys are allowed on top of the schema's.
 */
type PrometheusAnnotation = AnnotationQuery<DataQuery & { expr: string; interval?: string }> & {
  tagKeys?: string;
  textFormat?: string;
  titleFormat?: string;
  useValueForTime?: boolean;
};

export type GrafanaDashboard = Json<
  Omit<Dashboard, 'annotations'> & { annotations?: { list?: Array<AnnotationQuery | PrometheusAnnotation> } }
>;
