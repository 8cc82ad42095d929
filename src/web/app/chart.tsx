// A live line chart of one sensor (uPlot: ~20 KB, canvas, fast on a Pi). Redrawn at most every REDRAW_MS and only
// while on screen; colours come from the theme's CSS variables, so the chart is rebuilt when the theme changes.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import type { Series } from './series.ts';

const REDRAW_MS = 1000;
const HEIGHT = 120;
const MIN_SPAN_S = 60;

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

export function Chart({ series, theme }: { series: Series; theme: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const grid = { stroke: cssVar('--grid'), width: 1 };
    const axis = { stroke: cssVar('--muted'), grid, ticks: grid, font: '11px system-ui, sans-serif', size: 28 };
    const plot = new uPlot(
      {
        width: Math.floor(el.clientWidth) || 300,
        height: HEIGHT,
        legend: { show: false },
        cursor: { show: true, drag: { x: false, y: false } },
        // At least the last minute on the time axis: a fresh chart fills from the right instead of stretching seconds.
        scales: { x: { time: true, range: (_u, min, max) => [Math.min(min, max - MIN_SPAN_S), max] } },
        padding: [8, 8, 0, 0],
        // The y axis as wide as its longest label (about 7 px a character at 11 px), so "-0.75" is never cut.
        axes: [{ ...axis }, { ...axis, size: (_u, values) => 12 + 7 * Math.max(3, ...(values ?? []).map((v) => v.length)) }],
        series: [{}, { stroke: cssVar('--accent'), width: 1.5, fill: cssVar('--accent-fill'), points: { show: false } }],
      },
      [series.t, series.v],
      el,
    );
    let visible = true;
    const seen = new IntersectionObserver(([e]) => {
      visible = e?.isIntersecting ?? true;
    });
    seen.observe(el);
    // Only a real change of the card's width resizes the chart (a resize that fed back would loop every frame).
    let width = Math.floor(el.clientWidth);
    const resize = new ResizeObserver(([e]) => {
      const w = Math.floor(e?.contentRect.width ?? width);
      if (w === width || w === 0) return;
      width = w;
      plot.setSize({ width, height: HEIGHT });
    });
    resize.observe(el);
    let drawn = -1;
    const timer = setInterval(() => {
      const last = series.t[series.t.length - 1] ?? 0;
      if (!visible || document.visibilityState !== 'visible' || last === drawn) return;
      drawn = last;
      plot.setData([series.t, series.v]);
    }, REDRAW_MS);
    return () => {
      clearInterval(timer);
      seen.disconnect();
      resize.disconnect();
      plot.destroy();
    };
  }, [series, theme]);
  return <div class="chart" ref={box} />;
}
