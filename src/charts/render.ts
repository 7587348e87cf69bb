import { createRequire } from 'node:module';
import { renderAsync } from '@resvg/resvg-js';
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

const require = createRequire(import.meta.url);

/**
 * The font is shipped with the package (DejaVu Sans from npm) instead of read from the system: resvg draws no text
 * without a font, and slim images carry none.
 */
const CHART_FONT_FAMILY = 'DejaVu Sans';
const FONT_FILES = ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf'].map((file) =>
  require.resolve(`dejavu-fonts-ttf/ttf/${file}`),
);

/** Renders a Vega-Lite spec to SVG with vega's headless renderer (no canvas, no DOM). */
export async function chartSvg(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Rasterises an SVG to PNG at `scale` (2: sharp on high-density screens), off the event loop. */
export async function svgToPng(svg: string, scale = 2): Promise<Buffer> {
  const image = await renderAsync(svg, {
    fitTo: { mode: 'zoom', value: scale },
    font: {
      loadSystemFonts: false,
      fontFiles: FONT_FILES,
      defaultFontFamily: CHART_FONT_FAMILY,
      sansSerifFamily: CHART_FONT_FAMILY,
    },
    logLevel: 'off',
  });
  return image.asPng();
}

/** Vega-Lite spec → PNG. */
export async function chartPng(spec: TopLevelSpec, scale = 2): Promise<Buffer> {
  return svgToPng(await chartSvg(spec), scale);
}
