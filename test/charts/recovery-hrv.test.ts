import { describe, expect, it } from 'vitest';
import { CHART_HEIGHT, CHART_WIDTH, recoveryHrvChart, type ChartDay } from '../../src/charts/recovery-hrv.js';
import { chartPng, chartSvg, svgToPng } from '../../src/charts/render.js';
import { darkPixels, pngSize } from '../support/png.js';

function days(count: number, lastDay: string): ChartDay[] {
  const last = Date.parse(`${lastDay}T00:00:00Z`);
  return Array.from({ length: count }, (_, i) => ({
    day: new Date(last - (count - 1 - i) * 86_400_000).toISOString().slice(0, 10),
    recoveryScore: [20, 50, 90][i % 3]!,
    hrvMs: 40 + i,
  }));
}

interface Value { day: string; recovery: number | null; zone: string | null; hrv: number | null }
const valuesOf = (spec: ReturnType<typeof recoveryHrvChart>) => (spec.data as { values: Value[] }).values;

describe('recoveryHrvChart', () => {
  it('keeps the last 28 days ending on the latest day and names the zone of each recovery', () => {
    const values = valuesOf(recoveryHrvChart(days(40, '2026-11-30')));
    expect(values).toHaveLength(28);
    expect(values[0]!.day).toBe('2026-11-03');
    expect(values.at(-1)!.day).toBe('2026-11-30');
    const zones = Object.fromEntries(values.map((value) => [value.recovery, value.zone]));
    expect(zones).toEqual({ 20: 'Red', 50: 'Yellow', 90: 'Green' });
  });

  it('uses the zone boundaries 33/34 and 66/67 and leaves an unscored day without a zone', () => {
    const rows: ChartDay[] = [33, 34, 66, 67, null].map((score, i) => ({
      day: `2026-11-2${i}`, recoveryScore: score, hrvMs: null,
    }));
    expect(valuesOf(recoveryHrvChart(rows)).map((value) => value.zone)).toEqual(['Red', 'Yellow', 'Yellow', 'Green', null]);
  });

  it('ends on an explicit day, leaving later rows out', () => {
    const values = valuesOf(recoveryHrvChart(days(40, '2026-11-30'), { endDay: '2026-11-20' }));
    expect(values.at(-1)!.day).toBe('2026-11-20');
    expect(values).toHaveLength(28);
  });

  it('is plain JSON that survives a round trip, with zone names in the legend', () => {
    const spec = recoveryHrvChart(days(28, '2026-11-30'));
    expect(JSON.parse(JSON.stringify(spec))).toEqual(spec);
    const text = JSON.stringify(spec);
    for (const label of ['Green 67–100', 'Yellow 34–66', 'Red 0–33']) expect(text).toContain(label);
  });
});

describe('chart rendering', () => {
  it('renders the spec to a PNG of the declared size at twice the resolution', async () => {
    const png = await chartPng(recoveryHrvChart(days(28, '2026-11-30')));
    expect(pngSize(png)).toEqual({ width: CHART_WIDTH * 2, height: CHART_HEIGHT * 2 });
  });

  it('renders an empty chart when there is no data yet', async () => {
    const png = await chartPng(recoveryHrvChart([], { endDay: '2026-11-30' }));
    expect(pngSize(png)).toEqual({ width: CHART_WIDTH * 2, height: CHART_HEIGHT * 2 });
  });

  it('draws the chart text with the bundled font, independent of system fonts', async () => {
    const svg = await chartSvg(recoveryHrvChart(days(28, '2026-11-30')));
    expect(svg).toContain('Recovery zone');
    const text = '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="60"><rect width="300" height="60" fill="white"/>' +
      '<text x="10" y="42" font-family="sans-serif" font-size="32">Recovery 67%</text></svg>';
    // Without a font resvg silently draws no glyphs at all.
    expect(darkPixels(await svgToPng(text, 1))).toBeGreaterThan(500);
  });
});
